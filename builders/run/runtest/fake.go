// Package runtest provides a fake run.Runner that records the commands a
// builder would run, so tests can assert the exact command lines and
// environments without running anything.
package runtest

import (
	"context"
	"sync"
	"syscall"

	"github.com/measure-cc/measure/builders/run"
)

// Call is one recorded command.
type Call struct {
	Args []string
	Env  []string
	Dir  string
	// Attr is the process attributes the command asked for.
	Attr *syscall.SysProcAttr
}

// Fake is a run.Runner that records each command and calls Hook, if set, to
// play the command's part (write its output files, write to its stdout,
// fail). It is safe for concurrent use.
type Fake struct {
	// Hook, when not nil, is called for every command; its error is
	// returned by Run.
	Hook func(c *run.Cmd) error

	mu    sync.Mutex
	calls []Call
}

// Run implements run.Runner.
func (f *Fake) Run(_ context.Context, c *run.Cmd) error {
	f.mu.Lock()
	f.calls = append(f.calls, Call{
		Args: append([]string(nil), c.Args...),
		Env:  append([]string(nil), c.Env...),
		Dir:  c.Dir,
		Attr: c.Attr,
	})
	f.mu.Unlock()
	if f.Hook != nil {
		return f.Hook(c)
	}
	return nil
}

// Calls returns the commands run so far, in order.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}
