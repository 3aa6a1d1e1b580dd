package engine

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/measure-cc/measure/builders/run"
)

// tailLines is how many log lines a failed step shows on stderr.
const tailLines = 20

// LogWriter writes a build log, serialising writes and remembering the last
// lines for progress reports and errors. The log file gets the bytes as
// written; the lines it remembers (which reach the terminal) are
// run.Printable.
type LogWriter struct {
	mu   sync.Mutex
	w    io.Writer
	cur  []byte
	tail []string
}

// NewLogWriter returns a LogWriter writing to w.
func NewLogWriter(w io.Writer) *LogWriter { return &LogWriter{w: w} }

// Name returns the log file's name, or "" when it writes elsewhere.
func (l *LogWriter) Name() string {
	if f, ok := l.w.(*os.File); ok {
		return f.Name()
	}
	return ""
}

func (l *LogWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range p {
		if c == '\n' || c == '\r' {
			if len(bytes.TrimSpace(l.cur)) > 0 {
				if len(l.tail) == tailLines {
					l.tail = append(l.tail[:0], l.tail[1:]...)
				}
				l.tail = append(l.tail, run.Printable(string(l.cur)))
			}
			l.cur = l.cur[:0]
		} else if len(l.cur) < 300 {
			l.cur = append(l.cur, c)
		}
	}
	return l.w.Write(p)
}

// LastLine returns the last complete line written, trimmed and Printable.
func (l *LogWriter) LastLine() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.tail) == 0 {
		return ""
	}
	return strings.TrimSpace(l.tail[len(l.tail)-1])
}

// Tail returns the last (up to 20) complete lines, Printable.
func (l *LogWriter) Tail() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.tail...)
}
