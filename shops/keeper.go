package shops

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/shoptoken/shoptoken"
)

// SweepResult says what one sweep did.
type SweepResult struct {
	Due         int             // shops the index said were due
	Refreshed   int             // shops given a new token (by this sweep or, just before, by another process)
	NotDue      int             // shops that turned out not to be due any more (refreshed elsewhere); rescheduled
	Failed      int             // shops whose refresh failed for a passing reason; retried later
	Reauthorize []shoptoken.Key // shops whose grant needs a person: reported to WithOnReauthorize and unscheduled
}

var errNoIndex = &shoptoken.Error{Op: "sweep", Kind: shoptoken.ErrBadRequest,
	Message: "the App has no due index (WithStore with a DueIndex store, or WithDueIndex)"}

// Sweep refreshes the App's shops that are due now, at most WithRate per second, and schedules
// each again. It sees only the App's own namespace of the due index: another platform's or
// another app's shops in the same store are never touched. One sweep takes up to WithBatch shops.
func (a *App) Sweep(ctx context.Context) (res SweepResult, err error) {
	if a.due == nil {
		return res, errNoIndex
	}
	if fns := a.cfg.onSweep; len(fns) > 0 {
		defer func() {
			for _, fn := range fns {
				fn(shoptoken.Key{Platform: a.p.Name, App: a.p.App}, res, err)
			}
		}()
	}
	// The index must show what this process knows before it is asked what is due.
	if err := a.due.flush(ctx); err != nil {
		return res, err
	}
	keys, err := a.cfg.idx.Due(ctx, a.ns, a.clock.Now(), a.cfg.batch)
	if err != nil {
		return res, err
	}
	res.Due = len(keys)
	gap := time.Duration(float64(time.Second) / a.cfg.rate)
	for i, key := range keys {
		if i > 0 {
			if err := a.sleep(ctx, gap); err != nil {
				break
			}
		}
		k, err := shoptoken.ParseKey(key)
		if err != nil || k.Namespace() != a.ns || k.Shop == "" {
			// Not a key this App wrote: never act on it, and keep it from coming back.
			a.due.put(key, time.Time{})
			continue
		}
		a.keep(ctx, k, key, &res)
	}
	ferr := a.due.flush(ctx)
	if res.Due > 0 {
		a.log.Info("shoptoken: keeper sweep", "platform", a.p.Name, "app", a.p.App, "due", res.Due,
			"refreshed", res.Refreshed, "not_due", res.NotDue, "failed", res.Failed, "reauthorize", len(res.Reauthorize))
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	return res, ferr
}

func (a *App) keep(ctx context.Context, k shoptoken.Key, key string, res *SweepResult) {
	c, err := a.Cache(k.Shop)
	if err != nil {
		a.failed(ctx, k, key, err, res)
		return
	}
	// Load first: the shop may have been refreshed elsewhere since it was scheduled.
	loaded, err := c.Token(ctx)
	if err != nil && !errors.Is(err, shoptoken.ErrTokenInvalid) {
		a.failed(ctx, k, key, err, res)
		return
	}
	tok, refreshed, err := c.RefreshIfDue(ctx)
	if err != nil {
		a.failed(ctx, k, key, err, res)
		return
	}
	// Loading a due token starts its planned refresh at once, so "refreshed" also covers a token
	// that changed since it was loaded.
	if refreshed || (loaded != nil && tok != nil && (loaded.AccessToken != tok.AccessToken || loaded.RefreshToken != tok.RefreshToken)) {
		res.Refreshed++
	} else {
		res.NotDue++
	}
	a.due.put(key, c.Due()) // zero: never due again, out of the index
}

func (a *App) failed(ctx context.Context, k shoptoken.Key, key string, err error, res *SweepResult) {
	if shoptoken.IsPermanent(err) {
		res.Reauthorize = append(res.Reauthorize, k)
		a.due.put(key, time.Time{})
		a.log.Warn("shoptoken: grant needs authorization again", "platform", k.Platform, "app", k.App, "shop", k.Shop, "err", err)
		if a.cfg.onReauth != nil {
			a.cfg.onReauth(k, err)
		}
		return
	}
	if ctx.Err() != nil {
		return // the sweep was stopped: the shop stays due as it was
	}
	res.Failed++
	// Shops that failed together (a platform outage) come back spread over half a retry period,
	// not in one burst.
	a.due.put(key, a.clock.Now().Add(a.cfg.retry+rand.N(a.cfg.retry/2+1)))
}

// Run sweeps every WithSweepEvery until ctx ends or Close or Shutdown is called. It returns ctx's
// error, or nil after Close or Shutdown. A refresh a sweep started goes on after Run returns;
// Shutdown waits for it.
func (a *App) Run(ctx context.Context) error {
	if a.due == nil {
		return errNoIndex
	}
	a.kmu.Lock()
	if a.stopped {
		a.kmu.Unlock()
		return nil
	}
	ctx, a.cancel = context.WithCancel(ctx)
	a.running = make(chan struct{})
	running := a.running
	a.kmu.Unlock()
	defer close(running)
	for {
		if _, err := a.Sweep(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("shoptoken: keeper sweep failed", "platform", a.p.Name, "app", a.p.App, "err", err)
		}
		if err := a.sleep(ctx, a.cfg.every); err != nil {
			a.kmu.Lock()
			stopped := a.stopped
			a.kmu.Unlock()
			if stopped {
				return nil
			}
			return context.Cause(ctx)
		}
	}
}

// stopKeeper ends a running Run (and any later one) and waits for it until ctx ends.
func (a *App) stopKeeper(ctx context.Context) error {
	a.kmu.Lock()
	a.stopped = true
	if a.cancel != nil {
		a.cancel()
	}
	running := a.running
	a.kmu.Unlock()
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

// sleep waits d of real time, or until ctx ends. Pacing is about real time, whatever the App's
// clock (a test's fake clock decides only what is due).
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
