package toolchain

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Bounds on what Unpack extracts. A Debian build root is about 600 MB in
// some 30,000 entries; the bounds are far above that and far below what
// would fill a disk by surprise.
const (
	// MaxUnpackBytes bounds the sum of the sizes of the regular files.
	MaxUnpackBytes = 16 << 30
	// MaxUnpackEntries bounds the number of entries.
	MaxUnpackEntries = 1 << 21
)

// Unpack extracts the tar stream r into dir, an existing directory that
// should be empty. It never follows a symlink while extracting and refuses,
// with an error naming the entry:
//   - entries other than directories, regular files, symlinks and hard links
//     (device nodes, fifos, sparse files of either GNU form, ...);
//   - names that are absolute or contain a ".." component;
//   - entries whose parent is not a directory extracted here (a symlink, a
//     file);
//   - hard links whose target is not a regular file extracted before;
//   - an entry that would replace a directory with something else;
//   - sizes beyond MaxUnpackBytes, counts beyond MaxUnpackEntries, a
//     stream shorter than its headers say.
//
// Symlink targets are stored as they are, absolute or not: they are only
// resolved inside the sandbox, never here. Setuid and setgid bits are
// cleared (the sandbox mounts the root nosuid as well). Modes and mtimes
// are kept (not a symlink's mtime: setting it would need lutimes); owners
// are set from the headers only when running as root. Extended attributes
// are not restored.
func Unpack(r io.Reader, dir string) error {
	u, err := newUnpacker(dir)
	if err != nil {
		return err
	}
	defer u.root.Close()
	if err := u.add(r); err != nil {
		return err
	}
	return u.finish()
}

// unpacker extracts one or more tar streams into one directory.
type unpacker struct {
	root    *os.Root
	asRoot  bool
	entries int
	bytes   int64
	// dirs holds every directory made here, in creation order, with the
	// mode and mtime to set once everything below it is written. A
	// directory is never replaced, so a name in dirIdx is a real directory.
	dirs   []pendingDir
	dirIdx map[string]int
	// regular holds the regular files extracted, the only hard link targets.
	regular map[string]bool
}

type pendingDir struct {
	name     string
	mode     os.FileMode
	uid, gid int
	mtime    time.Time
}

func newUnpacker(dir string) (*unpacker, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &unpacker{
		root:    root,
		asRoot:  os.Geteuid() == 0,
		dirs:    []pendingDir{{name: ".", mode: 0o755}},
		dirIdx:  map[string]int{".": 0},
		regular: map[string]bool{},
	}, nil
}

// entryName checks a header name and returns it cleaned, "." for the top.
func entryName(n string) (string, error) {
	if strings.IndexByte(n, 0) >= 0 {
		return "", errors.New("name holds a NUL byte")
	}
	if strings.HasPrefix(n, "/") {
		return "", errors.New("absolute name")
	}
	for _, c := range strings.Split(n, "/") {
		if c == ".." {
			return "", errors.New(`name has a ".." component`)
		}
	}
	return path.Clean(n), nil
}

// fileMode converts a tar mode to the os.FileMode to set: permission bits
// and the sticky bit; setuid and setgid are dropped.
func fileMode(m int64) os.FileMode {
	mode := os.FileMode(m & 0o777)
	if m&0o1000 != 0 {
		mode |= os.ModeSticky
	}
	return mode
}

func (u *unpacker) add(r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tar entry %d: %w", u.entries+1, err)
		}
		u.entries++
		if u.entries > MaxUnpackEntries {
			return fmt.Errorf("tar entry %q: more than %d entries", hdr.Name, MaxUnpackEntries)
		}
		if err := u.entry(tr, hdr); err != nil {
			return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
		}
	}
}

