// Package run is how the builders start external processes: a Cmd value
// that says exactly what runs (program, arguments, environment, directory,
// process attributes), and a Runner that runs it. The real Runner is Exec;
// tests use runtest.Fake, which records each Cmd instead of running it.
//
// It does not decide what runs or where: see the sandbox, toolchain and
// engine packages.
package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

// Cmd is one external process.
type Cmd struct {
	// Args is the program and its arguments; Args[0] is looked up in PATH.
	Args []string
	// Env is the whole environment; nil means an empty environment, never the
	// caller's, so that a build does not depend on who starts it.
	Env []string
	// Dir is the working directory; empty means the caller's.
	Dir string
	// Stdin, Stdout and Stderr are connected to the process when not nil.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Attr, when not nil, says how the process is started (credentials,
	// namespaces, session). Exec always adds a parent-death signal
	// (SIGKILL) and, unless Attr asks for a new session, a new process
	// group, so that cancelling the context ends the whole process tree.
	Attr *syscall.SysProcAttr
}

// String returns the command line, quoted for a POSIX shell, for logs and
// error messages.
func (c *Cmd) String() string {
	q := make([]string, len(c.Args))
	for i, a := range c.Args {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// Quote quotes s for a POSIX shell when it needs it.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Runner runs external processes.
type Runner interface {
	// Run runs c to completion. A process that exits non-zero is an error
	// that names the command and its exit status. When ctx is done, the
	// process and everything it started are ended and ctx's error is
	// returned (wrapped).
	Run(ctx context.Context, c *Cmd) error
}

// maxErrCmd bounds the command line quoted in an error; logs carry it whole.
const maxErrCmd = 160

// GracePeriod is how long Exec waits after SIGTERM to a cancelled
// command's process group before it sends SIGKILL.
const GracePeriod = 3 * time.Second

// Exec is the Runner that starts real processes with os/exec.
type Exec struct{}

// Run implements Runner.
func (Exec) Run(ctx context.Context, c *Cmd) error {
	if len(c.Args) == 0 {
		return fmt.Errorf("run: empty command")
	}
	cmd := exec.Command(c.Args[0], c.Args[1:]...)
	cmd.Env = c.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Dir = c.Dir
	cmd.Stdin = c.Stdin
	cmd.Stdout = c.Stdout
	cmd.Stderr = c.Stderr
	attr := &syscall.SysProcAttr{}
	if c.Attr != nil {
		a := *c.Attr
		attr = &a
	}
	// The child dies with us, even when we are killed with SIGKILL.
	attr.Pdeathsig = syscall.SIGKILL
	if !attr.Setsid {
		attr.Setpgid = true
	}
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("running %s: %w", c.short(), err)
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		// The process leads its own group (or session): end the group.
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(GracePeriod):
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}()
	err := cmd.Wait()
	close(done)
	<-stopped
	if ctx.Err() != nil {
		return fmt.Errorf("running %s: %w", c.short(), ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("running %s: %w", c.short(), err)
	}
	return nil
}

func (c *Cmd) short() string {
	s := c.String()
	if len(s) > maxErrCmd {
		s = s[:maxErrCmd] + "..."
	}
	return s
}

// IsExit reports whether err is a process that ran and exited non-zero.
func IsExit(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee)
}

// Printable returns s with every control character but tab (C0, DEL, C1)
// and every byte that is not UTF-8 replaced by '?', so that a line a build
// step wrote can be shown on a terminal without the step driving it:
// escape sequences that move the cursor and rewrite earlier lines (a forged
// "reproducible"), set the clipboard, or make the terminal answer into its
// input.
func Printable(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && n <= 1:
			b.WriteByte('?')
		case r == '\t':
			b.WriteByte('\t')
		case unicode.IsControl(r):
			b.WriteByte('?')
		default:
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}
