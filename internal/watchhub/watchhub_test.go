package watchhub

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// source is a fake store: the states Read returns, and how many keys it was asked for.
type source struct {
	mu     sync.Mutex
	states map[string]int64
	fail   bool
	reads  [][]string
}

func (s *source) set(key string, v int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.states[key] = v
}

func (s *source) read(_ context.Context, keys []string) ([]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads = append(s.reads, append([]string(nil), keys...))
	if s.fail {
		return nil, errors.New("down")
	}
	out := make([]int64, len(keys))
	for i, k := range keys {
		out[i] = s.states[k]
	}
	return out, nil
}

func newHub(t *testing.T, batch int) (*Hub[int64], *source) {
	src := &source{states: map[string]int64{}}
	h := New(Config[int64]{
		Poll:  time.Hour, // the tests poll with Poll
		Batch: batch,
		Read:  src.read,
		Newer: func(old, cur int64) bool { return cur > old },
	})
	t.Cleanup(func() { h.Close(nil) })
	return h, src
}

func woken(m *Member) bool {
	select {
	case <-m.C:
		return true
	default:
		return false
	}
}

func join(t *testing.T, h *Hub[int64], key string, m *Member) *Member {
	t.Helper()
	require.True(t, h.Join(key, m, nil))
	return m
}

// TestHub_Poll: a poll wakes the watchers of a key whose state changed since the last one seen,
// once; not a fresh watcher (no state yet), not the lease waits; a blind watcher on the first
// successful poll.
func TestHub_Poll(t *testing.T) {
	t.Parallel()
	h, src := newHub(t, 0)
	w := join(t, h, "k", NewWatch())
	wait := join(t, h, "k", NewWait())

	h.Poll() // before the watch read its baseline: the state becomes known, no wake-up
	assert.False(t, woken(w), "fresh watcher woken by a poll")
	h.Baseline("k", 0, true)
	h.Poll()
	assert.False(t, woken(w))
	src.set("k", 1)
	h.Poll()
	assert.True(t, woken(w), "change not seen")
	assert.False(t, woken(wait), "a change is not an unlock")
	h.Poll()
	assert.False(t, woken(w), "one change, two wake-ups")

	b := join(t, h, "blind", NewWatch())
	h.Baseline("blind", 0, false)
	src.fail = true
	h.Poll()
	assert.False(t, woken(b), "woken by a failed poll")
	src.fail = false
	h.Poll()
	assert.True(t, woken(b), "blind watcher not woken by the first successful poll")
	h.Poll()
	assert.False(t, woken(b))
}

// TestHub_Poll_batches: the watched keys are read Batch at a time; keys with only lease waits
// and keys whose delivery is active are not read.
func TestHub_Poll_batches(t *testing.T) {
	t.Parallel()
	h, src := newHub(t, 3)
	for i := range 7 {
		join(t, h, "w"+strconv.Itoa(i), NewWatch())
	}
	join(t, h, "lease-only", NewWait())
	require.True(t, h.Join("pushed", NewWatch(), func(e *Entry[int64], _ bool) { e.SetActive(true) }))
	h.Poll()
	var sizes []int
	read := map[string]bool{}
	for _, r := range src.reads {
		sizes = append(sizes, len(r))
		for _, k := range r {
			read[k] = true
		}
	}
	assert.ElementsMatch(t, []int{3, 3, 1}, sizes)
	assert.Len(t, read, 7)
	assert.NotContains(t, read, "lease-only")
	assert.NotContains(t, read, "pushed")
}

// TestHub_active: while a key's delivery is active the poller leaves it alone; when delivery
// stops the key is polled, and once it is active again polled one more time (changes may have
// been missed), then left alone.
func TestHub_active(t *testing.T) {
	t.Parallel()
	h, src := newHub(t, 0)
	var entry *Entry[int64]
	w := NewWatch()
	require.True(t, h.Join("k", w, func(e *Entry[int64], first bool) {
		assert.True(t, first)
		entry = e
	}))
	ready := entry.Ready()
	h.Lock()
	entry.SetActive(true)
	h.Unlock()
	assert.True(t, Await(context.Background(), ready, 0), "ready closed while active")
	assert.True(t, h.Covered("k"))
	h.Baseline("k", 5, true)
	assert.False(t, h.Known("k"), "an active key needs no baseline")
	h.Changed("k", 3, true) // pushed
	assert.True(t, woken(w))
	h.Poll()
	assert.Empty(t, src.reads, "an active key is not polled")

	h.Lock()
	entry.SetActive(false) // the subscription broke
	h.Unlock()
	assert.False(t, h.Covered("k"))
	src.set("k", 4) // missed while down
	h.Poll()
	assert.True(t, woken(w), "change during the outage seen by polling")
	h.Lock()
	entry.SetActive(true)
	h.Unlock()
	assert.False(t, h.Covered("k"), "missed: polled once more")
	h.Poll()
	assert.False(t, woken(w), "no change since")
	assert.True(t, h.Covered("k"))
	n := len(src.reads)
	h.Poll()
	assert.Len(t, src.reads, n, "left alone again")
}

