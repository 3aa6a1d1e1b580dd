package web

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestDirFS: DirFS opens regular files and directories of its directory,
// and nothing that is a symbolic link or reached through one, wherever it
// points.
func TestDirFS(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	write := func(path, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, name string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "index.html"), "page")
	write(filepath.Join(dir, "sub", "app.js"), "script")
	write(filepath.Join(outside, "secret.html"), "secret")
	link(filepath.Join(outside, "secret.html"), "out.html")
	link(filepath.Join(dir, "index.html"), "in.html")
	link("index.html", "relative.html")
	link(outside, "outdir")
	link(filepath.Join(dir, "sub"), "indir")
	site, err := DirFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"index.html": "page", "sub/app.js": "script"} {
		if b, err := fs.ReadFile(site, name); err != nil || string(b) != want {
			t.Errorf("ReadFile(%q) = %q, %v; want %q", name, b, err, want)
		}
	}
	for _, name := range []string{"out.html", "in.html", "relative.html", "outdir/secret.html", "indir/app.js", "outdir", "indir"} {
		if b, err := fs.ReadFile(site, name); !errors.Is(err, ErrLink) {
			t.Errorf("ReadFile(%q) = %q, %v; want ErrLink", name, b, err)
		}
	}
	for _, name := range []string{"../" + filepath.Base(outside) + "/secret.html", "/etc/passwd", "absent.html"} {
		if _, err := fs.ReadFile(site, name); err == nil {
			t.Errorf("ReadFile(%q) succeeded", name)
		}
	}
}
