//go:build unix

package fleetproof

import (
	"context"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
)

// Fencing is the proof that a lease holder that stalls past its lease is fenced off by the
// store's version.
//
// The store holds an expired token T0 at version 1. Child process A (RunStall) starts a Cache
// with a 1 s lease; its refresh takes the lease and, inside the refresher, A is frozen with
// SIGSTOP (a GC pause, a frozen VM: its lease renewal stops with it). The lease lapses, by the
// server's clock; holder B (a Cache in this process) refreshes and saves B's token as version 2.
// Then A is resumed (SIGCONT) and its refresher returns A's late token.
//
// Asserted: A held the lease when it froze, and it lapsed while A was frozen; B made exactly one
// platform call and saved version 2; every Save A made carried the version it read (1), none
// succeeded, and at least one failed with shoptoken.ErrConflict; A ends up holding B's token; the
// store still holds B's token at version 2.
//
// Because the engine keeps the lease longer than the refresh timeout, a holder stalled past its
// lease has also outlived its refresh's context. A store that sends A's Save nonetheless (as
// go-redis does without Options.ContextTimeoutEnabled) meets ErrConflict at once. One that fails
// it on the context makes A serve its late token from memory for one backoff (persist's
// documented fallback) while the background save retry meets ErrConflict: the assertions hold
// either way.
type Fencing struct {
	// Key is the key both holders refresh.
	Key shoptoken.Key
	// Store returns a Store on the shared data with a connection of its own, as process i would
	// have it: 0 for the parent's checks, 1 for holder B.
	Store func(t *testing.T, i int) Shared
	// LeaseHeld reports whether Key's lease is held, by the server's clock.
	LeaseHeld func(t *testing.T) bool
	// StartStall starts child A: the test binary, whose TestHelperProcess calls RunStall with a
	// Store of its own on the shared data, with env (the Board's) added to its environment.
	StartStall func(t *testing.T, env string) *testkit.Child
}

// Run runs the proof.
func (f Fencing) Run(t *testing.T) {
	ctx := context.Background()
	store := f.Store(t, 0)
	_, err := store.Save(ctx, f.Key.String(), &shoptoken.Token{AccessToken: "T0", Expiry: time.Now().Add(-time.Minute)}, 0)
	require.NoError(t, err)

	board := NewBoard(t)
	a := f.StartStall(t, board.Env())
	pid := a.Pid()
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	alive := func() {
		if a.Exited() {
			t.Fatalf("A exited (%v):\n%s", a.Err(), a.Output())
		}
	}
	testkit.WaitFor(t, 20*time.Second, "A to be inside its refresh", func() (bool, string) {
		alive()
		return board.Get("refreshing") == "1", "A's refresher has not started"
	})
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	frozen := time.Now()
	require.True(t, f.LeaseHeld(t), "A holds the lease when it freezes")
	testkit.WaitFor(t, 5*StallLease, "A's lease to lapse", func() (bool, string) {
		return !f.LeaseHeld(t), "the lease is still held"
	})
	lapsed := time.Since(frozen)

	var calls int
	var mu sync.Mutex
	b, err := shoptoken.NewCache(shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return &shoptoken.Token{AccessToken: "B-token", Expiry: time.Now().Add(time.Hour)}, nil
	}), shoptoken.WithKey(f.Key), shoptoken.WithStore(f.Store(t, 1)),
		shoptoken.WithRefreshTimeout(StallLease/2), shoptoken.WithLeaseTTL(StallLease),
		shoptoken.WithEarlyRefresh(0), shoptoken.WithMinInterval(0))
	require.NoError(t, err)
	t.Cleanup(b.Close)
	bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	tok, err := b.Token(bctx)
	require.NoError(t, err)
	assert.Equal(t, "B-token", tok.AccessToken)
	stored, v, err := store.Load(ctx, f.Key.String())
	require.NoError(t, err)
	require.Equal(t, "B-token", stored.AccessToken)
	require.EqualValues(t, 2, v)

	board.Set("resume", "1")
	require.NoError(t, syscall.Kill(pid, syscall.SIGCONT))
	resumed := time.Now()
	testkit.WaitFor(t, 10*time.Second, "A to adopt B's token", func() (bool, string) {
		alive()
		return board.Get("current") == "B-token", "A holds " + board.Get("current")
	})
	adopted := time.Since(resumed)
	board.Stop(t, 20*time.Second, a)

	saves := board.List("saves")
	t.Logf("A frozen at %v, its lease lapsed %v later; A resumed, first answer %q, adopted B's token %v later; A's saves: %q; A's events: %s",
		frozen.Format("15:04:05.000"), lapsed.Round(time.Millisecond), board.Get("first"), adopted.Round(time.Millisecond),
		saves, board.Get("events"))
	require.NotEmpty(t, saves, "A tried to save its late token")
	conflicts := 0
	for _, s := range saves {
		assert.True(t, strings.HasPrefix(s, "A-late prev=1 "), "A saves with the version it read: %s", s)
		assert.NotContains(t, s, "ok v=", "no Save of A's late token may succeed")
		if strings.HasSuffix(s, "conflict") {
			conflicts++
		}
	}
	assert.Positive(t, conflicts, "A's late Save was rejected with ErrConflict")
	assert.Equal(t, 1, calls, "B called the platform once")
	stored, v, err = store.Load(ctx, f.Key.String())
	require.NoError(t, err)
	assert.Equal(t, "B-token", stored.AccessToken, "A's late token never reached the store")
	assert.EqualValues(t, 2, v)
}
