package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckRootOwned: as root, an output or cache path through a directory
// another user can change is refused, however reached.
func TestCheckRootOwned(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("checks only when measure runs as root")
	}
	const nobody = 65534
	base := t.TempDir()
	userDir := filepath.Join(base, "home-of-nobody")
	os.Mkdir(userDir, 0o755)
	os.Chown(userDir, nobody, nobody)
	os.Mkdir(filepath.Join(userDir, "out"), 0o755) // root's, inside the user's
	sticky := filepath.Join(base, "tmp")
	os.Mkdir(sticky, 0o777|os.ModeSticky)
	os.Chmod(sticky, 0o777|os.ModeSticky)
	os.Mkdir(filepath.Join(sticky, "out"), 0o755)
	writable := filepath.Join(base, "shared")
	os.Mkdir(writable, 0o777)
	os.Chmod(writable, 0o777)
	os.Mkdir(filepath.Join(writable, "out"), 0o755)
	safe := filepath.Join(base, "safe")
	os.Mkdir(safe, 0o755)
	// A symlink in a root-owned directory pointing into the user's.
	os.Symlink(filepath.Join(userDir, "out"), filepath.Join(safe, "link"))
	// A symlink the user planted, pointing at a root-owned directory.
	os.Symlink(safe, filepath.Join(userDir, "planted"))
	os.Lchown(filepath.Join(userDir, "planted"), nobody, nobody)

	tests := []struct {
		dir     string
		wantErr string
	}{
		{safe, ""},
		{filepath.Join(sticky, "out"), ""},
		{filepath.Join(userDir, "out"), "belongs to uid 65534"},
		{filepath.Join(writable, "out"), "writable by its group or others"},
		{filepath.Join(safe, "link"), "belongs to uid 65534"},
		{filepath.Join(userDir, "planted"), "belongs to uid 65534"},
		{filepath.Join(safe, "..", "home-of-nobody", "out"), "belongs to uid 65534"},
	}
	for _, tc := range tests {
		err := CheckRootOwned(tc.dir)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("CheckRootOwned(%s) = %v", tc.dir, err)
			}
			continue
		}
		if !errors.Is(err, ErrUnsafePath) || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("CheckRootOwned(%s) = %v, want %q", tc.dir, err, tc.wantErr)
		}
	}

	// A build refuses such an output directory before anything runs.
	e, runner, _, _ := testEngine(t, writeOutput([]byte("fw")))
	if _, err := e.Build(context.Background(), testJob(), Options{OutDir: filepath.Join(userDir, "out")}); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("Build(out in another user's directory) = %v, want ErrUnsafePath", err)
	}
	if n := len(runner.Calls()); n != 0 {
		t.Errorf("ran %d steps", n)
	}
}

// TestCacheMustBeACache: a --cache that names a directory with other things
// in it (/etc by mistake) is refused, not chmodded.
func TestCacheMustBeACache(t *testing.T) {
	e, _, _, _ := testEngine(t, writeOutput([]byte("fw")))
	os.MkdirAll(e.CacheDir, 0o755)
	os.WriteFile(filepath.Join(e.CacheDir, "passwd"), []byte("root:x:0:0"), 0o644)
	_, err := e.Build(context.Background(), testJob(), Options{OutDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "neither empty nor a measure cache") {
		t.Errorf("Build(cache = a full directory) = %v", err)
	}
	if st, _ := os.Stat(e.CacheDir); st.Mode().Perm() != 0o755 {
		t.Errorf("the directory's mode changed to %v", st.Mode().Perm())
	}
}
