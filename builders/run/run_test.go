package run

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain-1.0/x=y", "plain-1.0/x=y"},
		{"", "''"},
		{"a b", "'a b'"},
		{`L"x\0"`, `'L"x\0"'`},
		{"it's", `'it'\''s'`},
	}
	for _, tc := range tests {
		if got := Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestExec(t *testing.T) {
	var out bytes.Buffer
	// The environment is exactly Env: nothing of the caller's leaks in.
	t.Setenv("MEASURE_LEAK", "1")
	c := &Cmd{Args: []string{"/usr/bin/env"}, Env: []string{"A=b"}, Stdout: &out}
	if err := (Exec{}).Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "A=b\n" {
		t.Errorf("env output = %q, want %q", got, "A=b\n")
	}
	err := (Exec{}).Run(context.Background(), &Cmd{Args: []string{"/bin/sh", "-c", "exit 3"}})
	if err == nil || !strings.Contains(err.Error(), "running /bin/sh -c 'exit 3': exit status 3") {
		t.Errorf("Run(exit 3) error = %v, want the command and its status", err)
	}
	if err := (Exec{}).Run(context.Background(), &Cmd{}); err == nil {
		t.Errorf("Run(empty) succeeded")
	}
}

// TestExecCancelEndsTree: cancelling the context ends the process and what it
// started, even a child that ignores SIGTERM.
func TestExecCancelEndsTree(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- (Exec{}).Run(ctx, &Cmd{Args: []string{"/bin/sh", "-c",
			`sh -c 'trap "" TERM; sleep 100' & echo $! > "$1"; wait`, "sh", pidFile}})
	}()
	var pid int
	for i := 0; i < 100 && pid == 0; i++ {
		time.Sleep(20 * time.Millisecond)
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if pid == 0 {
		t.Fatal("the child did not start")
	}
	t0 := time.Now()
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel = %v, want context.Canceled", err)
	}
	for syscall.Kill(pid, 0) == nil {
		if time.Since(t0) > 5*time.Second {
			t.Fatalf("grandchild %d still runs 5 s after cancel", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
