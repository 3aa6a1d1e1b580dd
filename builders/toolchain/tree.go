package toolchain

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
)

// TreeDigest returns "sha256:" and the hex sha256 of a description of the
// file tree at dir: one line per entry, in lexical order of the path
// relative to dir, with its path, raw mode (type and permission bits),
// owner and group, and for a regular file its size and content sha256, for
// a symlink its target. Times are left out. Two trees with the same digest
// hold the same names, types, modes, owners and bytes.
func TreeDigest(dir string) (string, error) {
	type entry struct {
		rel  string
		st   syscall.Stat_t
		link string
		sum  [sha256.Size]byte
	}
	var entries []*entry
	var files []*entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		e := &entry{rel: rel}
		if err := syscall.Lstat(p, &e.st); err != nil {
			return &fs.PathError{Op: "lstat", Path: p, Err: err}
		}
		switch e.st.Mode & syscall.S_IFMT {
		case syscall.S_IFLNK:
			if e.link, err = os.Readlink(p); err != nil {
				return err
			}
		case syscall.S_IFREG:
			files = append(files, e)
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return "", err
	}
	// Hash the files on every core: this is most of the time.
	work := make(chan *entry)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for e := range work {
				if err := hashFile(filepath.Join(dir, e.rel), &e.sum); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for _, e := range files {
		work <- e
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return "", err
	default:
	}
	h := sha256.New()
	for _, e := range entries {
		fmt.Fprintf(h, "%q %o %d %d", e.rel, e.st.Mode, e.st.Uid, e.st.Gid)
		switch e.st.Mode & syscall.S_IFMT {
		case syscall.S_IFREG:
			fmt.Fprintf(h, " %d %x", e.st.Size, e.sum)
		case syscall.S_IFLNK:
			fmt.Fprintf(h, " %q", e.link)
		}
		h.Write([]byte{'\n'})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(p string, sum *[sha256.Size]byte) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	h.Sum(sum[:0])
	return nil
}
