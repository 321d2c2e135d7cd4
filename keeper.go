package shoptoken

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Keeper keeps grants alive that nobody is using: a shop with no orders for weeks still has its
// refresh token rotated before it lapses (veapi's refresh_expires_time, Youzan's 28-day refresh
// token), and a grant that cannot be refreshed (vip.com) is reported while there is time to ask the
// merchant again. It reads due keys from a DueIndex, so a sweep costs O(keys due), not O(shops);
// run one Keeper per fleet or one per process: the Caches' lease and store make concurrent sweeps
// of one key cost one platform call.
//
// A Keeper is safe for concurrent use, but one Run at a time is the intended use.
type Keeper struct {
	reg      *Registry
	idx      DueIndex
	every    time.Duration
	rate     float64
	batch    int
	retry    time.Duration
	onReauth func(key string, err error)
	logger   *slog.Logger
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error

	mu      sync.Mutex
	stopped bool               // Shutdown was called
	cancel  context.CancelFunc // ends the running Run's context
	running chan struct{}      // closed when the running Run returns
}

// KeeperOption configures a Keeper.
type KeeperOption func(*Keeper)

// WithSweepEvery sets how often Run sweeps (default 1 minute).
func WithSweepEvery(d time.Duration) KeeperOption {
	return func(k *Keeper) {
		if d > 0 {
			k.every = d
		}
	}
}

// WithRate caps how many keys per second a sweep refreshes (default 20), so a backlog of due
// grants — after an outage, or a million shops authorized on one day — does not burst at the
// platforms.
func WithRate(perSecond float64) KeeperOption {
	return func(k *Keeper) {
		if perSecond > 0 {
			k.rate = perSecond
		}
	}
}

// WithBatch sets how many due keys one sweep takes from the index (default 1000).
func WithBatch(n int) KeeperOption {
	return func(k *Keeper) {
		if n > 0 {
			k.batch = n
		}
	}
}

// WithRetryAfter sets when a key whose refresh failed for a passing reason is looked at again
// (default 5 minutes), plus up to half of it again at random, so that keys that failed together
// are not retried together.
func WithRetryAfter(d time.Duration) KeeperOption {
	return func(k *Keeper) {
		if d > 0 {
			k.retry = d
		}
	}
}

// WithOnReauthorize calls fn for each key whose grant is gone or about to go and cannot be renewed:
// a person must authorize again. It is called from the sweep.
func WithOnReauthorize(fn func(key string, err error)) KeeperOption {
	return func(k *Keeper) { k.onReauth = fn }
}

// WithKeeperLogger logs each sweep's outcome.
func WithKeeperLogger(l *slog.Logger) KeeperOption {
	return func(k *Keeper) {
		if l != nil {
			k.logger = l
		}
	}
}

// WithKeeperClock replaces the wall clock used to decide what is due, for tests.
func WithKeeperClock(now func() time.Time) KeeperOption {
	return func(k *Keeper) {
		if now != nil {
			k.now = now
		}
	}
}

// NewKeeper returns a Keeper that sweeps idx and refreshes through reg. Give reg the same index
// (WithDueIndex) so that new tokens are scheduled as they are saved.
func NewKeeper(reg *Registry, idx DueIndex, opts ...KeeperOption) *Keeper {
	k := &Keeper{reg: reg, idx: idx, every: time.Minute, rate: 20, batch: 1000, retry: 5 * time.Minute,
		logger: slog.New(slog.DiscardHandler), now: time.Now, sleep: sleepCtx}
	for _, o := range opts {
		o(k)
	}
	return k
}

// SweepResult says what one sweep did.
type SweepResult struct {
	Due         int      // keys the index said were due
	Refreshed   int      // keys given a new token (by this sweep or, just before, by another process)
	NotDue      int      // keys that turned out not to be due any more (refreshed elsewhere); rescheduled
	Failed      int      // keys whose refresh failed for a passing reason; retried later
	Reauthorize []string // keys whose grant needs a person: reported to WithOnReauthorize and unscheduled
}

