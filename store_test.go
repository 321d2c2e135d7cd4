package shoptoken

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMemoryStore_SaveLoadCAS(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryStore()
	_, _, err := m.Load(ctx, "k")
	require.ErrorIs(t, err, ErrNotFound)
	v1, err := m.Save(ctx, "k", &Token{AccessToken: "a"}, 0)
	require.NoError(t, err)
	assert.Equal(t, int64(1), v1)
	_, err = m.Save(ctx, "k", &Token{AccessToken: "b"}, 0)
	require.ErrorIs(t, err, ErrConflict)
	v2, err := m.Save(ctx, "k", &Token{AccessToken: "b"}, v1)
	require.NoError(t, err)
	assert.Equal(t, int64(2), v2)
	_, err = m.Save(ctx, "k", &Token{AccessToken: "stale"}, v1)
	require.ErrorIs(t, err, ErrConflict, "a stale writer is fenced by the version")
	require.NoError(t, m.Delete(ctx, "k"))
	_, _, err = m.Load(ctx, "k")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = m.Save(ctx, "k", &Token{AccessToken: "c"}, v2)
	require.ErrorIs(t, err, ErrConflict)
}

func TestMemoryStore_CopiesInAndOut(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryStore()
	tok := &Token{AccessToken: "a", Scope: []string{"x"}, Extra: map[string]string{"k": "v"}}
	_, err := m.Save(ctx, "k", tok, 0)
	require.NoError(t, err)
	tok.AccessToken, tok.Scope[0], tok.Extra["k"] = "changed", "changed", "changed"
	got, _, err := m.Load(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "a", got.AccessToken)
	assert.Equal(t, "x", got.Scope[0])
	got.Extra["k"] = "changed again"
	again, _, _ := m.Load(ctx, "k")
	assert.Equal(t, "v", again.Extra["k"])
}

func TestMemoryStore_ConcurrentCASOneWinner(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryStore()
	var wins, conflicts atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := m.Save(ctx, "k", &Token{AccessToken: "a"}, 0); err == nil {
				wins.Add(1)
			} else if err == ErrConflict {
				conflicts.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(1), wins.Load())
	assert.Equal(t, int64(99), conflicts.Load())
}

func TestMemoryStore_LockExcludesAndRenews(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := NewMemoryStore()
	var holders, maxHolders atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := m.Lock(ctx, "k", time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			n := holders.Add(1)
			for {
				old := maxHolders.Load()
				if n <= old || maxHolders.CompareAndSwap(old, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			holders.Add(-1)
			unlock()
			unlock() // idempotent
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(1), maxHolders.Load())

	// A held lease is renewed (every ttl/3): a waiter whose deadline is three ttls away gives up.
	// The ttl leaves a loaded machine a second of slack for each renewal.
	unlock, err := m.Lock(ctx, "k", 1500*time.Millisecond)
	require.NoError(t, err)
	wctx, cancel := context.WithTimeout(ctx, 4500*time.Millisecond)
	_, err = m.Lock(wctx, "k", time.Second)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded, "renewal keeps the lease past its ttl")
	unlock()
	unlock2, err := m.Lock(ctx, "k", time.Second)
	require.NoError(t, err)
	unlock2()
}

func TestMemoryStore_Watch(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryStore()
	ch, stop, err := m.Watch(ctx, "k")
	require.NoError(t, err)
	defer stop()
	_, err = m.Save(ctx, "k", &Token{AccessToken: "a"}, 0)
	require.NoError(t, err)
	select {
	case <-ch:
	case <-time.After(time.Second):
		t.Fatal("watcher not woken")
	}
}

// TestMemoryStore_Delete_versionsNeverRepeat: a writer holding a version from before a Delete
// stays fenced off after the key is saved again (no ABA), as with redisstore and filestore.
func TestMemoryStore_Delete_versionsNeverRepeat(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryStore()
	v1, err := m.Save(ctx, "k", &Token{AccessToken: "a"}, 0)
	require.NoError(t, err)
	v2, err := m.Save(ctx, "k", &Token{AccessToken: "b"}, v1)
	require.NoError(t, err)
	require.NoError(t, m.Delete(ctx, "k"))
	require.NoError(t, m.Delete(ctx, "k"), "deleting twice")
	_, v, err := m.Load(ctx, "k")
	require.ErrorIs(t, err, ErrNotFound)
	assert.Zero(t, v, "a deleted key loads as absent")

	v3, err := m.Save(ctx, "k", &Token{AccessToken: "c"}, 0)
	require.NoError(t, err, "prev 0 recreates a deleted key")
	assert.Greater(t, v3, v2, "versions continue past the Delete")
	_, err = m.Save(ctx, "k", &Token{AccessToken: "c"}, 0)
	require.ErrorIs(t, err, ErrConflict, "only one writer recreates it")
	v4, err := m.Save(ctx, "k", &Token{AccessToken: "d"}, v3)
	require.NoError(t, err)
	for _, stale := range []int64{v1, v2} {
		_, err = m.Save(ctx, "k", &Token{AccessToken: "stale"}, stale)
		require.ErrorIs(t, err, ErrConflict, "stale prev %d from before the Delete", stale)
	}
	tok, v, err := m.Load(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "d", tok.AccessToken)
	assert.Equal(t, v4, v)

	_, err = m.Save(ctx, "nil", nil, 0)
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrConflict)
}

// TestMemoryStore_Due_matchesModel checks the due index against a plain map sorted on every
// query, through random schedules, moves and removals with many equal due times.
func TestMemoryStore_Due_matchesModel(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryStore()
	model := map[string]time.Time{}
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	at := func() time.Time { return base.Add(time.Duration(rng.IntN(50)) * time.Second) }
	for step := range 5000 {
		key := "k" + strconv.Itoa(rng.IntN(300))
		switch rng.IntN(4) {
		case 0:
			require.NoError(t, m.Unschedule(ctx, key))
			delete(model, key)
		default:
			due := at()
			require.NoError(t, m.Schedule(ctx, key, due))
			model[key] = due
		}
		if step%50 != 0 {
			continue
		}
		now, limit := at(), rng.IntN(40)-5
		var want []string
		for k, d := range model {
			if !d.After(now) {
				want = append(want, k)
			}
		}
		slices.SortFunc(want, func(a, b string) int {
			if c := model[a].Compare(model[b]); c != 0 {
				return c
			}
			return strings.Compare(a, b)
		})
		if limit > 0 && len(want) > limit {
			want = want[:limit]
		}
		got, err := m.Due(ctx, now, limit)
		require.NoError(t, err)
		require.Equal(t, want, got, "step %d, now %v, limit %d", step, now, limit)
	}
}

// TestMemoryStore_Due_doesNotHoldUpLoadSave: the due index has a lock of its own, so a sweep
// (which holds it) never stalls the store's reads and writes.
func TestMemoryStore_Due_doesNotHoldUpLoadSave(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryStore()
	m.dueMu.Lock() // a sweep in progress
	done := make(chan error, 1)
	go func() {
		v, err := m.Save(ctx, "k", &Token{AccessToken: "a"}, 0)
		if err == nil {
			_, _, err = m.Load(ctx, "k")
		}
		if err == nil {
			_, err = m.Save(ctx, "k", &Token{AccessToken: "b"}, v)
		}
		done <- err
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Load and Save wait for the due index")
	}
	m.dueMu.Unlock()
}
