package shoptoken

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by a Cache after Close.
var ErrClosed = errors.New("shoptoken: cache closed")

// Cache is the engine that every platform package builds on: it caches a token, refreshes it ahead
// of expiry in the background, shares one refresh among concurrent callers, persists every new
// token before anyone sees it, and with a shared Store coordinates a fleet of processes so that one
// platform call serves them all.
//
// A Cache is safe for concurrent use. Its warm read (Token while the token is valid) takes no lock,
// allocates nothing and reads no clock: the token's validity is kept in an atomic pointer that
// timers flip.
type Cache struct {
	r   Refresher
	cfg *config // shared by the Caches of a Template: read-only
	id  Key

	// state is what Token returns without a lock; never nil.
	state atomic.Pointer[cacheState]

	mu          sync.Mutex
	flight      *flight       // the refresh under way, if any
	version     int64         // store version of the current token (0: not stored)
	seed        *Token        // WithToken's token, until the store has been offered it
	failures    int           // consecutive failed refreshes
	lastErr     error         // the last failure, returned while backing off
	nextAttempt time.Time     // no platform call before this after a failure
	gaveUp      bool          // a permanent error for the current token: no planned refresh until a new one
	lastCall    time.Time     // when the last platform call began (minimum interval)
	storeDown   time.Time     // until then the callers' path makes no store round trip (a slow failure was seen)
	storeFailed time.Time     // when a store round trip last failed; zero after one succeeds
	corrupt     bool          // the store holds a damaged value (reported once, until it is replaced)
	rejected    *Token        // the last token the platform rejected; never adopted again
	warnedEnd   time.Time     // the grant end EventGrantExpiring was emitted for (once per grant, not per token)
	stopTimer   func() bool   // cancels the pending timer
	pending     *Token        // a new token the store has not accepted yet; the background saver retries it
	saving      bool          // the background saver is running
	kick        chan struct{} // wakes the background saver at once (Shutdown); made with the saver
	idle        chan struct{} // closed when a flight ends or a pending token is settled (Shutdown waits on it)
	closed      bool
}

type cacheState struct {
	tok    *Token
	usable bool
	due    time.Time // planned refresh of tok, fixed when it was published; zero: none
}

type flight struct {
	done chan struct{}
	tok  *Token
	err  error
}

// wait returns the flight's result, or gives up at ctx's end (the flight goes on without it).
func (f *flight) wait(ctx context.Context, op string) (*Token, error) {
	select {
	case <-f.done:
		if f.err != nil {
			return nil, f.err
		}
		return f.tok, nil
	case <-ctx.Done():
		return nil, &Error{Op: op, Kind: ErrUnavailable, Message: "gave up waiting for the refresh", Err: ctx.Err()}
	}
}

// NewCache returns a Cache that obtains tokens from r.
//
// Defaults: refresh 5 minutes ahead of expiry (±10 % jitter), a token counts as expired 10 s before
// Expiry, each part of a refresh (preparing, then the platform call) takes at most 30 s, a store
// round trip on the callers' path at most 2 s, the fleet lease lives 10 s and is renewed while
// held, platform calls for the key are at least 1 s apart, failed refreshes back off from 1 s to
// 5 min. Platform packages set their own defaults; options given by the caller come last and win.
//
// NewCache fails with an ErrBadRequest *Error, before anything is sent, when r is nil or an
// option was given a value that makes no sense (see each option), naming every such option.
func NewCache(r Refresher, opts ...Option) (*Cache, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	from, version := cfg.initial, int64(0)
	if cfg.stored != nil {
		from, version = cfg.stored, cfg.storedVersion
	}
	return newCache(r, cfg, cfg.key, from, version)
}

// Template makes Caches that share one set of options and differ only in their Key, Refresher and
// starting token: the shops of one app. Each Cache then holds a pointer to the shared options
// instead of a copy of them, which matters at a million shops. A Template is safe for concurrent
// use; the options it was made with must not name a Key, WithToken or WithStoredToken (they are
// per Cache).
type Template struct{ cfg *config }

// NewTemplate validates opts once for every Cache the Template makes (see NewCache).
func NewTemplate(opts ...Option) (*Template, error) {
	cfg, err := newConfig(append(opts[:len(opts):len(opts)], WithKey(Key{Platform: "template", App: "template"})))
	if err != nil {
		return nil, err
	}
	if cfg.initial != nil || cfg.stored != nil {
		return nil, &Error{Op: "new_template", Kind: ErrBadRequest, Message: "WithToken and WithStoredToken belong to one Cache, not to a Template"}
	}
	return &Template{cfg: cfg}, nil
}

// New returns a Cache for k that obtains tokens from r with the Template's options. from, when
// not nil, is the token to start from: as WithStoredToken(from, version) when version > 0 (the
// caller loaded it from the Template's store at that version), else as WithToken(from).
func (t *Template) New(r Refresher, k Key, from *Token, version int64) (*Cache, error) {
	if t.cfg.store != nil {
		if err := k.Check(); err != nil {
			return nil, err
		}
	}
	return newCache(r, t.cfg, k, from.Clone(), version)
}

// Due returns what Cache.Due would report for a Cache of the Template that starts from tok: when
// tok's planned refresh (or grant warning) falls due under the Template's options, at its clock's
// now. It makes no Cache, arms no timer and touches no store, so an operators' tool can show the
// engine's plan for a stored token without setting it off. Zero: never.
func (t *Template) Due(tok *Token) time.Time {
	if tok == nil {
		return time.Time{}
	}
	c := &Cache{cfg: t.cfg}
	return c.dueOf(&cacheState{tok: tok, due: c.planRefresh(tok, nil, t.cfg.clock.Now())})
}

func newCache(r Refresher, cfg *config, k Key, from *Token, version int64) (*Cache, error) {
	if r == nil {
		return nil, &Error{Op: "new_cache", Kind: ErrBadRequest, Message: "the Refresher is nil"}
	}
	c := &Cache{r: r, cfg: cfg, id: k}
	c.state.Store(&cacheState{})
	if from == nil || from.AccessToken+from.RefreshToken == "" {
		return c, nil
	}
	clampTimes(from)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case cfg.store == nil:
		c.publishLocked(from)
	case version > 0:
		c.version = version
		if c.usableAt(from, cfg.clock.Now()) {
			c.publishLocked(from)
		} else {
			c.state.Store(&cacheState{tok: from}) // the refresher starts from it
		}
	default:
		c.seed = from // offered to the store on first use
	}
	return c, nil
}

