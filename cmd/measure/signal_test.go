//go:build !measure_front

package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSignalCancels: SIGTERM (and SIGINT) cancel the command's context, and
// the error exits 128 plus the signal's number with one line naming it.
func TestSignalCancels(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		ctx, stop := withSignals(context.Background())
		if err := syscall.Kill(syscall.Getpid(), sig); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("%v did not cancel the context", sig)
		}
		err := interrupted(ctx, errors.New("build firmware x interrupted in step build (work tree removed; context canceled)"))
		stop()
		var out strings.Builder
		if code := exitCode(err, &out); code != 128+int(sig) {
			t.Errorf("exit code after %v = %d, want %d", sig, code, 128+int(sig))
		}
		if got := out.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "interrupted by "+signalName(sig)) {
			t.Errorf("stderr after %v = %q, want one line naming it", sig, got)
		}
	}
	// Without a signal an error keeps its own exit code.
	ctx, stop := withSignals(context.Background())
	defer stop()
	if code := exitCode(interrupted(ctx, errors.New("x")), io.Discard); code != exitError {
		t.Errorf("exit code without a signal = %d, want %d", code, exitError)
	}
}