func (u *unpacker) entry(tr *tar.Reader, hdr *tar.Header) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil // PAX global defaults: tar.Reader applies what matters
	case tar.TypeReg, tar.TypeRegA, tar.TypeDir, tar.TypeSymlink, tar.TypeLink:
	default:
		return fmt.Errorf("type %q is not a directory, regular file, symlink or hard link", hdr.Typeflag)
	}
	name, err := entryName(hdr.Name)
	if err != nil {
		return err
	}
	// A PAX sparse file (GNU.sparse.* records on a regular file) reads as
	// its declared size of zeros: gigabytes from a few bytes.
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return errors.New("sparse files are not supported")
		}
	}
	if strings.HasPrefix(path.Base(name), ".wh.") {
		return errors.New("OCI whiteouts are not supported")
	}
	if name == "." {
		if hdr.Typeflag != tar.TypeDir {
			return errors.New("the top directory is not a directory")
		}
		u.dirs[0] = pendingDir{name: ".", mode: fileMode(hdr.Mode), uid: hdr.Uid, gid: hdr.Gid, mtime: hdr.ModTime}
		return nil
	}
	if err := u.parent(path.Dir(name)); err != nil {
		return err
	}
	// What is already there: a directory stays one; anything else is
	// replaced.
	if fi, err := u.root.Lstat(name); err == nil {
		if fi.IsDir() {
			if hdr.Typeflag != tar.TypeDir {
				return errors.New("replaces a directory")
			}
		} else {
			if err := u.root.Remove(name); err != nil {
				return err
			}
			delete(u.regular, name)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}

	switch hdr.Typeflag {
	case tar.TypeDir:
		d := pendingDir{name: name, mode: fileMode(hdr.Mode), uid: hdr.Uid, gid: hdr.Gid, mtime: hdr.ModTime}
		if i, ok := u.dirIdx[name]; ok {
			u.dirs[i] = d
			return nil
		}
		// Owner-writable until finish, so that entries below can be made.
		if err := u.root.Mkdir(name, 0o700); err != nil {
			return err
		}
		u.dirIdx[name] = len(u.dirs)
		u.dirs = append(u.dirs, d)
	case tar.TypeReg, tar.TypeRegA:
		if hdr.Size < 0 || hdr.Size > MaxUnpackBytes-u.bytes {
			return fmt.Errorf("size %d: more than %d bytes in all", hdr.Size, int64(MaxUnpackBytes))
		}
		u.bytes += hdr.Size
		f, err := u.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		n, err := io.Copy(f, tr)
		if err == nil && n != hdr.Size {
			err = fmt.Errorf("%d bytes, header says %d", n, hdr.Size)
		}
		if err == nil && u.asRoot {
			err = f.Chown(hdr.Uid, hdr.Gid)
		}
		if err == nil {
			// After the chown, which clears setuid bits anyway.
			err = f.Chmod(fileMode(hdr.Mode))
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if err := u.root.Chtimes(name, hdr.ModTime, hdr.ModTime); err != nil {
			return err
		}
		u.regular[name] = true
	case tar.TypeSymlink:
		if hdr.Linkname == "" || strings.IndexByte(hdr.Linkname, 0) >= 0 {
			return fmt.Errorf("symlink target %q", hdr.Linkname)
		}
		if err := u.root.Symlink(hdr.Linkname, name); err != nil {
			return err
		}
		if u.asRoot {
			if err := u.root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
				return err
			}
		}
	case tar.TypeLink:
		target, err := entryName(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("hard link target %q: %w", hdr.Linkname, err)
		}
		if !u.regular[target] {
			return fmt.Errorf("hard link target %q is not a regular file extracted before", hdr.Linkname)
		}
		if err := u.root.Link(target, name); err != nil {
			return err
		}
		u.regular[name] = true
	}
	return nil
}

// parent checks that dir is a directory made here, making missing ones
// (mode 0755) the way tar does; it refuses a path through anything else.
func (u *unpacker) parent(dir string) error {
	if _, ok := u.dirIdx[dir]; ok {
		return nil
	}
	if err := u.parent(path.Dir(dir)); err != nil {
		return err
	}
	fi, err := u.root.Lstat(dir)
	switch {
	case err == nil && fi.IsDir():
		// Not made here: only the top of a directory not unpacked by us.
		return fmt.Errorf("parent %q was not extracted here", dir)
	case err == nil:
		return fmt.Errorf("parent %q is a %s, not a directory", dir, fileType(fi.Mode()))
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if err := u.root.Mkdir(dir, 0o700); err != nil {
		return err
	}
	u.dirIdx[dir] = len(u.dirs)
	u.dirs = append(u.dirs, pendingDir{name: dir, mode: 0o755, uid: os.Geteuid(), gid: os.Getegid()})
	return nil
}

func fileType(m os.FileMode) string {
	switch {
	case m&os.ModeSymlink != 0:
		return "symlink"
	case m.IsRegular():
		return "regular file"
	default:
		return m.Type().String()
	}
}

// finish sets the directories' owners, modes and mtimes, deepest first, so
// that a read-only directory is made read-only after its contents.
func (u *unpacker) finish() error {
	for i := len(u.dirs) - 1; i >= 0; i-- {
		d := u.dirs[i]
		if u.asRoot {
			if err := u.root.Lchown(d.name, d.uid, d.gid); err != nil {
				return fmt.Errorf("directory %q: %w", d.name, err)
			}
		}
		if err := u.root.Chmod(d.name, d.mode); err != nil {
			return fmt.Errorf("directory %q: %w", d.name, err)
		}
		if err := u.root.Chtimes(d.name, d.mtime, d.mtime); err != nil {
			return fmt.Errorf("directory %q: %w", d.name, err)
		}
	}
	return nil
}

// removeAll removes path like os.RemoveAll, first making directories
// writable when that alone fails (a non-root user cannot empty a 0555
// directory it owns).
func removeAll(p string) error {
	err := os.RemoveAll(p)
	if err == nil {
		return nil
	}
	_ = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(q, 0o700)
		}
		return nil
	})
	return os.RemoveAll(p)
}
