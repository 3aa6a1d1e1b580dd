// Package enginetest provides fakes of the build engine's outside world
// (downloads, toolchains) and helpers to play a step from a fake runner, so
// that builders test the jobs they make without running anything.
package enginetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/measure-cc/measure/builders/sandbox"
	"github.com/measure-cc/measure/builders/toolchain"
)

// Fetch serves fixed bodies by URL and counts requests.
type Fetch struct {
	Bodies map[string][]byte

	mu   sync.Mutex
	gets int
}

// Get implements engine.Fetcher.
func (f *Fetch) Get(url string) (*http.Response, error) {
	f.mu.Lock()
	f.gets++
	f.mu.Unlock()
	b, ok := f.Bodies[url]
	if !ok {
		return &http.Response{StatusCode: 404, Status: "404 Not Found", Body: io.NopCloser(bytes.NewReader(nil))}, nil
	}
	return &http.Response{StatusCode: 200, Status: "200 OK", Body: io.NopCloser(bytes.NewReader(b))}, nil
}

// Gets returns how many downloads were asked for.
func (f *Fetch) Gets() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gets
}

// Toolchains hands out TC, with the Spec asked for.
type Toolchains struct{ TC *toolchain.Toolchain }

// Ensure implements engine.Toolchains.
func (f *Toolchains) Ensure(_ context.Context, s toolchain.Spec) (*toolchain.Toolchain, error) {
	tc := *f.TC
	tc.Spec = s
	return &tc, nil
}

// Root returns a toolchain root with a few top-level directories and a
// symlink, enough for the sandbox to lay its command line.
func Root(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"usr/bin", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("usr/bin", filepath.Join(root, "bin")); err != nil {
		t.Fatal(err)
	}
	return root
}

// WorkTree returns the host work tree a sandbox command binds at
// sandbox.WorkMount, or "".
func WorkTree(args []string) string {
	for i := 0; i+2 < len(args); i++ {
		if args[i] == "--bind" && args[i+2] == sandbox.WorkMount {
			return args[i+1]
		}
	}
	return ""
}

// Script returns the bash script a sandbox command runs, or "".
func Script(args []string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-c" && i > 0 && args[i-1] == "pipefail" {
			return args[i+1]
		}
	}
	return ""
}

// Write plays a step that writes data at inside (a path under
// sandbox.WorkMount) in the work tree of the sandbox command args.
func Write(args []string, inside string, data []byte) error {
	rel, _ := sandbox.WorkRel(inside)
	p := filepath.Join(WorkTree(args), rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}

// Processes returns the pids of the host's processes whose command line
// holds token.
func Processes(token string) []string {
	var pids []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(token)) && e.Name() != fmt.Sprint(os.Getpid()) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// CacheDir returns a cache directory for a test, on a path that the sandbox
// user may pass (t.TempDir's directories are 0700; /var/cache is not).
func CacheDir(t testing.TB) string {
	t.Helper()
	return filepath.Join(Passable(t, t.TempDir()), "cache")
}

// Passable opens dir and its parent to the sandbox user (mode 0711) and
// returns dir.
func Passable(t testing.TB, dir string) string {
	t.Helper()
	for _, p := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(p, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