// Sweep refreshes the keys that are due now, at most the configured rate, and reschedules each.
func (k *Keeper) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	now := k.now()
	keys, err := k.idx.Due(ctx, now, k.batch)
	if err != nil {
		return res, err
	}
	res.Due = len(keys)
	gap := time.Duration(float64(time.Second) / k.rate)
	for i, key := range keys {
		if i > 0 {
			if err := k.sleep(ctx, gap); err != nil {
				return res, err
			}
		}
		k.keep(ctx, key, &res)
	}
	if res.Due > 0 {
		k.logger.Info("shoptoken: keeper sweep", "due", res.Due, "refreshed", res.Refreshed,
			"not_due", res.NotDue, "failed", res.Failed, "reauthorize", len(res.Reauthorize))
	}
	return res, ctx.Err()
}

func (k *Keeper) keep(ctx context.Context, key string, res *SweepResult) {
	c, err := k.reg.Cache(key)
	if err != nil {
		k.failed(ctx, key, err, res)
		return
	}
	// Load first: the key may have been refreshed elsewhere since it was scheduled.
	loaded, err := c.Token(ctx)
	if err != nil && !errors.Is(err, ErrTokenInvalid) {
		k.failed(ctx, key, err, res)
		return
	}
	tok, refreshed, err := c.refreshIfDue(ctx)
	if err != nil {
		k.failed(ctx, key, err, res)
		return
	}
	// Loading a due token starts its planned refresh at once, so "refreshed" also covers a token
	// that changed since it was loaded.
	if refreshed || (loaded != nil && !same(tok, loaded)) {
		res.Refreshed++
	} else {
		res.NotDue++
	}
	if due := c.Due(); !due.IsZero() {
		k.schedule(ctx, key, due)
	} else {
		_ = k.idx.Unschedule(ctx, key)
	}
}

func (k *Keeper) failed(ctx context.Context, key string, err error, res *SweepResult) {
	if IsPermanent(err) {
		res.Reauthorize = append(res.Reauthorize, key)
		_ = k.idx.Unschedule(ctx, key)
		k.logger.Warn("shoptoken: grant needs authorization again", "key", key, "err", err)
		if k.onReauth != nil {
			k.onReauth(key, err)
		}
		return
	}
	res.Failed++
	// Keys that failed together (a platform outage) come back spread over half a retry period,
	// not in one burst.
	k.schedule(ctx, key, k.now().Add(k.retry+rand.N(k.retry/2+1)))
}

func (k *Keeper) schedule(ctx context.Context, key string, due time.Time) {
	if err := k.idx.Schedule(ctx, key, due); err != nil {
		k.logger.Warn("shoptoken: due index write failed", "key", key, "err", err)
	}
}

// Run sweeps every WithSweepEvery until ctx ends or Shutdown is called, and returns ctx's error
// (nil after Shutdown). A refresh that a sweep started goes on after Run returns; the Registry's
// Shutdown waits for it.
func (k *Keeper) Run(ctx context.Context) error {
	k.mu.Lock()
	if k.stopped {
		k.mu.Unlock()
		return nil
	}
	ctx, k.cancel = context.WithCancel(ctx)
	k.running = make(chan struct{})
	running := k.running
	k.mu.Unlock()
	defer close(running)
	for {
		if _, err := k.Sweep(ctx); err != nil && ctx.Err() == nil {
			k.logger.Warn("shoptoken: keeper sweep failed", "err", err)
		}
		if err := k.sleep(ctx, k.every); err != nil {
			k.mu.Lock()
			stopped := k.stopped
			k.mu.Unlock()
			if stopped {
				return nil
			}
			return context.Cause(ctx)
		}
	}
}

// Shutdown stops Run (and any later Run) and waits until it has returned, or until ctx ends.
// The key a sweep was refreshing is left to its Cache: shut the Registry down after the Keeper so
// that its refresh finishes and its token is saved.
func (k *Keeper) Shutdown(ctx context.Context) error {
	k.mu.Lock()
	k.stopped = true
	if k.cancel != nil {
		k.cancel()
	}
	running := k.running
	k.mu.Unlock()
	if running == nil {
		return nil
	}
	select {
	case <-running:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