// Token returns a valid token. While the cached token is valid it returns at once, even while a
// refresh ahead of expiry runs in the background. Otherwise it waits for the one refresh that all
// concurrent callers share, or until ctx ends; the refresh itself goes on and fills the cache.
//
// After a failed refresh, calls return that error at once, without a platform call, until the
// backoff has passed. The returned token is shared: do not modify it.
func (c *Cache) Token(ctx context.Context) (*Token, error) {
	if s := c.state.Load(); s.usable {
		return s.tok, nil
	}
	return c.slow(ctx, nil, false)
}

// Invalidate reports that the platform rejected rejected. It refreshes only if rejected is still
// the current token, here or in the shared store; if a newer token is already there it returns that
// one without a platform call. So any number of callers that saw the same rejection cause one
// refresh. A nil rejected means the current token.
//
// Give it the very token the failed request was sent with, not the result of a later Token call:
// by then the Cache may hold a fresh token, and invalidating that one would throw away a token
// that works (and, on a platform where every fetch kills the previous token, kill it for the
// whole fleet). A rejected token that is neither the Cache's own nor known to be older (its
// IssuedAt is not before the Cache's token's) may be the fleet's current token, which another
// process stored: the store is read to find out.
func (c *Cache) Invalidate(ctx context.Context, rejected *Token) (*Token, error) {
	return c.slow(ctx, rejected, true)
}

// Set installs tok as the current token, e.g. after the merchant authorized again, saving it to the
// store first (overwriting what is there, a damaged value included) and clearing any remembered
// failure. A token whose times cannot be stored (outside the years 1 to 9999) is refused with
// ErrBadRequest.
func (c *Cache) Set(ctx context.Context, tok *Token) error {
	if tok == nil || tok.AccessToken == "" && tok.RefreshToken == "" {
		return &Error{Op: "set", Kind: ErrBadRequest, Message: "token has neither access nor refresh token"}
	}
	tok = tok.Clone()
	if clampTimes(tok) {
		return &Error{Op: "set", Kind: ErrBadRequest, Message: "token has a time outside the years 1 to 9999"}
	}
	if c.cfg.store != nil {
		c.mu.Lock()
		prev := c.version
		c.mu.Unlock()
		sctx, cancel := context.WithTimeout(ctx, c.cfg.storeTimeout)
		start := time.Now()
		_, v, err := c.write(sctx, tok, prev, false)
		cancel()
		c.noteStore(ctx, err, time.Since(start))
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.version = v
		c.pending = nil // the installed token supersedes an unsaved older one
		c.mu.Unlock()
	}
	c.mu.Lock()
	c.seed = nil
	c.clearFailureLocked()
	c.rejected = nil
	c.publishLocked(tok)
	v := c.version
	c.mu.Unlock()
	c.emit(Event{Kind: EventPersisted, Token: tok, Version: v})
	return nil
}

// Close stops the Cache's timers; Token then returns ErrClosed. It does not wait: a refresh under
// way finishes, and a token still waiting to be saved (Pending) keeps being retried until the store
// takes it, since it may hold the only copy of a rotated refresh token. A process about to exit
// calls Shutdown instead.
func (c *Cache) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.stopTimer != nil {
		c.stopTimer()
		c.stopTimer = nil
	}
	c.state.Store(&cacheState{tok: c.state.Load().tok})
}

// Shutdown closes the Cache (see Close) and waits until the refresh under way, if any, has ended
// and every new token it produced is saved, or until ctx ends. A token waiting to be saved is
// retried at once rather than after its backoff. It returns nil when nothing is left in flight;
// otherwise an ErrUnavailable *Error wrapping ctx's error, and Pending reports whether a new token
// (on veapi or a Youzan tool app, the only copy of a rotated refresh token) is still unsaved:
// Current returns it, for the caller to keep somewhere safe before the process exits.
func (c *Cache) Shutdown(ctx context.Context) error {
	c.Close()
	c.mu.Lock()
	if c.kick != nil {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
	c.mu.Unlock()
	for {
		c.mu.Lock()
		if c.flight == nil && c.pending == nil {
			c.mu.Unlock()
			return nil
		}
		if c.idle == nil {
			c.idle = make(chan struct{})
		}
		idle := c.idle
		c.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return &Error{Op: "shutdown", Kind: ErrUnavailable, Err: ctx.Err(),
				Message: "a refresh is still under way or a new token is not saved yet (see Pending)"}
		}
	}
}

// settledLocked wakes Shutdown: a flight ended, or the pending token was settled.
func (c *Cache) settledLocked() {
	if c.idle != nil {
		close(c.idle)
		c.idle = nil
	}
}

// Refresh asks the platform for a new token now, as a planned refresh (ReasonEarly) would, and
// waits for it. It shares a refresh already under way; with a shared store it adopts a token that
// another process refreshed meanwhile instead of calling the platform. A Keeper uses it for grants
// nobody has asked for in a while.
func (c *Cache) Refresh(ctx context.Context) (*Token, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	f := c.flight
	if f == nil {
		why := ReasonEarly
		if c.state.Load().tok == nil {
			why = ReasonMissing
		}
		f = c.startLocked(ctx, why)
	}
	c.mu.Unlock()
	return f.wait(ctx, "refresh")
}

// Due returns when the current token's planned refresh (or grant warning) is due: the time a
// Keeper should look at this key again. The zero time means never (no expiry, no early refresh).
func (c *Cache) Due() time.Time { return c.dueOf(c.state.Load()) }

// dueOf returns the earlier of s's planned refresh and its token's grant warning; zero: never.
func (c *Cache) dueOf(s *cacheState) time.Time {
	due := s.due
	if w := c.grantWarnAt(s.tok); !w.IsZero() && (due.IsZero() || w.Before(due)) {
		due = w
	}
	return due
}

// RefreshIfDue joins the refresh under way, or starts a planned one if the current token is due
// (see Due), and waits for it; otherwise it returns the current token. refreshed says whether it
// waited for a refresh. Checking and starting under one lock means a Keeper never refreshes a
// token twice.
func (c *Cache) RefreshIfDue(ctx context.Context) (tok *Token, refreshed bool, err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, false, ErrClosed
	}
	f := c.flight
	if f == nil {
		s := c.state.Load()
		if due := c.dueOf(s); s.tok != nil && (due.IsZero() || due.After(c.cfg.clock.Now())) {
			c.mu.Unlock()
			return s.tok, false, nil
		}
		why := ReasonEarly
		if s.tok == nil {
			why = ReasonMissing
		}
		f = c.startLocked(ctx, why)
	}
	c.mu.Unlock()
	tok, err = f.wait(ctx, "refresh")
	return tok, true, err
}

// Reload reads the store and adopts the token there, without a platform call, if it is usable
// and not a token reported rejected; it returns the token the Cache holds afterwards (nil when it
// has none). Without a store, or when the store fails (reported as EventStoreFailed), the Cache is
// left as it is. A client that decides not to refresh after a rejection still learns this way of a
// token another process obtained.
func (c *Cache) Reload(ctx context.Context) *Token {
	if c.cfg.store != nil {
		if tok, ok := c.adoptStored(ctx, ReasonRejected); ok {
			return tok
		}
	}
	return c.Current()
}

