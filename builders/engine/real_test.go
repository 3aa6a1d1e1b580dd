package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/measure-cc/measure/builders/engine/enginetest"
	"github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/builders/sandbox"
	"github.com/measure-cc/measure/builders/toolchain"
)

// TestInterruptRealSandbox runs a real step under bubblewrap, with the
// host's own directories as a stand-in toolchain root (read-only), that
// leaves a child ignoring SIGTERM; cancelling the build (what SIGINT or
// SIGTERM to measure does) must end every process of the step within 5 s
// and remove the work tree.
func TestInterruptRealSandbox(t *testing.T) {
	if err := sandbox.Preflight(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must be able to run the sandbox: %v", err)
		}
		t.Skipf("no sandbox on this host: %v", err)
	}
	token := fmt.Sprint(time.Now().UnixNano() % 1e9)
	j := testJob()
	j.Inputs, j.Stage = nil, nil
	j.Steps = []Step{{Name: "hang", Script: fmt.Sprintf(`(trap "" TERM; exec sleep 1000.%s) & sleep 1001.%s & echo started; wait`, token, token)}}
	var progress bytes.Buffer
	// The cache's parents are t.TempDir's (0700): open them to the sandbox
	// user as /var/cache is.
	dir := t.TempDir()
	for _, p := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(p, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	e := &Engine{
		CacheDir:   filepath.Join(dir, "cache"),
		Runner:     run.Exec{},
		Toolchains: &enginetest.Toolchains{TC: &toolchain.Toolchain{Digest: "sha256:00", Root: "/"}},
		Progress:   &Progress{W: &progress},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := e.Build(ctx, j, Options{OutDir: t.TempDir(), WorkName: "hang"})
		errc <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for len(enginetest.Processes(token)) < 2 {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("the step's processes did not start: %v\n%s", <-errc, progress.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t0 := time.Now()
	cancel()
	var err error
	select {
	case err = <-errc:
	// The bound is generous: the grace period is 3 s, and CI runs every
	// package's tests at once on two cores (a 10 s bound failed once so).
	case <-time.After(30 * time.Second):
		t.Fatal("Build did not return 30 s after cancel")
	}
	if !errors.Is(err, ErrInterrupted) {
		t.Errorf("Build() = %v, want ErrInterrupted", err)
	}
	for left := enginetest.Processes(token); len(left) > 0; left = enginetest.Processes(token) {
		if time.Since(t0) > 5*time.Second {
			t.Fatalf("processes %v of the step still run 5 s after cancel", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("every process of the step gone %s after cancel", time.Since(t0).Round(time.Millisecond))
	if _, err := os.Stat(filepath.Join(e.CacheDir, "work/hang")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("work tree left after an interrupt: %v", err)
	}
}
