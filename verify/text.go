package verify

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// escapeText returns s fit for one line of a terminal: each control
// character, byte that is not UTF-8, and rune that does not print (line
// and paragraph separators, bidirectional overrides and other format
// characters) escaped as strconv.Quote escapes it (\n, \x1b, \u202e);
// everything else as is. Text that comes from an input (an event log, a
// reference value read back from an export) passes through it before it
// is shown, so that it cannot start a line of its own or move the cursor.
func escapeText(s string) string {
	clean := utf8.ValidString(s)
	for _, r := range s {
		if !showable(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case showable(r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// showable reports whether r prints as itself: a graphic rune or the
// ASCII space.
func showable(r rune) bool {
	return r == ' ' || unicode.IsPrint(r)
}