// Refresher returns the Refresher the Cache was made with, so that a platform package can reach
// its own refresher through the Cache it returned.
func (c *Cache) Refresher() Refresher { return c.r }

// Key returns the Key the Cache was made with (WithKey).
func (c *Cache) Key() Key { return c.id }

// Current returns the cached token without checking or refreshing it; nil when there is none.
func (c *Cache) Current() *Token { return c.state.Load().tok }

// slow is the path of Token when the cached token is not usable, and of every Invalidate. It
// marks a rejected current token unusable, then joins the flight under way or starts one: a
// refresh, or, while a permanent error stands, a read of the store (another process may have
// stored a new grant). During the back-off after a failure it returns that failure at once.
func (c *Cache) slow(ctx context.Context, rejected *Token, invalidate bool) (*Token, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	s := c.state.Load()
	if invalidate && s.tok == nil && rejected != nil {
		// Nothing loaded yet: remember what was rejected, so the store's copy of it is not adopted.
		c.rejected = rejected
	}
	if invalidate && s.tok != nil {
		switch {
		case rejected == nil || same(s.tok, rejected):
			c.rejected = s.tok
			if s.usable {
				s = &cacheState{tok: s.tok, due: s.due}
				c.state.Store(s)
			}
		case !issuedAfter(s.tok, rejected):
			// Not our token and not known to be older than ours: it may be the fleet's current
			// token, stored by another process, and is never adopted. The store tells whether
			// ours is older still; one read serves every caller.
			c.rejected = rejected
			if s.usable && c.cfg.store != nil && c.storeUpLocked() {
				f := c.flight
				if f == nil {
					f = c.flyLocked(ctx, c.recheckRejected)
				}
				c.mu.Unlock()
				return f.wait(ctx, "token")
			}
		}
	}
	if s.usable {
		c.mu.Unlock()
		return s.tok, nil
	}
	f := c.flight
	if f == nil {
		why := ReasonExpired
		switch {
		case s.tok == nil:
			why = ReasonMissing
		case same(s.tok, c.rejected):
			why = ReasonRejected
		}
		switch {
		case c.lastErr == nil || !c.cfg.clock.Now().Before(c.nextAttempt):
			f = c.startLocked(ctx, why)
		case IsPermanent(c.lastErr) && c.cfg.store != nil && c.storeUpLocked() &&
			c.cfg.clock.Now().Sub(c.storeFailed) >= c.cfg.backoffMin:
			// The grant is dead here, but another process may have stored a token since (a new
			// authorization): a store read costs the platform nothing. (Not while the store is
			// failing: callers then get the error at once rather than ask a dead store each time.)
			f = c.startRecheckLocked(ctx, why)
		default:
			err := c.lastErr
			c.mu.Unlock()
			return nil, err
		}
	}
	c.mu.Unlock()
	return f.wait(ctx, "token")
}

// recheckRejected is the flight of an Invalidate whose token is not the Cache's own: it adopts a
// newer stored token; refreshes when the store's token is the rejected one; otherwise the Cache's
// own token stands.
func (c *Cache) recheckRejected(ctx context.Context) (*Token, error) {
	if tok, ok := c.adoptStored(ctx, ReasonRejected); ok {
		return tok, nil
	}
	c.mu.Lock()
	s, rejected := c.state.Load(), c.rejected
	c.mu.Unlock()
	if same(s.tok, rejected) || !s.usable {
		return c.refresh(ctx, ReasonRejected)
	}
	return s.tok, nil
}

// startLocked starts the one refresh. It runs on ctx's values but not its cancellation, under its
// own timeouts, so a caller that gives up does not cancel it for everybody else.
func (c *Cache) startLocked(ctx context.Context, why Reason) *flight {
	return c.flyLocked(ctx, func(ctx context.Context) (*Token, error) { return c.refresh(ctx, why) })
}

// startRecheckLocked starts a flight that reads the store during the back-off after a permanent
// error: it adopts a token another process stored; refreshes a new grant stored without a usable
// access token; or fails with the remembered error (a failed recheck does not count as a new
// failure).
func (c *Cache) startRecheckLocked(ctx context.Context, why Reason) *flight {
	before := c.state.Load().tok
	return c.flyLocked(ctx, func(ctx context.Context) (*Token, error) {
		if tok, ok := c.adoptStored(ctx, why); ok {
			return tok, nil
		}
		if after := c.Current(); after != nil && after.RefreshToken != "" &&
			(before == nil || after.RefreshToken != before.RefreshToken) {
			// A new grant was stored that needs a refresh first (veapi's authorization gives
			// only a refresh token): this is a first use of it, not a retry of the dead one.
			return c.refresh(ctx, ReasonExpired)
		}
		return nil, errRecheckFailed
	})
}

// errRecheckFailed: the store held nothing new; the flight's callers get the remembered error.
var errRecheckFailed = errors.New("shoptoken: store recheck found nothing new")

// flyLocked runs get as the Cache's one flight and hands its result to every waiter. get runs on
// ctx's values, detached from its cancellation, with prepTimeout as the budget for what comes
// before a platform call (refresh gives the call a budget of its own).
func (c *Cache) flyLocked(ctx context.Context, get func(context.Context) (*Token, error)) *flight {
	f := &flight{done: make(chan struct{})}
	c.flight = f
	go func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.prepTimeout())
		tok, err := get(rctx)
		cancel()
		c.mu.Lock()
		c.flight = nil
		switch {
		case err == errRecheckFailed:
			// The remembered error stands; it is not a new failure. A Set meanwhile cleared it.
			if err = c.lastErr; err == nil {
				if st := c.state.Load(); st.usable {
					tok = st.tok
				} else {
					err = &Error{Op: "token", Kind: ErrUnavailable, Message: "no usable token"}
				}
			}
		case err != nil:
			c.failLocked(err)
		default:
			c.clearFailureLocked()
			// The token was published while this flight still counted as running, which kept its
			// planned refresh off the timer: arm it now (an adopted token may be due already).
			c.scheduleLocked(c.cfg.clock.Now())
		}
		f.tok, f.err = tok, err
		close(f.done)
		c.settledLocked()
		c.mu.Unlock()
	}()
	return f
}

