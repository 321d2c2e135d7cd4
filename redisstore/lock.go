package redisstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/watchhub"
)

// unlockPayload is published on a key's channel when its lease is released. Changes publish the
// new version, a number, so the two never mix up.
const unlockPayload = "unlock"

// acquireScript takes the lease KEYS[1] for owner ARGV[1] for ARGV[2] ms if it is free. It returns
// -3 when taken, otherwise the remaining ms of the current lease (-1: no expiry).
var acquireScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
	return -3
end
return redis.call('PTTL', KEYS[1])
`)

// renewScript extends the lease only while ARGV[1] still owns it.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// releaseScript deletes the lease only while ARGV[1] still owns it, and tells the waiters.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('DEL', KEYS[1])
	redis.call('PUBLISH', ARGV[2], ARGV[3])
	return 1
end
return 0
`)

const acquired = -3

// Lock implements shoptoken.Locker. The lease is a Redis key holding a random owner id, set with
// SET NX PX ttl. While it is held a goroutine extends it every ttl/3, but only while this owner
// still holds it; if the process dies or stalls, the lease lapses after ttl and another process
// may take it. A lease is therefore advice, not a guarantee: writes must still go through Save's
// version check, which rejects a holder that stalled past its lease (fencing by version).
//
// While the lease is taken, Lock waits for the holder's unlock message on the key's channel, and
// also retries when the lease would lapse, or every poll interval, until ctx ends (returning ctx's
// error). An error from Redis ends the wait at once, wrapped.
//
// unlock stops the renewal and deletes the lease only if this owner still holds it (a lease taken
// over by another holder is left alone), then wakes the waiters. It may be called more than once.
// If Redis cannot be reached then, the lease lapses after ttl.
func (s *Store) Lock(ctx context.Context, key string, ttl time.Duration) (func(), error) {
	if ttl < time.Millisecond {
		return nil, fmt.Errorf("redisstore: lock %q: ttl %v is shorter than a millisecond", key, ttl)
	}
	owner := rand.Text() // 128 random bits
	lk := s.leaseKey(key)
	ms := ttl.Milliseconds()
	var m *watchhub.Member // set while this Lock waits for the unlock message
	defer func() {
		if m != nil {
			s.hub.leave(key, m)
		}
	}()
	for {
		left, err := acquireScript.Run(ctx, s.rdb, []string{lk}, owner, ms).Int64()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("redisstore: lock %q: %w", key, err)
		}
		if left == acquired {
			return s.hold(key, owner, ttl), nil
		}
		if m == nil && !s.hub.Closed() {
			// Listen for the unlock before trying again, so it cannot slip between the two.
			w := watchhub.NewWait()
			if ready, ok := s.hub.join(key, w); ok {
				m = w
				s.hub.awaitReady(ctx, ready)
				continue
			}
		}
		var wake chan struct{}
		if m != nil {
			wake = m.C
		}
		wait := s.cfg.poll
		if left > 0 {
			wait = min(wait, time.Duration(left)*time.Millisecond+time.Millisecond)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// tryLockLoadScript takes the lease KEYS[1] for owner ARGV[1] for ARGV[2] ms if it is free, and
// reads the token hash KEYS[2] either way: {taken, foreign, v, tok}, taken 1 when the lease is now
// ARGV[1]'s, foreign 1 when KEYS[2] is a key of another Redis type (read as damage, as Load's
// WRONGTYPE), v and tok as Load's HMGET returns them (false: absent). Both keys carry the same
// hash tag, so they share a Cluster slot. The type is checked first because a failed HMGET would
// abort the script after the SET, holding a lease its caller never learns of.
var tryLockLoadScript = redis.NewScript(`
local taken = 0
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
	taken = 1
end
local kind = redis.call('TYPE', KEYS[2])['ok']
if kind ~= 'hash' and kind ~= 'none' then
	return {taken, 1, false, false}
end
local cur = redis.call('HMGET', KEYS[2], 'v', 'tok')
return {taken, 0, cur[1], cur[2]}
`)

// TryLockLoad implements shoptoken.LeaseLoader in one round trip: one Lua script sets the lease
// with SET NX PX ttl if it is free and reads the token hash as Load does, so the LeaseLoad holds
// what Load would have returned (ErrNotFound, or ErrCorrupt with the version that replaces the
// damage). It never waits for a lease another holder has: Unlock is then nil. A lease it takes
// is renewed and released exactly as Lock's.
//
// An error means the round trip failed (ctx ended, Redis unreachable) and no lease was handed
// out; if the script ran nonetheless, the lease it took lapses after ttl.
func (s *Store) TryLockLoad(ctx context.Context, key string, ttl time.Duration) (shoptoken.LeaseLoad, error) {
	if err := ctx.Err(); err != nil {
		return shoptoken.LeaseLoad{}, fmt.Errorf("redisstore: try lock %q: %w", key, err)
	}
	if ttl < time.Millisecond {
		return shoptoken.LeaseLoad{}, fmt.Errorf("redisstore: try lock %q: ttl %v is shorter than a millisecond", key, ttl)
	}
	owner := rand.Text()
	res, err := tryLockLoadScript.Run(ctx, s.rdb, []string{s.leaseKey(key), s.tokKey(key)}, owner, ttl.Milliseconds()).Slice()
	if err != nil {
		return shoptoken.LeaseLoad{}, fmt.Errorf("redisstore: try lock %q: %w", key, err)
	}
	var taken, foreign int64
	ok := len(res) == 4
	if ok {
		taken, ok = res[0].(int64)
	}
	if ok {
		foreign, ok = res[1].(int64)
	}
	if !ok {
		return shoptoken.LeaseLoad{}, fmt.Errorf("redisstore: try lock %q: unexpected script reply", key)
	}
	var ll shoptoken.LeaseLoad
	if taken == 1 {
		ll.Unlock = s.hold(key, owner, ttl)
	}
	if foreign == 1 {
		ll.LoadErr = corrupt(key, "the key holds another Redis type")
	} else {
		ll.Token, ll.Version, ll.LoadErr = s.decode(key, res[2:4])
	}
	return ll, nil
}

// hold starts renewing a lease just taken and returns its unlock.
func (s *Store) hold(key, owner string, ttl time.Duration) func() {
	lk := s.leaseKey(key)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if s.cfg.noRenew {
			return
		}
		s.renew(lk, owner, ttl, stop)
	}()
	return sync.OnceFunc(func() {
		close(stop)
		<-done
		ctx, cancel := context.WithTimeout(context.Background(), max(ttl, time.Second))
		defer cancel()
		_ = releaseScript.Run(ctx, s.rdb, []string{lk}, owner, s.channel(key), unlockPayload).Err()
	})
}

// renew extends the lease every ttl/3 until stop, or until it finds the lease is no longer its
// owner's. A failed attempt is retried at the next tick; the lease lapses if they all fail.
func (s *Store) renew(lk, owner string, ttl time.Duration, stop <-chan struct{}) {
	every := max(ttl/3, time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	ms := ttl.Milliseconds()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(every, 50*time.Millisecond))
		n, err := renewScript.Run(ctx, s.rdb, []string{lk}, owner, ms).Int64()
		cancel()
		if err == nil && n == 0 {
			return // lost: lapsed and possibly taken by another holder
		}
		if errors.Is(err, redis.ErrClosed) {
			return
		}
	}
}