// TestHub_Changed: a change heard of wakes the watchers; its state is kept only when newer.
func TestHub_Changed(t *testing.T) {
	t.Parallel()
	h, src := newHub(t, 0)
	w := join(t, h, "k", NewWatch())
	wait := join(t, h, "k", NewWait())
	h.Changed("k", 0, false)
	assert.True(t, woken(w))
	assert.False(t, h.Known("k"), "a change without a state")
	h.Changed("k", 7, true)
	assert.True(t, woken(w))
	h.Changed("k", 6, true) // late, older
	assert.True(t, woken(w))
	src.set("k", 7)
	h.Poll()
	assert.False(t, woken(w), "the state kept is 7, not the older 6")
	h.Unlocked("k")
	assert.True(t, woken(wait))
	assert.False(t, woken(w), "an unlock is not a change")
	h.Changed("other", 1, true) // nobody waits: nothing happens
}

// TestHub_Baseline: a baseline newer than the state held wakes the watchers (they missed it);
// one without a state makes them blind.
func TestHub_Baseline(t *testing.T) {
	t.Parallel()
	h, _ := newHub(t, 0)
	w := join(t, h, "k", NewWatch())
	h.Baseline("k", 2, true)
	assert.True(t, h.Known("k"))
	assert.False(t, woken(w))
	h.Baseline("k", 2, true)
	assert.False(t, woken(w))
	h.Baseline("k", 3, true)
	assert.True(t, woken(w), "a second watch read a newer state: the first missed it")
	h.Baseline("gone", 1, true) // no entry: nothing happens
}

// TestHub_JoinLeave: the callbacks see the first member and the last; an Entry with pending
// commands outlives its members; a second Leave does nothing.
func TestHub_JoinLeave(t *testing.T) {
	t.Parallel()
	h, _ := newHub(t, 0)
	a, b := NewWatch(), NewWait()
	var firsts []bool
	onJoin := func(e *Entry[int64], first bool) { firsts = append(firsts, first) }
	require.True(t, h.Join("k", a, onJoin))
	require.True(t, h.Join("k", b, onJoin))
	assert.Equal(t, []bool{true, false}, firsts)
	lasts := 0
	onLeave := func(e *Entry[int64]) {
		lasts++
		e.Pending++ // an UNSUBSCRIBE sent
	}
	h.Leave("k", a, onLeave)
	assert.Zero(t, lasts)
	h.Leave("k", b, onLeave)
	h.Leave("k", b, onLeave)
	assert.Equal(t, 1, lasts)
	assert.Equal(t, 1, h.Len(), "kept until the UNSUBSCRIBE is confirmed")
	h.Lock()
	h.EntryLocked("k").Pending--
	h.ForgetIdleLocked("k")
	h.Unlock()
	assert.Zero(t, h.Len())
}

// TestHub_Close: Close ends Run and the poller, runs its callback, and later Joins fail.
func TestHub_Close(t *testing.T) {
	t.Parallel()
	var running, ended atomic.Bool
	h := New(Config[int64]{Poll: time.Millisecond, Read: func(context.Context, []string) ([]int64, error) { return nil, nil },
		Newer: func(old, cur int64) bool { return cur > old },
		Run: func(ctx context.Context) {
			running.Store(true)
			<-ctx.Done()
			ended.Store(true)
		}})
	require.True(t, h.Join("k", NewWatch(), nil))
	require.Eventually(t, running.Load, 5*time.Second, time.Millisecond)
	called := false
	h.Close(func() { called = true })
	assert.True(t, called)
	assert.True(t, ended.Load(), "Close waits for Run")
	assert.True(t, h.Closed())
	assert.False(t, h.Join("k", NewWatch(), nil))
	assert.Error(t, h.Context().Err())
}

// TestHub_race: many goroutines join, leave, change, unlock and poll at once (run with -race);
// every watcher of a key is woken by a change made while it watches.
func TestHub_race(t *testing.T) {
	t.Parallel()
	h, src := newHub(t, 5)
	var wg sync.WaitGroup
	var missed atomic.Int64
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := "k" + strconv.Itoa(g%8)
			for i := range 50 {
				w, l := NewWatch(), NewWait()
				if !h.Join(key, w, nil) || !h.Join(key, l, nil) {
					t.Error("join failed")
					return
				}
				h.Baseline(key, int64(i), i%5 != 0)
				src.set(key, int64(g*1000+i))
				h.Changed(key, int64(i), i%2 == 0)
				if !woken(w) {
					missed.Add(1)
				}
				h.Unlocked(key)
				if g%4 == 0 {
					h.Poll()
				}
				h.Leave(key, l, nil)
				h.Leave(key, w, nil)
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, missed.Load(), "a watcher slept through a change")
	assert.Zero(t, h.Len(), "every key forgotten after its last member left")
}

// TestRetry: the pause doubles after attempts without progress and starts again after one with.
func TestRetry(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var at []time.Time
	Retry(ctx, func() bool {
		at = append(at, time.Now())
		if len(at) == 7 {
			cancel()
		}
		return len(at) == 5 // the pauses: 50, 100, 200, 400 ms, then 50 again
	})
	require.Len(t, at, 7)
	gap := func(i int) time.Duration { return at[i].Sub(at[i-1]) }
	assert.GreaterOrEqual(t, gap(1), 50*time.Millisecond)
	assert.GreaterOrEqual(t, gap(4), 400*time.Millisecond, "doubled three times")
	assert.Less(t, gap(5), 300*time.Millisecond, "back to 50 ms after progress")
}

func TestAwait(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	assert.False(t, Await(ctx, nil, time.Hour), "nil is never ready")
	ready := make(chan struct{})
	assert.False(t, Await(ctx, ready, time.Millisecond))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	assert.False(t, Await(cctx, ready, time.Hour))
	close(ready)
	assert.True(t, Await(ctx, ready, 0))
}