// refresh produces the next token: from the store when another process already has one, else from
// one platform call under the fleet lease, persisted before it is published.
//
// ctx bounds the preparation: store reads, the lease wait and the minimum-interval wait. The
// platform call gets the whole refresh timeout of its own, whatever the preparation took: a call
// that may be destructive (a rotation, a fetch that kills the previous token) is never started
// with a fraction of its budget, and never given up before its answer arrives. The lease, renewed
// by the Locker, is held until the new token is saved.
func (c *Cache) refresh(ctx context.Context, why Reason) (*Token, error) {
	if c.cfg.store != nil {
		tok, unlock, err := c.prepare(ctx, why)
		switch {
		case tok != nil:
			return tok, nil
		case err != nil:
			return nil, err
		case unlock != nil:
			defer unlock()
		}
	}
	if err := c.spaceCall(ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	cur, base := c.state.Load().tok, c.version
	c.mu.Unlock()
	start := c.cfg.clock.Now()
	callCtx, cancelCall := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.refreshTimeout)
	var traced func(error)
	if c.cfg.trace != nil {
		callCtx, traced = c.cfg.trace(callCtx, c.id, why)
	}
	tok, err := c.r.Refresh(callCtx, cur, why)
	if traced != nil {
		traced(err)
	}
	cancelCall()
	took := c.cfg.clock.Now().Sub(start)
	// What follows the call has budgets of its own (each store round trip its store timeout): the
	// preparation's may be spent by now.
	after := context.WithoutCancel(ctx)
	if err == nil && (tok == nil || tok.AccessToken == "") {
		err = &Error{Op: "refresh", Kind: ErrBadResponse, Message: "refresher returned no access token"}
	}
	if err != nil {
		err = asError(err)
		if IsPermanent(err) && c.cfg.store != nil {
			// Before declaring a grant dead, look again: another process may have rotated it.
			if tok, ok := c.adoptStored(after, why); ok {
				return tok, nil
			}
		}
		kind := EventRefreshFailed
		if IsPermanent(err) {
			kind = EventGrantLost
		}
		c.emit(Event{Kind: kind, Reason: why, Token: cur, Err: err, Duration: took})
		return nil, err
	}
	tok = tok.Clone()
	if tok.IssuedAt.IsZero() {
		// Stores order tokens by version; when a store lost its data and versions start again,
		// the issue time tells an old token from a new one.
		tok.IssuedAt = start
	}
	// A time no store can hold would leave the token unsaved for good: the platform's answer is
	// kept, with the time brought into range.
	clampTimes(tok)
	c.emit(Event{Kind: EventRefreshed, Reason: why, Token: tok, Duration: took})
	return c.persist(after, tok, base), nil
}

// prepare returns a stored token that serves the purpose (another process refreshed already), or
// the fleet's lease for this Cache's own platform call. With neither (the store has no Locker, or
// is unreachable) the Cache goes on alone: the minimum interval still caps platform calls.
//
// With a LeaseLoader store, one round trip takes the lease and reads the token; a process that
// finds the lease held waits for the store to change and reads it once more. Only a Cache that
// holds no token yet reads first without the lease: on a cold start the store usually has one.
func (c *Cache) prepare(ctx context.Context, why Reason) (*Token, func(), error) {
	ll, leaseLoads := c.cfg.store.(LeaseLoader)
	if !leaseLoads || c.Current() == nil {
		if tok, ok := c.adoptStored(ctx, why); ok {
			return tok, nil, nil
		}
	}
	if !c.storeUp() {
		return nil, nil, nil
	}
	if leaseLoads {
		return c.leaseLoad(ctx, ll, why)
	}
	lk, ok := c.cfg.store.(Locker)
	if !ok {
		return nil, nil, nil
	}
	start := time.Now()
	unlock, err := c.lock(ctx, lk)
	if errors.Is(err, errStoreChanged) {
		// Another process saved while we waited for its lease.
		if tok, ok := c.adoptStored(ctx, why); ok {
			return tok, nil, nil
		}
		unlock, err = lk.Lock(ctx, c.id.String(), c.cfg.leaseTTL)
	}
	switch {
	case err == nil:
		// Whoever held the lease before us may have refreshed already.
		if tok, ok := c.adoptStored(ctx, why); ok {
			unlock()
			return tok, nil, nil
		}
		return nil, unlock, nil
	case ctx.Err() != nil:
		return nil, nil, errLeaseWait(ctx)
	}
	c.noteStore(ctx, err, time.Since(start))
	c.emit(Event{Kind: EventStoreFailed, Err: err})
	return nil, nil, nil
}

func errLeaseWait(ctx context.Context) error {
	return &Error{Op: "refresh", Kind: ErrUnavailable, Message: "timed out waiting for the refresh lease", Err: ctx.Err()}
}

// leaseLoad is prepare on a LeaseLoader store: take the lease and read the token in one round
// trip; while another process holds the lease, wait for the store to change and read again.
func (c *Cache) leaseLoad(ctx context.Context, ll LeaseLoader, why Reason) (*Token, func(), error) {
	for {
		lctx, cancel := context.WithTimeout(ctx, c.cfg.storeTimeout)
		start := time.Now()
		res, err := ll.TryLockLoad(lctx, c.id.String(), c.cfg.leaseTTL)
		cancel()
		c.noteStore(ctx, err, time.Since(start))
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, errLeaseWait(ctx)
			}
			c.emit(Event{Kind: EventStoreFailed, Err: err})
			return nil, nil, nil
		}
		if tok, ok := c.adopt(ctx, why, res.Token, res.Version, res.LoadErr); ok {
			if res.Unlock != nil {
				res.Unlock()
			}
			return tok, nil, nil
		}
		if res.Unlock != nil {
			return nil, res.Unlock, nil
		}
		if !c.awaitChange(ctx) {
			return nil, nil, errLeaseWait(ctx)
		}
		if tok, ok := c.adoptStored(ctx, why); ok {
			return tok, nil, nil
		}
	}
}

// prepTimeout bounds the preparation of a refresh: its own store reads and interval wait (a
// refresh timeout), and a wait for a lease holder, which may take as long as the holder's
// platform call (a refresh timeout of its own) and its save. A waiter never gives up on a holder
// that is within its budget; callers stop waiting at their own deadlines anyway.
func (c *Cache) prepTimeout() time.Duration {
	return 2*c.cfg.refreshTimeout + c.cfg.storeTimeout
}

// awaitChange waits until the key changes in the store (a Watcher wakes it: the lease holder
// saved or let go), or for a short while, in case the notification was lost (a store that
// restarted, a pub/sub connection being rebuilt); false when ctx ended.
func (c *Cache) awaitChange(ctx context.Context) bool {
	wait := min(c.cfg.leaseTTL/4, time.Second)
	var changed <-chan struct{}
	if w, ok := c.cfg.store.(Watcher); ok {
		ch, stop, err := w.Watch(ctx, c.id.String())
		if err == nil {
			defer stop()
			changed = ch
		}
	}
	if changed == nil {
		wait = min(wait, 50*time.Millisecond) // polling
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-changed:
	case <-t.C:
	case <-ctx.Done():
		return false
	}
	return true
}

