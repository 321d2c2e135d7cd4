package redisstore

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/watchhub"
)

// wokenWithin reports whether ch receives within d.
func wokenWithin(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	default:
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// pubSubOnly makes polling so rare that any wake-up within a test must come through pub/sub.
func pubSubOnly() Option { return WithPollInterval(time.Hour) }

// deliveredBy is how long a test waits for a wake-up that is due: generous, because under a
// loaded machine with -race goroutines can stall, and with pubSubOnly nothing else could wake it.
const deliveredBy = 2 * time.Second

func TestStore_Watch_otherProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	w, other := e.store(pubSubOnly()), e.store()
	tok := &shoptoken.Token{AccessToken: "t"}

	ch, stop, err := w.Watch(ctx, "k")
	require.NoError(t, err)
	defer stop()
	unrelated, stopU, err := w.Watch(ctx, "other-key")
	require.NoError(t, err)
	defer stopU()
	assert.False(t, wokenWithin(ch, 20*time.Millisecond), "woken without a change")

	// Saves and Deletes by another process (its own client) wake the watcher; the fastest of a
	// few rounds is well under 100ms (the others may stall on a busy machine).
	var v int64
	best := time.Hour
	for round := range 5 {
		start := time.Now()
		v, err = other.Save(ctx, "k", tok, v)
		require.NoError(t, err)
		require.True(t, wokenWithin(ch, deliveredBy), "round %d: save not seen", round)
		best = min(best, time.Since(start))
	}
	t.Logf("best wake-up %v after the save started", best)
	assert.Less(t, best, 100*time.Millisecond)
	require.NoError(t, other.Delete(ctx, "k"))
	require.True(t, wokenWithin(ch, deliveredBy), "delete not seen")
	_, err = other.Save(ctx, "k", tok, 0)
	require.NoError(t, err)
	require.True(t, wokenWithin(ch, deliveredBy), "recreation not seen")

	// Lock traffic is not a change.
	unlock, err := other.Lock(ctx, "k", time.Second)
	require.NoError(t, err)
	unlock()
	assert.False(t, wokenWithin(ch, 30*time.Millisecond), "woken by an unlock")
	assert.False(t, wokenWithin(unrelated, 0), "woken by another key")

	// After stop, nothing is delivered, and the channel is unsubscribed.
	stop()
	stop()
	stopU()
	require.Eventually(t, func() bool {
		return w.hub.Len() == 0
	}, deliveredBy, 5*time.Millisecond, "subscriptions left behind")
}

func TestStore_Watch_polling(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	w := e.store(withoutPubSub(), WithPollInterval(20*time.Millisecond))
	other := e.store()

	ch, stop, err := w.Watch(ctx, "k")
	require.NoError(t, err)
	defer stop()
	assert.False(t, wokenWithin(ch, 60*time.Millisecond), "woken without a change")
	_, err = other.Save(ctx, "k", &shoptoken.Token{AccessToken: "t"}, 0)
	require.NoError(t, err)
	require.True(t, wokenWithin(ch, deliveredBy), "poll missed the save")
	assert.False(t, wokenWithin(ch, 60*time.Millisecond), "woken twice for one save")
	require.NoError(t, other.Delete(ctx, "k"))
	require.True(t, wokenWithin(ch, deliveredBy), "poll missed the delete")

	// Many watchers, polled far more often than they join: none is woken without a change.
	fast := e.store(withoutPubSub(), WithPollInterval(time.Millisecond))
	var wg sync.WaitGroup
	var spurious atomic.Int64
	for i := range 400 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch, stop, err := fast.Watch(ctx, "quiet"+strconv.Itoa(i%40))
			if err != nil {
				t.Error(err)
				return
			}
			defer stop()
			if wokenWithin(ch, 50*time.Millisecond) {
				spurious.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, spurious.Load(), "watchers woken without a change")
}

// TestStore_Watch_reconnect kills the Store's pub/sub connection: changes made while it is down
// are still seen (by polling, then by the new subscription).
func TestStore_Watch_reconnect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	w := e.store(WithPollInterval(50 * time.Millisecond))
	other := e.store()
	tok := &shoptoken.Token{AccessToken: "t"}

	ch, stop, err := w.Watch(ctx, "k")
	require.NoError(t, err)
	defer stop()
	v, err := other.Save(ctx, "k", tok, 0)
	require.NoError(t, err)
	require.True(t, wokenWithin(ch, deliveredBy))

	for round := range 3 {
		killed := killPubSub(t, e)
		require.Equal(t, 1, killed, "one pub/sub connection per Store")
		v, err = other.Save(ctx, "k", tok, v)
		require.NoError(t, err)
		require.True(t, wokenWithin(ch, deliveredBy), "round %d: change during the outage missed", round)
		// Back on pub/sub: a change is delivered by it.
		require.Eventually(t, func() bool {
			return w.hub.Covered("k") // the poller leaves it alone now
		}, deliveredBy, 5*time.Millisecond)
		wokenWithin(ch, 0) // drop a possible wake-up from the outage
		v, err = other.Save(ctx, "k", tok, v)
		require.NoError(t, err)
		require.True(t, wokenWithin(ch, deliveredBy), "round %d: not resubscribed", round)
	}
}

