// Package atomicfile writes files whole or not at all: into a temporary
// file in the destination's directory, synced, then renamed over the
// destination. A symlink at the destination is replaced, never followed;
// an interrupted or failed write (a full disk, a signal) leaves the old
// file, or none, and no partial one; file and directory are synced.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ErrWrite marks every error of Write: the file could not be written. It
// lets a caller tell a failed output from an input that cannot be read,
// though both carry an *fs.PathError.
var ErrWrite = errors.New("cannot write the file")

type writeError struct {
	dst string
	err error
}

func (e writeError) Error() string { return "writing " + e.dst + ": " + e.err.Error() }

func (e writeError) Unwrap() []error { return []error{ErrWrite, e.err} }

// Write writes the file at dst through write, with mode perm exactly
// (whatever the umask).
func Write(dst string, perm os.FileMode, write func(io.Writer) error) (err error) {
	defer func() {
		if err != nil {
			err = writeError{dst, err}
		}
	}()
	// Only a file is replaced: a device, a pipe or a directory at dst (or
	// a symlink to one, such as /dev/stdout) would be swapped for a
	// regular file, which as root can remove a device node.
	if st, err := os.Stat(dst); err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (%v): not replacing it", dst, st.Mode().Type())
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return err
	}
	// The rename itself survives a crash only once the directory is synced.
	d, err := os.Open(filepath.Dir(dst))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// WriteBytes writes data to dst with Write.
func WriteBytes(dst string, perm os.FileMode, data []byte) error {
	return Write(dst, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
