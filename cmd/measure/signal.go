package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// signalError is a command ended by SIGINT or SIGTERM; it exits 128 plus
// the signal's number, as a shell reports a process the signal killed.
type signalError struct {
	sig syscall.Signal
	err error
}

func (e *signalError) Error() string {
	return fmt.Sprintf("interrupted by %s: %v", signalName(e.sig), e.err)
}

func (e *signalError) Unwrap() error { return e.err }

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// withSignals returns a context that SIGINT or SIGTERM cancels, with the
// signal as its cause. After the first signal the default action is back,
// so a second one ends measure at once (its children die with it: every
// process measure starts has a parent-death signal).
func withSignals(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			signal.Stop(ch)
			cancel(&signalError{sig: s.(syscall.Signal)})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// interrupted returns err as a signalError when a signal cancelled ctx.
func interrupted(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var se *signalError
	if errors.As(context.Cause(ctx), &se) {
		return &signalError{sig: se.sig, err: err}
	}
	return err
}
