package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrUnsafePath reports a directory that measure, running as root, would
// write into although another user could redirect it.
var ErrUnsafePath = errors.New("another user can change it")

// CheckRootOwned returns an error when measure runs as root and dir, or any
// directory on the way to it (symlinks followed, each checked where it
// lies), belongs to another user or is writable by group or others without
// the sticky bit: such a user could swap a directory for a symlink between
// measure's check and its write, and make root write or delete elsewhere
// (an output directory turned into /etc/cron.d), or hand root a cache of
// their making. For other users it checks nothing: they write as
// themselves.
func CheckRootOwned(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	cur := "/"
	if err := rootOwned(cur); err != nil {
		return fmt.Errorf("%q: %w", abs, err)
	}
	rest := strings.Split(abs, "/")
	for hops := 0; len(rest) > 0; {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, name)
		fi, err := os.Lstat(next)
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			// The link lies in a directory only root changes: follow it.
			if hops++; hops > 40 {
				return fmt.Errorf("%q: too many symlinks", abs)
			}
			target, err := os.Readlink(next)
			if err != nil {
				return err
			}
			if filepath.IsAbs(target) {
				cur = "/"
			}
			rest = append(strings.Split(target, "/"), rest...)
			continue
		}
		if !fi.IsDir() {
			return fmt.Errorf("%q: %q is not a directory", abs, next)
		}
		if err := rootOwned(next); err != nil {
			return fmt.Errorf("%q: %w", abs, err)
		}
		cur = next
	}
	return nil
}

// rootOwned checks that only root can change the entries of directory p.
func rootOwned(p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	m := fi.Mode()
	if st.Uid != 0 {
		return fmt.Errorf("%w: %q belongs to uid %d", ErrUnsafePath, p, st.Uid)
	}
	if m.Perm()&0o022 != 0 && m&os.ModeSticky == 0 {
		return fmt.Errorf("%w: %q is writable by its group or others (mode %04o)", ErrUnsafePath, p, m.Perm())
	}
	return nil
}
