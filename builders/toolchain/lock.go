package toolchain

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockPoll is how often a waiting Ensure tries the cache lock again.
const lockPoll = 200 * time.Millisecond

// lock takes the exclusive flock on Dir/toolchain.lock, waiting until ctx
// is done, and returns the function that releases it.
func (c *Cache) lock(ctx context.Context) (func(), error) {
	f, err := os.OpenFile(filepath.Join(c.Dir, "toolchain.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	waited := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %q: %w", f.Name(), err)
		}
		if !waited {
			c.progressf("waiting for the toolchain cache lock")
			waited = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
	// Closing the file releases the lock.
	return func() { f.Close() }, nil
}

// writeFileAtomic writes b to p through a temporary file in the same
// directory, synced and renamed over p, so that p is either absent, the old
// content or all of b.
func writeFileAtomic(p string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-"+filepath.Base(p)+"-*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	return syncDir(filepath.Dir(p))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
