package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
)

func TestStore_Lock_fencing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	a := e.store(withoutRenewal()) // holder A stalls: its lease is never renewed
	b := e.store(pubSubOnly())     // B can only be woken by the lapse of A's lease
	const ttl = 300 * time.Millisecond

	_, prev, err := a.Load(ctx, "k")
	require.ErrorIs(t, err, shoptoken.ErrNotFound)
	unlockA, err := a.Lock(ctx, "k", ttl)
	require.NoError(t, err)
	tokA, _, _ := a.Load(ctx, "k")
	assert.Nil(t, tokA)

	// B waits for A's lease to lapse, then refreshes.
	start := time.Now()
	unlockB, err := b.Lock(ctx, "k", 5*time.Second) // long: B must not lapse during the test
	require.NoError(t, err)
	waited := time.Since(start)
	assert.GreaterOrEqual(t, waited, ttl-20*time.Millisecond, "B took a live lease")
	assert.Less(t, waited, ttl+deliveredBy, "B noticed the lapse late")
	_, vb, err := b.Load(ctx, "k")
	require.ErrorIs(t, err, shoptoken.ErrNotFound)
	vb, err = b.Save(ctx, "k", &shoptoken.Token{AccessToken: "from-b"}, vb)
	require.NoError(t, err)

	// A wakes up and writes with the version it read: fenced off.
	_, err = a.Save(ctx, "k", &shoptoken.Token{AccessToken: "from-a"}, prev)
	require.ErrorIs(t, err, shoptoken.ErrConflict)
	// A's unlock must leave B's lease alone.
	unlockA()
	unlockA()
	owner, err := e.admin.Get(ctx, b.leaseKey("k")).Result()
	require.NoError(t, err, "B's lease is still there")
	assert.NotEmpty(t, owner)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = a.Lock(short, "k", ttl)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	tok, v, err := a.Load(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "from-b", tok.AccessToken)
	assert.Equal(t, vb, v)
	unlockB()
	n, err := e.admin.Exists(ctx, b.leaseKey("k")).Result()
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestStore_Lock_renewal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	a, b := e.store(), e.store(pubSubOnly())
	// Renewed every ttl/3 = 500 ms: a renewal that a loaded machine delays by less than a second
	// still keeps the lease.
	const ttl = 1500 * time.Millisecond

	unlockK, err := a.Lock(ctx, "k", ttl)
	require.NoError(t, err)
	held, cancel := context.WithTimeout(ctx, 3*ttl)
	defer cancel()
	_, err = b.Lock(held, "k", ttl)
	require.ErrorIs(t, err, context.DeadlineExceeded, "a live holder's lease was taken")
	unlockK()

	// The unlock wakes a waiter through pub/sub: not at its next poll (an hour) nor when the
	// lease would lapse (ten seconds).
	const ttlLong = 10 * time.Second
	unlock, err := a.Lock(ctx, "k2", ttlLong)
	require.NoError(t, err)
	got := make(chan time.Time, 1)
	go func() {
		unlockB, err := b.Lock(ctx, "k2", ttlLong)
		got <- time.Now()
		if err != nil {
			t.Error(err)
		} else {
			unlockB()
		}
	}()
	time.Sleep(100 * time.Millisecond)
	unlocked := time.Now()
	unlock()
	unlock()
	lag := (<-got).Sub(unlocked)
	t.Logf("waiter took the lease %v after the unlock", lag)
	assert.Less(t, lag, deliveredBy)
}

func TestStore_Lock_ctx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	s := e.store(WithPollInterval(20 * time.Millisecond))

	_, err := s.Lock(ctx, "k", 0)
	require.Error(t, err)

	unlock, err := s.Lock(ctx, "k", time.Minute)
	require.NoError(t, err)
	defer unlock()
	cancelled, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	start := time.Now()
	_, err = s.Lock(cancelled, "k", time.Minute)
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), time.Second)

	// A waiter without pub/sub polls, and still gets the lease once it is free.
	p := e.store(withoutPubSub(), WithPollInterval(20*time.Millisecond))
	got := make(chan error, 1)
	go func() {
		unlock, err := p.Lock(ctx, "k", time.Second)
		if err == nil {
			unlock()
		}
		got <- err
	}()
	time.Sleep(30 * time.Millisecond)
	unlock()
	select {
	case err := <-got:
		require.NoError(t, err)
	case <-time.After(deliveredBy):
		t.Fatal("polling waiter never got the lease")
	}
}

// TestStore_TryLockLoad_ttl: a ttl Redis cannot hold (under a millisecond) is refused before any
// lease is taken.
func TestStore_TryLockLoad_ttl(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	s := e.store()
	for _, ttl := range []time.Duration{0, -time.Second, time.Millisecond - 1} {
		ll, err := s.TryLockLoad(ctx, "k", ttl)
		require.Error(t, err, "ttl %v", ttl)
		assert.Nil(t, ll.Unlock)
		assert.Contains(t, err.Error(), `redisstore: try lock "k"`)
	}
	n, err := e.admin.Exists(ctx, s.leaseKey("k")).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "no lease was taken")
}
