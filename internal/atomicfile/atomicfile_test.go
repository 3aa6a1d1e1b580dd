package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("keep"), 0o644)
	dst := filepath.Join(dir, "OVMF.fd")
	if err := os.Symlink(victim, dst); err != nil {
		t.Fatal(err)
	}
	if err := WriteBytes(dst, 0o640, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("written through the symlink: victim holds %q", b)
	}
	st, err := os.Lstat(dst)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o640 {
		t.Errorf("dst = %v (%v), want a regular file with mode 0640", st, err)
	}
	// A write that fails half way leaves the old file and no temporary.
	err = Write(dst, 0o644, func(w io.Writer) error {
		w.Write([]byte("half"))
		return errors.New("disk full")
	})
	if err == nil {
		t.Fatal("a failed write succeeded")
	}
	if b, _ := os.ReadFile(dst); string(b) != "new" {
		t.Errorf("after a failed write dst holds %q, want the old %q", b, "new")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries after a failed write, want 1", len(ents))
	}
}

// TestWriteRefusesNonFiles: a pipe, a directory, or a symlink to a device
// (as /dev/stdout is) is left in place, not swapped for a regular file.
func TestWriteRefusesNonFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	toDevice := filepath.Join(dir, "null")
	if err := os.Symlink("/dev/null", toDevice); err != nil {
		t.Fatal(err)
	}
	for _, dst := range []string{fifo, sub, toDevice} {
		before, _ := os.Lstat(dst)
		err := WriteBytes(dst, 0o644, []byte("x"))
		if !errors.Is(err, ErrWrite) {
			t.Errorf("WriteBytes(%s) = %v, want an ErrWrite", dst, err)
		}
		if after, _ := os.Lstat(dst); after == nil || after.Mode() != before.Mode() {
			t.Errorf("%s was replaced: %v, was %v", dst, after, before)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*")); len(left) > 0 {
		t.Errorf("temporary files left: %q", left)
	}
}