// killPubSub closes the test's pub/sub connections on the server side and returns how many.
func killPubSub(t *testing.T, e *testEnv) int {
	t.Helper()
	ctx := context.Background()
	list, err := e.admin.ClientList(ctx).Result()
	require.NoError(t, err)
	n := 0
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, " name="+e.name+" ") || !strings.Contains(line, "sub=") {
			continue
		}
		var id, sub string
		for _, f := range strings.Fields(line) {
			switch {
			case strings.HasPrefix(f, "id="):
				id = f[3:]
			case strings.HasPrefix(f, "sub="):
				sub = f[4:]
			}
		}
		if sub == "0" {
			continue
		}
		n++
		cid, _ := strconv.ParseInt(id, 10, 64)
		require.NoError(t, e.admin.ClientKillByFilter(ctx, "ID", strconv.FormatInt(cid, 10)).Err())
	}
	return n
}

// TestStore_Watch_many has thousands of watchers on one connection.
func TestStore_Watch_many(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	w, other := e.store(), e.store()
	const keys, perKey = 200, 10
	chans := make([][]<-chan struct{}, keys)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for k := range keys {
		for range perKey {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ch, stop, err := w.Watch(ctx, "k"+strconv.Itoa(k))
				if err != nil {
					t.Error(err)
					return
				}
				t.Cleanup(stop)
				mu.Lock()
				chans[k] = append(chans[k], ch)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	assert.Equal(t, 1, countPubSub(t, e), "one pub/sub connection for all watchers")

	// Change every even key: exactly their watchers wake.
	for k := 0; k < keys; k += 2 {
		_, err := other.Save(ctx, "k"+strconv.Itoa(k), &shoptoken.Token{AccessToken: "t"}, 0)
		require.NoError(t, err)
	}
	time.Sleep(100 * time.Millisecond)
	woken := 0
	for k := range keys {
		for _, ch := range chans[k] {
			if wokenWithin(ch, 0) {
				woken++
				assert.Equal(t, 0, k%2, "key %d woken without a change", k)
			}
		}
	}
	assert.Equal(t, keys/2*perKey, woken)
}

func countPubSub(t *testing.T, e *testEnv) int {
	t.Helper()
	list, err := e.admin.ClientList(context.Background()).Result()
	require.NoError(t, err)
	n := 0
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, " name="+e.name+" ") && !strings.Contains(line, " sub=0 ") {
			n++
		}
	}
	return n
}

// TestHub_poll drives the poller by hand: a watcher that has a baseline (or is still getting one)
// is woken only by a change; a blind one (Watch could not read a version) by the first poll.
func TestHub_poll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	s := e.store(withoutPubSub(), WithPollInterval(time.Hour))
	other := e.store()
	join := func(key string) *watchhub.Member {
		m := watchhub.NewWatch()
		ready, ok := s.hub.join(key, m)
		require.True(t, ok)
		require.Nil(t, ready, "nothing to wait for without pub/sub")
		return m
	}

	m := join("k")
	s.hub.Poll() // polled before Watch read its baseline
	assert.False(t, wokenWithin(m.C, 0), "fresh watcher woken by a poll")
	s.hub.Baseline("k", 0, true)
	s.hub.Poll()
	assert.False(t, wokenWithin(m.C, 0))
	_, err := other.Save(ctx, "k", &shoptoken.Token{AccessToken: "t"}, 0)
	require.NoError(t, err)
	s.hub.Poll()
	assert.True(t, wokenWithin(m.C, 0), "change not seen")
	s.hub.Poll()
	assert.False(t, wokenWithin(m.C, 0), "one change, two wake-ups")

	bm := join("blind")
	s.hub.Baseline("blind", 0, false)
	s.hub.Poll()
	assert.True(t, wokenWithin(bm.C, 0), "blind watcher not woken")
	s.hub.Poll()
	assert.False(t, wokenWithin(bm.C, 0))
	assert.False(t, wokenWithin(m.C, 0), "k woken by blind's poll")

	// A key of another Redis type reads as damage, which does not hold up the other keys.
	require.NoError(t, e.admin.Set(ctx, s.tokKey("k"), "not a hash", 0).Err())
	s.hub.Poll()
	assert.True(t, wokenWithin(m.C, 0), "k turned into damage: a change")
	_, err = other.Save(ctx, "blind", &shoptoken.Token{AccessToken: "t"}, 0)
	require.NoError(t, err)
	s.hub.Poll()
	assert.True(t, wokenWithin(bm.C, 0), "a change beside a damaged key")
	assert.False(t, wokenWithin(m.C, 0), "damage that stays is no change")
}