// saveTimeout bounds one background store write of a token waiting to be saved.
const saveTimeout = 10 * time.Second

// storeQuarantine is how long after a slow store failure (one that took at least half the store
// timeout: a partition, an overloaded server) the callers' path goes without the store: no reads,
// no lease, new tokens published at once and saved in the background, whose first success ends it.
// A store that fails fast (connection refused) costs callers nothing and is asked every time.
const storeQuarantine = 5 * time.Second

var (
	errStoreChanged = errors.New("shoptoken: store changed while waiting for the lease")
	errStoreDown    = errors.New("shoptoken: store unreachable moments ago; not asked again yet")
)

// storeUp reports whether the store may be asked on the callers' path (no failure in the last
// storeQuarantine).
func (c *Cache) storeUp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.storeUpLocked()
}

func (c *Cache) storeUpLocked() bool { return !c.cfg.clock.Now().Before(c.storeDown) }

// noteStore records how a store round trip made under ctx, which took took, went: an answer (a
// token, not found, a conflict, damage) ends a quarantine; a slow failure starts one, unless ctx
// itself ended (that says nothing about the store).
func (c *Cache) noteStore(ctx context.Context, err error, took time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) || errors.Is(err, ErrCorrupt):
		c.storeDown, c.storeFailed = time.Time{}, time.Time{}
	case err == errStoreDown || ctx.Err() != nil:
	case took < c.cfg.storeTimeout/2:
		c.storeFailed = c.cfg.clock.Now()
	default:
		c.storeFailed = c.cfg.clock.Now()
		c.storeDown = c.storeFailed.Add(storeQuarantine)
	}
}

// load reads the store within the store timeout, or fails at once with errStoreDown while the
// store is in quarantine.
func (c *Cache) load(ctx context.Context) (*Token, int64, error) {
	if !c.storeUp() {
		return nil, 0, errStoreDown
	}
	lctx, cancel := context.WithTimeout(ctx, c.cfg.storeTimeout)
	defer cancel()
	start := time.Now()
	tok, ver, err := c.cfg.store.Load(lctx, c.id.String())
	c.noteStore(ctx, err, time.Since(start))
	return tok, ver, err
}

// lock takes the fleet lease. With a Watcher store it stops waiting as soon as the key changes
// (errStoreChanged), because the holder's new token usually makes our own refresh unnecessary.
func (c *Cache) lock(ctx context.Context, lk Locker) (func(), error) {
	w, ok := c.cfg.store.(Watcher)
	if !ok {
		return lk.Lock(ctx, c.id.String(), c.cfg.leaseTTL)
	}
	changed, stop, err := w.Watch(ctx, c.id.String())
	if err != nil {
		return lk.Lock(ctx, c.id.String(), c.cfg.leaseTTL)
	}
	defer stop()
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var woke atomic.Bool
	go func() {
		select {
		case <-changed:
			woke.Store(true)
			cancel()
		case <-lctx.Done():
		}
	}()
	unlock, err := lk.Lock(lctx, c.id.String(), c.cfg.leaseTTL)
	if err != nil && ctx.Err() == nil && woke.Load() {
		return nil, errStoreChanged
	}
	return unlock, err
}

// spaceCall waits until the minimum interval since the last platform call has passed, or fails at
// once with ErrRateLimited if that wait would take longer than the refresh timeout or outlast ctx
// (the preparation budget). The platform call that follows has a budget of its own.
func (c *Cache) spaceCall(ctx context.Context) error {
	c.mu.Lock()
	now := c.cfg.clock.Now()
	wait := c.lastCall.Add(c.cfg.minInterval).Sub(now)
	if c.lastCall.IsZero() || wait < 0 {
		wait = 0
	}
	if dl, ok := ctx.Deadline(); wait > c.cfg.refreshTimeout || ok && wait > 0 && time.Until(dl) < wait {
		c.mu.Unlock()
		return &Error{Op: "refresh", Kind: ErrRateLimited,
			Message: "next platform call for this key is allowed in " + wait.Round(time.Millisecond).String() + " (minimum interval)"}
	}
	c.lastCall = now.Add(wait)
	c.mu.Unlock()
	if wait == 0 {
		return nil
	}
	return c.sleep(ctx, wait)
}

func (c *Cache) sleep(ctx context.Context, d time.Duration) error {
	done := make(chan struct{})
	stop := c.cfg.clock.AfterFunc(d, func() { close(done) })
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		stop()
		return &Error{Op: "refresh", Kind: ErrUnavailable, Err: ctx.Err()}
	}
}

// adoptStored reads the store and publishes the stored token when it serves the purpose without a
// platform call: it is valid, not the rejected one, and (for a planned refresh) not itself due.
// A newer stored token that does not serve becomes the current token anyway (unusable), so the
// refresher starts from the latest refresh token. A damaged stored value is reported once and
// counts as no token, at the version that replaces it.
func (c *Cache) adoptStored(ctx context.Context, why Reason) (*Token, bool) {
	stored, ver, err := c.load(ctx)
	return c.adopt(ctx, why, stored, ver, err)
}

