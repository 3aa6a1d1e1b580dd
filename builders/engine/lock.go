package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// keepSuffix marks a work tree kept on purpose (--keep-work): the next
// build leaves it alone.
const keepSuffix = ".keep"

// lock takes the cache's build lock, waiting (and saying so) while another
// build holds it, and then removes work trees that interrupted builds left.
func (e *Engine) lock(ctx context.Context) (unlock func(), err error) {
	if err := e.cacheDir(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(e.CacheDir, "build.lock"), os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("build lock: %w", err)
	}
	if err := Flock(ctx, f, func() { e.Progress.Linef("waiting for another build using %s", e.CacheDir) }); err != nil {
		f.Close()
		return nil, err
	}
	e.sweep()
	return func() { f.Close() }, nil
}

// Flock takes an exclusive flock on f, polling while ctx allows; waiting is
// called once if it must wait.
func Flock(ctx context.Context, f *os.File, waiting func()) error {
	for i := 0; ; i++ {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		if i == 0 && waiting != nil {
			waiting()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for lock %s: %w", f.Name(), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// sweep removes the work trees of builds that were killed before they could
// remove their own; it runs under the lock, so no build is using them.
func (e *Engine) sweep() {
	dir := filepath.Join(e.CacheDir, "work")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	keep := map[string]bool{}
	for _, en := range ents {
		if n, ok := strings.CutSuffix(en.Name(), keepSuffix); ok {
			keep[n] = true
		}
	}
	for _, en := range ents {
		if !en.IsDir() || keep[en.Name()] {
			continue
		}
		p := filepath.Join(dir, en.Name())
		e.Progress.Linef("removing %s, left by an interrupted build", p)
		os.RemoveAll(p)
	}
}

// cacheDir makes the cache directory, or checks that an existing one is a
// cache (empty, or holding build.lock): measure changes the owner and mode
// of its cache, which must never be /etc or a home directory given by
// mistake. As root, only root may be able to change the way to it.
func (e *Engine) cacheDir() error {
	ents, err := os.ReadDir(e.CacheDir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := mkdirPrivate(e.CacheDir); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("cache: %w", err)
	case len(ents) > 0:
		if _, err := os.Lstat(filepath.Join(e.CacheDir, "build.lock")); err != nil {
			return fmt.Errorf("cache %q: a directory that is neither empty nor a measure cache (no build.lock)", e.CacheDir)
		}
	}
	if err := CheckRootOwned(e.CacheDir); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}
