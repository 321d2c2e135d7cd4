package shops

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/shoptoken/shoptoken"
)

// dueWriter writes an App's due times to its index. Updates go into a map, the latest per key
// winning, and one goroutine writes them in batches (one Schedule per batchSize keys): at a
// million shops a cold start is a few hundred round trips, and nothing is ever dropped. A write
// that fails is put back (unless a newer due time for the key arrived meanwhile) and tried again.
type dueWriter struct {
	idx  shoptoken.DueIndex
	fidx shoptoken.FailureIndex // nil: the index keeps no failures
	ns   string
	log  *slog.Logger

	mu      sync.Mutex
	pending map[string]time.Time          // zero time: unschedule
	fails   map[string]*shoptoken.Failure // nil: clear the key's failure
	// recorded holds the keys whose failure this writer recorded and has not cleared, so that a
	// success clears only those: the happy path costs no round trip.
	recorded map[string]struct{}
	failWarn time.Time  // when a failure-index write last failed (warned at most once a minute)
	writing  sync.Mutex // one write at a time: the loop's or a flush's
	wake     chan struct{}
	quit     chan struct{}
	once     sync.Once
	started  bool
}

// batchSize is how many keys one Schedule carries, and batchDelay how long the writer waits for
// more updates before it writes.
const (
	batchSize  = 1000
	batchDelay = 50 * time.Millisecond
)

func newDueWriter(idx shoptoken.DueIndex, ns string, log *slog.Logger) *dueWriter {
	w := &dueWriter{idx: idx, ns: ns, log: log, pending: map[string]time.Time{},
		fails: map[string]*shoptoken.Failure{}, recorded: map[string]struct{}{},
		wake: make(chan struct{}, 1), quit: make(chan struct{})}
	w.fidx, _ = idx.(shoptoken.FailureIndex)
	return w
}

// fail records f as its key's last failure; the writer goroutine writes it.
func (w *dueWriter) fail(f shoptoken.Failure) {
	if w.fidx == nil {
		return
	}
	w.mu.Lock()
	w.fails[f.Key] = &f
	w.recorded[f.Key] = struct{}{}
	w.startLocked()
	w.mu.Unlock()
	w.kick()
}

// succeeded clears key's failure if this writer recorded one; otherwise it costs nothing.
func (w *dueWriter) succeeded(key string) {
	if w.fidx == nil {
		return
	}
	w.mu.Lock()
	_, had := w.recorded[key]
	if had {
		delete(w.recorded, key)
		w.fails[key] = nil
		w.startLocked()
	}
	w.mu.Unlock()
	if had {
		w.kick()
	}
}

func (w *dueWriter) startLocked() {
	if !w.started {
		w.started = true
		go w.loop()
	}
}

func (w *dueWriter) kick() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// put records key's due time (zero: take it out of the index); the writer goroutine writes it.
func (w *dueWriter) put(key string, at time.Time) {
	w.mu.Lock()
	w.pending[key] = at
	w.startLocked()
	w.mu.Unlock()
	w.kick()
}

// Len returns how many updates are waiting to be written.
func (w *dueWriter) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}

func (w *dueWriter) loop() {
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	backoff := time.Duration(0)
	for {
		select {
		case <-w.wake:
			// Gather what arrives in the next moments into the same batch: a cold start, or a
			// sweep (which flushes at its end anyway), then costs one write, not one per shop.
			select {
			case <-time.After(batchDelay):
			case <-w.quit:
				retry.Stop()
				return
			}
		case <-retry.C:
		case <-w.quit:
			retry.Stop()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := w.flush(ctx)
		cancel()
		switch {
		case err == nil:
			backoff = 0
			continue
		case backoff == 0:
			backoff = time.Second
		default:
			backoff = min(2*backoff, 30*time.Second)
		}
		retry.Reset(backoff)
	}
}

// flush writes every pending update now, in batches. What fails is kept for the next try. Only
// due-index failures are returned: the failure index is for operators, and a store that cannot
// keep failures (a table not migrated yet) must not stop the Keeper; its writes are retried at
// the next flush and warned about at most once a minute.
func (w *dueWriter) flush(ctx context.Context) error {
	w.writing.Lock()
	defer w.writing.Unlock()
	w.mu.Lock()
	todo := w.pending
	w.pending = make(map[string]time.Time, min(len(todo), batchSize))
	fails := w.fails
	if len(fails) > 0 {
		w.fails = map[string]*shoptoken.Failure{}
	}
	w.mu.Unlock()
	w.flushFailures(ctx, fails)
	if len(todo) == 0 {
		return nil
	}
	var sched []shoptoken.Due
	var unsched []string
	for k, at := range todo {
		if at.IsZero() {
			unsched = append(unsched, k)
		} else {
			sched = append(sched, shoptoken.Due{Key: k, At: at})
		}
	}
	var firstErr error
	failed := func(keys []string, err error) {
		if firstErr == nil {
			firstErr = err
			w.log.Warn("shoptoken: due index write failed; will retry", "namespace", w.ns, "keys", len(keys), "err", err)
		}
		w.mu.Lock()
		for _, k := range keys {
			if _, newer := w.pending[k]; !newer {
				w.pending[k] = todo[k]
			}
		}
		w.mu.Unlock()
	}
	for len(sched) > 0 {
		n := min(len(sched), batchSize)
		if err := w.idx.Schedule(ctx, w.ns, sched[:n]...); err != nil {
			keys := make([]string, len(sched))
			for i, d := range sched {
				keys[i] = d.Key
			}
			failed(keys, err)
			break
		}
		sched = sched[n:]
	}
	for len(unsched) > 0 {
		n := min(len(unsched), batchSize)
		if err := w.idx.Unschedule(ctx, w.ns, unsched[:n]...); err != nil {
			failed(unsched, err)
			break
		}
		unsched = unsched[n:]
	}
	return firstErr
}

func (w *dueWriter) stop() { w.once.Do(func() { close(w.quit) }) }

// flushFailures writes the failures recorded and cleared since the last flush, in batches; what
// fails is put back (unless newer news of the key arrived meanwhile) and warned about.
func (w *dueWriter) flushFailures(ctx context.Context, fails map[string]*shoptoken.Failure) {
	if len(fails) == 0 {
		return
	}
	var rec []shoptoken.Failure
	var clear []string
	for k, f := range fails {
		if f == nil {
			clear = append(clear, k)
		} else {
			rec = append(rec, *f)
		}
	}
	var err error
	for len(rec) > 0 && err == nil {
		n := min(len(rec), batchSize)
		if err = w.fidx.RecordFailures(ctx, w.ns, rec[:n]...); err == nil {
			rec = rec[n:]
		}
	}
	for len(clear) > 0 && err == nil {
		n := min(len(clear), batchSize)
		if err = w.fidx.ClearFailures(ctx, w.ns, clear[:n]...); err == nil {
			clear = clear[n:]
		}
	}
	if err == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range rec {
		if _, newer := w.fails[f.Key]; !newer {
			w.fails[f.Key] = &f
		}
	}
	for _, k := range clear {
		if _, newer := w.fails[k]; !newer {
			w.fails[k] = nil
		}
	}
	if now := time.Now(); now.Sub(w.failWarn) >= time.Minute {
		w.failWarn = now
		w.log.Warn("shoptoken: failure index write failed; will retry", "namespace", w.ns, "err", err)
	}
}