// adopt is adoptStored for what a read of the store returned.
func (c *Cache) adopt(ctx context.Context, why Reason, stored *Token, ver int64, err error) (*Token, bool) {
	c.mu.Lock()
	seed := c.seed
	c.mu.Unlock()
	if errors.Is(err, ErrCorrupt) {
		c.mu.Lock()
		report := !c.corrupt
		c.corrupt = true
		c.mu.Unlock()
		if report {
			c.emit(Event{Kind: EventStoreCorrupt, Version: ver, Err: err})
		}
		// No token, then. The next save replaces the damage: at ver (the seed below), or after
		// its compare-and-swap fails, at the version a fresh Load reports (write).
		err = ErrNotFound
	}
	if errors.Is(err, ErrNotFound) && seed != nil {
		// First use with WithToken and an empty store: the given token seeds the fleet.
		sctx, cancel := context.WithTimeout(ctx, c.cfg.storeTimeout)
		start := time.Now()
		ver, err = c.cfg.store.Save(sctx, c.id.String(), seed, ver)
		stored = seed
		if errors.Is(err, ErrConflict) {
			stored, ver, err = c.cfg.store.Load(sctx, c.id.String())
		}
		cancel()
		c.noteStore(ctx, err, time.Since(start))
		if err == nil {
			c.mu.Lock()
			c.seed, c.corrupt = nil, false
			c.mu.Unlock()
		}
	}
	if errors.Is(err, ErrNotFound) {
		return nil, false
	}
	if err != nil {
		if err != errStoreDown {
			c.emit(Event{Kind: EventStoreFailed, Err: err})
		}
		if seed != nil {
			// The store cannot say whether it holds something newer. Start from the seed rather
			// than from nothing: its refresh token is the only one this process has.
			c.mu.Lock()
			if c.state.Load().tok == nil {
				c.publishLocked(seed)
			}
			tok, usable := c.state.Load().tok, c.state.Load().usable
			c.mu.Unlock()
			if usable && why != ReasonEarly && !same(tok, c.rejected) {
				return tok, true
			}
		}
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corrupt = false
	now := c.cfg.clock.Now()
	cur := c.state.Load().tok
	if ver < c.version && !issuedAfter(stored, cur) {
		return nil, false // an older read than what we hold: ignore it
	}
	if c.pending != nil && ver == c.version && !same(stored, c.pending) {
		// The store still holds the token that our unsaved one replaced (its save is being
		// retried): that token's refresh token may be spent already. Refresh from ours instead.
		return nil, false
	}
	byVersion := ver > c.version
	// A lower version with a token issued after ours means the store lost its data (a Redis
	// restart without persistence, a failover) and its versions started again: the stored token
	// is the fleet's newest, and our version number no longer means anything.
	newer := ver != c.version || cur == nil
	c.version = ver
	serves := c.usableAt(stored, now) && !same(stored, c.rejected) &&
		!(why == ReasonEarly && (same(stored, cur) || !now.Before(c.refreshAt(stored, now))))
	if !serves {
		if newer && !same(stored, cur) {
			if c.usableAt(stored, now) && !same(stored, c.rejected) {
				c.publishLocked(stored) // still valid: serve it while the planned refresh goes on
			} else {
				c.state.Store(&cacheState{tok: stored})
			}
		}
		return nil, false
	}
	if !same(stored, cur) || !c.state.Load().usable {
		c.publishLocked(stored)
		c.dropPendingLocked(stored, byVersion)
		c.emit(Event{Kind: EventAdopted, Token: stored, Version: ver})
	}
	return c.state.Load().tok, true
}

// dropPendingLocked forgets the token waiting to be saved when the fleet's token, adopted from the
// store, supersedes it; saving it later would put an older token over the newer one. That takes
// evidence: a version above the one the pending token was based on (byVersion), or a later issue
// time. Without it the pending token stays: it may carry the only copy of a rotated refresh token.
func (c *Cache) dropPendingLocked(adopted *Token, byVersion bool) {
	if c.pending != nil && !same(c.pending, adopted) && (byVersion || issuedAfter(adopted, c.pending)) {
		c.pending = nil
		c.settledLocked()
	}
}

// issuedAfter reports whether a was issued after b, both issue times known.
func issuedAfter(a, b *Token) bool {
	return a != nil && b != nil && !a.IssuedAt.IsZero() && !b.IssuedAt.IsZero() && a.IssuedAt.After(b.IssuedAt)
}

// persist saves tok (compare-and-swap on base, the version the refresh started from) and then
// publishes it. On a conflict the newer stored token wins if it works. If the store fails, or is
// in quarantine after a recent failure, tok is used anyway and the background saver retries it:
// a rotated refresh token must never be dropped, and callers must not wait for a dead store.
func (c *Cache) persist(ctx context.Context, tok *Token, base int64) *Token {
	if c.cfg.store == nil {
		c.mu.Lock()
		c.publishLocked(tok)
		c.mu.Unlock()
		return tok
	}
	var (
		won *Token
		ver int64
		err error = errStoreDown
	)
	if c.storeUp() {
		wctx, cancel := context.WithTimeout(ctx, c.cfg.storeTimeout)
		start := time.Now()
		won, ver, err = c.write(wctx, tok, base, true)
		cancel()
		c.noteStore(ctx, err, time.Since(start))
	}
	if won != nil {
		return won
	}
	c.mu.Lock()
	if err == nil {
		c.version, c.corrupt = ver, false
		// tok was refreshed from the current token, which a pending token was or preceded: a
		// pending older token is obsolete (its refresh token is spent), and saving it later
		// would put it over tok.
		c.pending = nil
	}
	c.publishLocked(tok)
	c.mu.Unlock()
	if err == nil {
		c.emit(Event{Kind: EventPersisted, Token: tok, Version: ver})
		return tok
	}
	c.emit(Event{Kind: EventSaveFailed, Token: tok, Err: err})
	c.mu.Lock()
	c.pending = tok // a newer unsaved token replaces an older one: only the newest matters
	if !c.saving {
		c.saving = true
		if c.kick == nil {
			c.kick = make(chan struct{}, 1)
		}
		go c.saveLoop(c.kick)
	}
	c.mu.Unlock()
	return tok
}

// write saves tok at version base. When the store moved on (a lost compare-and-swap), with adopt
// it first offers the stored token in tok's place (resolveConflict: a newer working token wins,
// no second platform call); otherwise, or when the stored token is of no use, tok is written over
// whatever is stored, a damaged value included. adopted is the stored token that won, or nil when
// tok was written at version ver.
func (c *Cache) write(ctx context.Context, tok *Token, base int64, adopt bool) (adopted *Token, ver int64, err error) {
	st, key := c.cfg.store, c.id.String()
	ver, err = st.Save(ctx, key, tok, base)
	if !errors.Is(err, ErrConflict) && !errors.Is(err, ErrNotFound) {
		return nil, ver, err
	}
	if adopt {
		if won, ok := c.resolveConflict(ctx, tok); ok {
			return won, 0, nil
		}
	}
	_, prev, err := st.Load(ctx, key)
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrCorrupt) {
		return nil, 0, err
	}
	ver, err = st.Save(ctx, key, tok, prev)
	return nil, ver, err
}

// resolveConflict handles a lost compare-and-swap: if the stored token works, it is adopted in
// place of tok (no second platform call).
func (c *Cache) resolveConflict(ctx context.Context, tok *Token) (*Token, bool) {
	stored, ver, err := c.cfg.store.Load(ctx, c.id.String())
	if err != nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !same(stored, tok) && (!c.usableAt(stored, c.cfg.clock.Now()) || same(stored, c.rejected)) {
		return nil, false
	}
	if ver < c.version && issuedAfter(tok, stored) {
		// The store's versions went backwards (it lost its data) and holds a token older than
		// ours: ours is the newest, so it is written over the stored one.
		return nil, false
	}
	c.version = ver
	if same(c.pending, tok) {
		c.pending = nil
		c.settledLocked()
	}
	c.publishLocked(stored)
	c.dropPendingLocked(stored, true) // a lost compare-and-swap: the store moved past our base
	if !same(stored, tok) {
		c.emit(Event{Kind: EventAdopted, Token: stored, Version: ver})
	}
	return stored, true
}

