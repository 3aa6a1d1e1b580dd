package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Exit codes, documented in README.md. Keep the two in step.
const (
	exitOK    = 0
	exitError = 1 // the input is wrong or the measurement cannot be computed
	exitUsage = 2 // the command line is wrong
)

// usageError marks an error in the command line itself: flags, arguments,
// their combination.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// exitCode prints err as one line on stderr and maps it to an exit code.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintf(stderr, "measure: %s\n", msg)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return exitUsage
	}
	return exitError
}

// isCobraUsage recognises the errors cobra returns for unknown commands and
// wrong argument counts, which do not pass through the flag error hook.
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "required flag", "if any flags in the group", "none of the others can be"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}
