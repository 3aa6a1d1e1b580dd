// Package run is how the builders start external processes: a Cmd value
// that says exactly what runs (program, arguments, environment, directory),
// and a Runner that runs it. The real Runner is Exec; tests use
// runtest.Fake, which records each Cmd instead of running it.
//
// It does not decide what runs or where: see the sandbox, toolchain and
// firmware packages.
package run

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
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
	// that names the command and its exit status.
	Run(ctx context.Context, c *Cmd) error
}

// maxErrCmd bounds the command line quoted in an error; logs carry it whole.
const maxErrCmd = 160

// Exec is the Runner that starts real processes with os/exec.
type Exec struct{}

// Run implements Runner.
func (Exec) Run(ctx context.Context, c *Cmd) error {
	if len(c.Args) == 0 {
		return fmt.Errorf("run: empty command")
	}
	cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	cmd.Env = c.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Dir = c.Dir
	cmd.Stdin = c.Stdin
	cmd.Stdout = c.Stdout
	cmd.Stderr = c.Stderr
	if err := cmd.Run(); err != nil {
		s := c.String()
		if len(s) > maxErrCmd {
			s = s[:maxErrCmd] + "..."
		}
		return fmt.Errorf("running %s: %w", s, err)
	}
	return nil
}
