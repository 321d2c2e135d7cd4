package filestore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/shoptoken/shoptoken"
)

// Pauses between attempts to take the write lock: it is held only while one file is written.
const (
	writeWaitMin = 50 * time.Microsecond
	writeWaitMax = 10 * time.Millisecond
	leaseWaitMin = time.Millisecond
)

// lockWrite takes the exclusive flock that serialises Save and Delete of key. It lives on
// "<name>.lock", not on the data file, because the data file is replaced by rename.
func (s *Store) lockWrite(ctx context.Context, key string) (func(), error) {
	f, err := acquire(ctx, s.path(key, ".lock"), writeWaitMin, writeWaitMax)
	if err != nil {
		return nil, fmt.Errorf("filestore: lock %q for writing: %w", key, err)
	}
	return func() { release(f) }, nil
}

// Lock implements shoptoken.Locker with an exclusive flock on "<name>.lease", attempted without
// blocking and retried (after 1ms, doubling up to the poll interval, with jitter) until it is
// free or ctx ends, in which case it returns ctx.Err(). Leases exclude every other holder on the
// host: other processes and other goroutines of this one alike, since each Lock opens the file
// anew and flock locks belong to open files.
//
// ttl is not used. The kernel drops the lease the moment the holding process exits or crashes,
// so nothing needs renewing; but a holder that hangs without exiting keeps it. unlock may be
// called more than once and from any goroutine; only the first call releases. A lease whose
// unlock is dropped without being called ends when the garbage collector closes its file.
func (s *Store) Lock(ctx context.Context, key string, ttl time.Duration) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := acquire(ctx, s.path(key, ".lease"), leaseWaitMin, max(s.poll, leaseWaitMin))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("filestore: lease %q: %w", key, err)
	}
	var once sync.Once
	return func() { once.Do(func() { release(f) }) }, nil
}

// TryLockLoad implements shoptoken.LeaseLoader without waiting: one non-blocking flock of the
// key's lease file, then a read of its data file, as Load does. When another holder (a process,
// or another Lock or TryLockLoad of this one) has the lease, Unlock is nil and the token is read
// all the same. A lease taken is Lock's: released by Unlock or the end of the process; ttl is not
// used. An error means neither could be done (ctx ended, the directory is unreadable) and no
// lease is held.
func (s *Store) TryLockLoad(ctx context.Context, key string, ttl time.Duration) (shoptoken.LeaseLoad, error) {
	if err := ctx.Err(); err != nil {
		return shoptoken.LeaseLoad{}, err
	}
	f, err := os.OpenFile(s.path(key, ".lease"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return shoptoken.LeaseLoad{}, fmt.Errorf("filestore: lease %q: %w", key, err)
	}
	taken, err := tryLock(f)
	if err != nil {
		_ = f.Close()
		return shoptoken.LeaseLoad{}, fmt.Errorf("filestore: lease %q: %w", key, err)
	}
	var unlock func()
	if taken {
		var once sync.Once
		unlock = func() { once.Do(func() { release(f) }) }
	} else {
		_ = f.Close()
	}
	tok, v, err := s.Load(ctx, key)
	if err != nil && !errors.Is(err, shoptoken.ErrNotFound) && !errors.Is(err, shoptoken.ErrCorrupt) {
		if unlock != nil {
			unlock()
		}
		return shoptoken.LeaseLoad{}, err
	}
	return shoptoken.LeaseLoad{Token: tok, Version: v, LoadErr: err, Unlock: unlock}, nil
}

// acquire opens (creating with mode 0600) the lock file at path and takes an exclusive flock on
// it. Lock files are never removed: removing one while another process waits on it would let two
// holders lock two different files.
func acquire(ctx context.Context, path string, minWait, maxWait time.Duration) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	wait := minWait
	var timer *time.Timer
	for {
		ok, err := tryLock(f)
		if err != nil {
			_ = f.Close()
			return nil, err
		}
		if ok {
			if timer != nil {
				timer.Stop()
			}
			return f, nil
		}
		// Jitter keeps processes that started waiting together from retrying in step.
		d := wait/2 + rand.N(wait/2+1)
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			_ = f.Close()
			return nil, ctx.Err()
		case <-timer.C:
		}
		wait = min(2*wait, maxWait)
	}
}

// release drops the flock and closes the file. Closing alone would drop it too; unlocking first
// makes the intent plain.
func release(f *os.File) {
	_ = unlockFile(f)
	_ = f.Close()
}

// Watch implements shoptoken.Watcher by polling the key's data file every poll interval (see
// WithPollInterval). Every Save and Delete replaces the file, so the channel receives when the
// file's identity, size or modification time changes. Polling ends when stop is called or ctx
// ends; the channel is never closed.
func (s *Store) Watch(ctx context.Context, key string) (<-chan struct{}, func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	path := s.path(key, ".json")
	last := statOrNil(path)
	ch := make(chan struct{}, 1)
	done := make(chan struct{})
	var once sync.Once
	stop := func() { once.Do(func() { close(done) }) }
	go func() {
		t := time.NewTicker(s.poll)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			cur := statOrNil(path)
			if changed(last, cur) {
				last = cur
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		}
	}()
	return ch, stop, nil
}

func statOrNil(path string) os.FileInfo {
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	return fi
}

func changed(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return (a == nil) != (b == nil)
	}
	return !os.SameFile(a, b) || !a.ModTime().Equal(b.ModTime()) || a.Size() != b.Size()
}
