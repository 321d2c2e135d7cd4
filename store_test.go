package shoptoken

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

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
			require.NoError(t, m.Unschedule(ctx, "ns", key))
			delete(model, key)
		default:
			due := at()
			require.NoError(t, m.Schedule(ctx, "ns", Due{Key: key, At: due}))
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
		got, err := m.Due(ctx, "ns", now, limit)
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