// saveLoop retries saving c.pending, whichever token that is by now, with backoff (at once when
// Shutdown asks), until the store takes it or a newer token has been saved. It outlives Close:
// the pending token may hold the only copy of a rotated refresh token.
func (c *Cache) saveLoop(kick <-chan struct{}) {
	for n := 1; ; n++ {
		wait := make(chan struct{})
		stop := c.cfg.clock.AfterFunc(c.backoff(n), func() { close(wait) })
		select {
		case <-wait:
		case <-kick:
			stop()
		}
		c.mu.Lock()
		tok := c.pending
		if tok == nil {
			c.saving = false
			c.settledLocked()
			c.mu.Unlock()
			return
		}
		prev := c.version
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), saveTimeout)
		if c.supersededInStore(ctx, tok, prev) {
			cancel()
			continue
		}
		won, ver, err := c.write(ctx, tok, prev, true)
		cancel()
		c.noteStore(context.Background(), err, 0) // only a success counts: it ends a quarantine
		if won != nil {
			continue // resolved: pending is cleared unless a newer token arrived meanwhile
		}
		if err != nil {
			c.emit(Event{Kind: EventSaveFailed, Token: tok, Err: err})
			continue
		}
		c.mu.Lock()
		if same(c.pending, tok) {
			c.pending = nil
			c.settledLocked()
		}
		if same(c.state.Load().tok, tok) {
			c.version, c.corrupt = ver, false
		}
		c.mu.Unlock()
		c.emit(Event{Kind: EventPersisted, Token: tok, Version: ver})
		n = 0
	}
}

// supersededInStore reports whether the store holds, at prev (the version tok, the token waiting
// to be saved, is based on), a token issued after tok, and if so adopts it in tok's place (or just
// drops tok when the stored one is of no use). Versions alone cannot tell: a store that lost its
// data counts from 1 again, so a delayed Save could match the version of a newer token and
// overwrite it. Issue times from different hosts are compared only in that case.
func (c *Cache) supersededInStore(ctx context.Context, tok *Token, prev int64) bool {
	stored, ver, err := c.cfg.store.Load(ctx, c.id.String())
	if err != nil || ver != prev || same(stored, tok) || !issuedAfter(stored, tok) {
		// Another version than prev makes the Save below conflict, which resolveConflict
		// handles; only a different token at the very version tok was based on could be
		// overwritten by mistake.
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if same(c.pending, tok) {
		c.pending = nil
		c.settledLocked()
	}
	cur := c.state.Load().tok
	if (cur == nil || same(cur, tok) || issuedAfter(stored, cur)) &&
		c.usableAt(stored, c.cfg.clock.Now()) && !same(stored, c.rejected) {
		c.version = ver
		c.publishLocked(stored)
		c.emit(Event{Kind: EventAdopted, Token: stored, Version: ver})
	}
	return true
}

// Pending reports whether a new token is waiting to be saved to the store (the store was down when
// it was issued). A Registry does not evict such a Cache.
func (c *Cache) Pending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pending != nil
}

// publishLocked makes tok the current token and schedules its timers.
func (c *Cache) publishLocked(tok *Token) {
	now := c.cfg.clock.Now()
	if !same(tok, c.state.Load().tok) {
		c.gaveUp = false
	}
	tok.Scope = internScope(tok.Scope)
	prev := c.state.Load().tok
	due := c.planRefresh(tok, prev, now)
	if same(prev, tok) {
		due = c.state.Load().due // the same token again: keep its plan
	}
	c.state.Store(&cacheState{tok: tok, usable: !c.closed && c.usableAt(tok, now), due: due})
	c.scheduleLocked(now)
}

func (c *Cache) usableAt(t *Token, now time.Time) bool {
	return t != nil && t.AccessToken != "" && (t.Expiry.IsZero() || now.Before(t.Expiry.Add(-c.cfg.expirySkew)))
}

// refreshAt returns when a planned refresh of t is due: early before Expiry or RefreshExpiry,
// whichever comes first, jittered, and, for a token whose issue time is known, never more than
// half of the remaining life ahead. Zero time: never.
func (c *Cache) refreshAt(t *Token, now time.Time) time.Time {
	return c.planRefresh(t, nil, now)
}

// planRefresh is refreshAt for a token that replaces prev: when a refresh did not move the grant's
// RefreshExpiry (veapi keeps it fixed), refreshing again cannot move it either, so it stops
// counting, instead of pulling each planned refresh to half the remaining time.
func (c *Cache) planRefresh(t, prev *Token, now time.Time) time.Time {
	if c.cfg.early <= 0 || t == nil {
		return time.Time{}
	}
	ends := []time.Time{t.Expiry, t.RefreshExpiry}
	if prev != nil && !prev.RefreshExpiry.IsZero() && prev.RefreshExpiry.Equal(t.RefreshExpiry) && !same(prev, t) {
		ends = ends[:1]
	}
	var at time.Time
	for _, end := range ends {
		// A refresh expiry already past plans nothing: a refresh now would fail the same way, and
		// planning on it would refresh in a loop.
		if end.IsZero() || (!end.After(now) && end.Equal(t.RefreshExpiry)) {
			continue
		}
		ahead := c.cfg.early + time.Duration(c.cfg.jitter*jitterOf(t)*float64(c.cfg.early))
		// Never earlier than half the remaining life, so that a platform issuing short-lived
		// tokens does not cause a refresh loop. That needs the issue time, which the Cache stamps
		// on every token it obtains; a token of unknown age (WithToken, an old store) inside the
		// early window is refreshed now.
		if start := t.IssuedAt; !start.IsZero() {
			if start.After(now) {
				start = now
			}
			if life := end.Sub(start); ahead > life/2 {
				ahead = life / 2
			}
		}
		if a := end.Add(-ahead); at.IsZero() || a.Before(at) {
			at = a
		}
	}
	return at
}

// scopes interns scope lists: a Youzan token carries some fifty scopes, the same for every shop of
// an app, and 100 000 shops should not hold 100 000 copies. Published tokens are read-only, so
// they can share one slice. Lists are found by a hash of their elements, so publishing a token
// allocates nothing here. Bounded, because the set of distinct lists is small in practice.
var scopes struct {
	sync.Mutex
	m map[uint64][][]string // hash → the lists with that hash
	n int
}

const maxInternedScopes = 1024

func internScope(scope []string) []string {
	if len(scope) == 0 {
		return scope
	}
	h := uint64(14695981039346656037) // FNV-1a over the elements, each followed by a 0 byte
	for _, e := range scope {
		for i := 0; i < len(e); i++ {
			h = (h ^ uint64(e[i])) * 1099511628211
		}
		h *= 1099511628211
	}
	scopes.Lock()
	defer scopes.Unlock()
	for _, l := range scopes.m[h] {
		if slices.Equal(l, scope) {
			return l
		}
	}
	if scopes.m == nil {
		scopes.m = map[uint64][][]string{}
	}
	if scopes.n < maxInternedScopes {
		scopes.m[h] = append(scopes.m[h], scope)
		scopes.n++
	}
	return scope
}

