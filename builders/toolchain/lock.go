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
