package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/measure-cc/measure/internal/atomicfile"
)

// maxOutput bounds one output file.
const maxOutput = 16 << 30

// ErrUnsafeOutput reports an output that is not a regular file reached
// without a symlink inside the work tree.
var ErrUnsafeOutput = errors.New("not a regular file inside the work tree")

// CopyOut copies the output at rel inside the work tree to dst, written
// whole or not at all, and returns it with its sha256. It opens rel with
// openat2 from the work tree with RESOLVE_IN_ROOT and RESOLVE_NO_SYMLINKS, so
// a step that made any component a symlink (to /root/secret, to another
// build) gets an error, never a copy; anything but a regular file (a FIFO
// that would block, a device, a directory) is refused too.
func CopyOut(work, rel, dst string) (File, error) {
	rootFD, err := unix.Open(work, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return File{}, &os.PathError{Op: "open", Path: work, Err: err}
	}
	defer unix.Close(rootFD)
	fd, err := unix.Openat2(rootFD, rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_NOCTTY,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV) {
			return File{}, fmt.Errorf("%q: %w (a symlink or mount on its path)", rel, ErrUnsafeOutput)
		}
		return File{}, fmt.Errorf("%q: %w", rel, err)
	}
	in := os.NewFile(uintptr(fd), filepath.Join(work, rel))
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return File{}, err
	}
	if !st.Mode().IsRegular() {
		return File{}, fmt.Errorf("%q: %w (%s)", rel, ErrUnsafeOutput, st.Mode().Type())
	}
	if st.Size() > maxOutput {
		return File{}, fmt.Errorf("%q: %d bytes, more than %d", rel, st.Size(), maxOutput)
	}
	h := sha256.New()
	var n int64
	err = atomicfile.Write(dst, 0o644, func(w io.Writer) error {
		var err error
		n, err = io.Copy(io.MultiWriter(w, h), io.LimitReader(in, maxOutput))
		return err
	})
	if err != nil {
		return File{}, err
	}
	return File{Path: dst, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}