// jitterOf returns a number in [-1, 1) that is fixed for a token and spread across tokens (a hash
// of its access token), so a token's planned refresh time does not move each time it is computed.
func jitterOf(t *Token) float64 {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(t.AccessToken); i++ {
		h = (h ^ uint32(t.AccessToken[i])) * 16777619
	}
	// fmix32 from MurmurHash3: keys that differ in one character land far apart.
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return float64(h)/float64(1<<31) - 1
}

// grantWarnAt returns when EventGrantExpiring is due for t; zero: never.
func (c *Cache) grantWarnAt(t *Token) time.Time {
	end := grantEnd(t)
	if c.cfg.grantWarning <= 0 || end.IsZero() {
		return time.Time{}
	}
	return end.Add(-c.cfg.grantWarning)
}

// grantEnd returns when t's grant lapses: RefreshExpiry, or Expiry for a token that cannot be
// refreshed; zero when unknown.
func grantEnd(t *Token) time.Time {
	if t == nil {
		return time.Time{}
	}
	if t.RefreshExpiry.IsZero() && t.RefreshToken == "" {
		return t.Expiry
	}
	return t.RefreshExpiry
}

// scheduleLocked arms one timer for the next thing due for the current token: its expiry, its
// planned refresh (or the retry of a failed one), or the grant warning.
func (c *Cache) scheduleLocked(now time.Time) {
	if c.stopTimer != nil {
		c.stopTimer()
		c.stopTimer = nil
	}
	s := c.state.Load()
	if c.closed || s.tok == nil {
		return
	}
	tok := s.tok
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if s.usable {
		if !tok.Expiry.IsZero() {
			consider(tok.Expiry.Add(-c.cfg.expirySkew))
		}
		if at := s.due; !at.IsZero() && !c.gaveUp {
			if c.lastErr != nil && c.nextAttempt.After(at) {
				at = c.nextAttempt
			}
			// While a refresh runs, a refresh already due is its business: when it ends it
			// publishes (and schedules) a new token or records a failure (and schedules a retry).
			if c.flight == nil || at.After(now) {
				consider(at)
			}
		}
	}
	if at := c.grantWarnAt(tok); !at.IsZero() && !c.warnedEnd.Equal(grantEnd(tok)) {
		consider(at)
	}
	if next.IsZero() {
		return
	}
	c.stopTimer = c.cfg.clock.AfterFunc(max(next.Sub(now), 0), func() { c.onTimer(tok) })
}

// onTimer runs when the timer armed by scheduleLocked for tok fires: it marks tok unusable at its
// expiry, emits the grant warning when due, starts the planned refresh (or the retry of a failed
// one) when due, and arms the timer for the next thing. A timer for a token that is no longer
// current does nothing.
func (c *Cache) onTimer(tok *Token) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.state.Load()
	if c.closed || s.tok != tok {
		return // a newer token was published meanwhile
	}
	now := c.cfg.clock.Now()
	if s.usable && !c.usableAt(tok, now) {
		s = &cacheState{tok: tok, due: s.due}
		c.state.Store(s)
	}
	if at := c.grantWarnAt(tok); !at.IsZero() && !now.Before(at) && !c.warnedEnd.Equal(grantEnd(tok)) {
		c.warnedEnd = grantEnd(tok)
		c.emit(Event{Kind: EventGrantExpiring, Token: tok})
	}
	if s.usable && c.flight == nil && !c.gaveUp {
		at := s.due
		if !at.IsZero() && !now.Before(at) && (c.lastErr == nil || !now.Before(c.nextAttempt)) {
			c.startLocked(context.Background(), ReasonEarly)
		}
	}
	// Keep the expiry timer armed while a planned refresh runs, so the token stops being served on
	// time even if the refresh hangs.
	c.stopTimer = nil
	c.scheduleLocked(now)
}

func (c *Cache) failLocked(err error) {
	now := c.cfg.clock.Now()
	c.lastErr = err
	c.failures++
	if IsPermanent(err) {
		c.gaveUp = true
		c.nextAttempt = now.Add(c.cfg.backoffMax)
	} else {
		c.nextAttempt = now.Add(c.backoff(c.failures))
	}
	c.scheduleLocked(now)
}

func (c *Cache) clearFailureLocked() {
	c.failures = 0
	c.lastErr = nil
	c.nextAttempt = time.Time{}
}

// backoff returns the wait after the n-th consecutive failure: doubling from backoffMin up to
// backoffMax, with "equal jitter" (between half and all of it), so a fleet does not retry in step.
func (c *Cache) backoff(n int) time.Duration {
	d := c.cfg.backoffMin
	for i := 1; i < n && d < c.cfg.backoffMax; i++ {
		d *= 2
	}
	d = min(d, c.cfg.backoffMax)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// asError makes sure a refresher's error carries a kind, so callers can match it.
func asError(err error) error {
	var e *Error
	if errors.As(err, &e) && e.Kind != nil {
		return err
	}
	return &Error{Op: "refresh", Kind: KindOf(err), Err: err}
}

// Times a Token can hold and still be stored: encoding/json (and so every store) refuses a year
// outside 0 to 9999.
var (
	latestTime   = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	earliestTime = time.Unix(0, 0).UTC() // a time long past, not the zero time ("never expires")
)

// clampTimes brings t's times into the range a store can hold, and reports whether it had to. A
// refresher's token is kept that way rather than lost (it may carry a rotated refresh token);
// Set refuses one instead.
func clampTimes(t *Token) bool {
	changed := false
	for _, p := range []*time.Time{&t.Expiry, &t.RefreshExpiry, &t.IssuedAt} {
		switch {
		case p.IsZero():
		case p.After(latestTime):
			*p, changed = latestTime, true
		case p.Year() < 1:
			*p, changed = earliestTime, true
		}
	}
	return changed
}

// emit reports e to the logger and the WithEvents listeners, filling in Key, Time and (for the
// current token) Due from the Cache's state.
func (c *Cache) emit(e Event) {
	e.Key = c.id
	if e.Time.IsZero() {
		e.Time = c.cfg.clock.Now()
	}
	if s := c.state.Load(); e.Token != nil && e.Token == s.tok {
		e.Due = c.dueOf(s)
	}
	if l := c.cfg.logger; l.Enabled(context.Background(), e.Kind.level()) {
		l.LogAttrs(context.Background(), e.Kind.level(), "shoptoken: "+e.Kind.String(), slog.Any("shoptoken", e))
	}
	if c.cfg.events != nil {
		c.cfg.events(e)
	}
}
