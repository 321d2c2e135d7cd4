package batchload

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func keys(n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = strconv.Itoa(i)
	}
	return ks
}

// TestLoad: every key is read exactly once, in batches of size, by at most workers workers at a
// time; keys not put are left out and the damage of every batch is reported in batch order.
func TestLoad(t *testing.T) {
	for _, tt := range []struct {
		name                  string
		n, size, workers      int
		wantBatches, wantPeak int
	}{
		{"none", 0, 10, 4, 0, 0},
		{"one short batch", 7, 10, 4, 1, 1},
		{"exact batches", 40, 10, 4, 4, 4},
		{"more batches than workers", 1001, 10, 4, 101, 4},
		{"size and workers below one", 3, 0, -1, 3, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var batches, inFlight, peak, workers atomic.Int64
			var mu sync.Mutex
			seen := map[string]int{}
			got, err := Load(keys(tt.n), tt.size, tt.workers, func() Func[int] {
				workers.Add(1)
				busy := false // a worker's Func is never called twice at once
				return func(batch []string, put func(string, int)) ([]error, error) {
					require.False(t, busy)
					busy = true
					defer func() { busy = false }()
					batches.Add(1)
					if n := inFlight.Add(1); n > peak.Load() {
						peak.Store(n) // racy maximum, good enough: only ever under-counts
					}
					defer inFlight.Add(-1)
					time.Sleep(time.Millisecond)
					assert.LessOrEqual(t, len(batch), max(tt.size, 1))
					var damage []error
					for _, k := range batch {
						mu.Lock()
						seen[k]++
						mu.Unlock()
						i, _ := strconv.Atoi(k)
						switch i % 3 {
						case 0:
							put(k, i)
						case 1:
							damage = append(damage, fmt.Errorf("damaged %s", k))
						} // 2: absent
					}
					return damage, nil
				}
			})
			assert.EqualValues(t, tt.wantBatches, batches.Load())
			assert.LessOrEqual(t, peak.Load(), int64(tt.wantPeak))
			assert.LessOrEqual(t, workers.Load(), int64(max(tt.workers, 1)))
			assert.Len(t, seen, tt.n)
			for k, n := range seen {
				assert.Equal(t, 1, n, "key %s read once", k)
			}
			wantErrs := 0
			for i := range tt.n {
				k := strconv.Itoa(i)
				switch i % 3 {
				case 0:
					assert.Equal(t, i, got[k])
				case 1:
					wantErrs++
					assert.NotContains(t, got, k)
					assert.ErrorContains(t, err, "damaged "+k)
				default:
					assert.NotContains(t, got, k)
				}
			}
			if wantErrs == 0 {
				assert.NoError(t, err)
			} else {
				assert.Len(t, err.(interface{ Unwrap() []error }).Unwrap(), wantErrs)
			}
		})
	}
}

// TestLoad_failure: a batch that fails outright ends the load: no batch starts after it, its own
// values are dropped, and the error holds it once with the earlier batches' values kept.
func TestLoad_failure(t *testing.T) {
	t.Parallel()
	down := errors.New("server down")
	var started atomic.Int64
	got, err := Load(keys(100), 10, 1, func() Func[int] {
		return func(batch []string, put func(string, int)) ([]error, error) {
			b := started.Add(1)
			for _, k := range batch {
				i, _ := strconv.Atoi(k)
				put(k, i)
			}
			if b == 3 {
				return nil, down
			}
			return nil, nil
		}
	})
	require.ErrorIs(t, err, down)
	assert.EqualValues(t, 3, started.Load(), "no batch after the failed one (one worker)")
	assert.Len(t, got, 20, "the two batches before the failure")
	assert.NotContains(t, got, "25", "the failed batch's values are dropped")
}

// TestLoad_race runs many workers on many small batches under -race.
func TestLoad_race(t *testing.T) {
	t.Parallel()
	got, err := Load(keys(5000), 7, 16, func() Func[string] {
		var buf []string // a worker's own buffer, reused between its batches
		return func(batch []string, put func(string, string)) ([]error, error) {
			buf = append(buf[:0], batch...)
			for _, k := range buf {
				put(k, "v"+k)
			}
			return nil, nil
		}
	})
	require.NoError(t, err)
	require.Len(t, got, 5000)
	assert.Equal(t, "v4999", got["4999"])
}
