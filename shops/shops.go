package shops

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoptoken/shoptoken"
)

// Platform describes a platform and one app on it to New. Platform packages fill it in from their
// Config; a platform of your own fills it in itself.
type Platform struct {
	// Name is the platform's name in keys and events ("youzan", "veapi", ...). Required.
	Name string
	// App is the app's public id (a client id, an account name; never a secret). Required.
	App string
	// Refresher returns the Refresher of one shop's token. It is called once for each shop whose
	// Cache the App makes, and should share the app's state (HTTP client, credentials) rather than
	// copy it. An error (a shop id the platform cannot have) is returned to the caller. Required.
	Refresher func(shop string) (shoptoken.Refresher, error)
	// Options are the platform's engine defaults (early refresh, minimum interval, grant warning);
	// WithCacheOptions comes after them and wins.
	Options []shoptoken.Option
	// Logger receives the Caches' events and the Keeper's sweeps. nil: nothing is logged.
	Logger *slog.Logger
	// Clock is the source of time of every Cache and of the Keeper. nil: the system clock.
	Clock shoptoken.Clock
}

// Option configures an App.
type Option func(*config)

type config struct {
	store      shoptoken.Store
	idx        shoptoken.DueIndex
	events     []func(shoptoken.Event)
	cacheOpts  []shoptoken.Option
	maxCaches  int
	every      time.Duration
	rate       float64
	batch      int
	retry      time.Duration
	onReauth   func(shoptoken.Key, error)
	onSweep    []func(shoptoken.Key, SweepResult, error)
	errs       []error
	idxFromOpt bool
}

func (c *config) bad(name, why string) { c.errs = append(c.errs, errors.New(name+": "+why)) }

// WithStore persists and shares every shop's token through s (see shoptoken.WithStore). If s is
// also a shoptoken.DueIndex, it keeps the due times too.
func WithStore(s shoptoken.Store) Option {
	return func(c *config) {
		if s == nil {
			c.bad("WithStore", "the store is nil")
			return
		}
		c.store = s
	}
}

// WithDueIndex keeps the due times in idx instead of the store. Without a due index the Keeper
// has nothing to sweep (Run and Sweep fail).
func WithDueIndex(idx shoptoken.DueIndex) Option {
	return func(c *config) {
		if idx == nil {
			c.bad("WithDueIndex", "the index is nil")
			return
		}
		c.idx, c.idxFromOpt = idx, true
	}
}

// WithEvents calls fn for every event of every shop's Cache (see shoptoken.WithEvents); Event.Key
// says which shop. fn must be quick and must not call the App.
func WithEvents(fn func(shoptoken.Event)) Option {
	return func(c *config) {
		if fn != nil {
			c.events = append(c.events, fn)
		}
	}
}

// WithCacheOptions sets engine options for every shop's Cache, after the platform's defaults
// (WithRefreshTimeout, WithEarlyRefresh, WithLeaseTTL, ...). WithStore, WithKey, WithToken,
// WithLogger and WithClock are the App's to set: they are refused here.
func WithCacheOptions(opts ...shoptoken.Option) Option {
	return func(c *config) { c.cacheOpts = append(c.cacheOpts, opts...) }
}

// WithMaxCaches bounds the App to n Caches in memory (0, the default, means no bound): the least
// recently used shops are closed, and loaded again from the store when needed. Give the App a
// Store then, or an evicted shop's token is fetched again.
func WithMaxCaches(n int) Option {
	return func(c *config) {
		if n < 0 {
			c.bad("WithMaxCaches", "must not be negative, got "+strconv.Itoa(n))
			return
		}
		c.maxCaches = n
	}
}

// WithSweepEvery sets how often Run sweeps (default 1 minute).
func WithSweepEvery(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.bad("WithSweepEvery", "must be positive, got "+d.String())
			return
		}
		c.every = d
	}
}

// WithRate caps how many shops per second a sweep refreshes (default 20), so that a backlog of due
// grants (after an outage, or a million shops authorized on one day) does not burst at the
// platform.
func WithRate(perSecond float64) Option {
	return func(c *config) {
		if !(perSecond > 0) || math.IsInf(perSecond, 0) { // also catches NaN
			c.bad("WithRate", "must be a positive number, got "+strconv.FormatFloat(perSecond, 'g', -1, 64))
			return
		}
		c.rate = perSecond
	}
}

// WithBatch sets how many due shops one sweep takes from the index (default 1000).
func WithBatch(n int) Option {
	return func(c *config) {
		if n <= 0 {
			c.bad("WithBatch", "must be positive, got "+strconv.Itoa(n))
			return
		}
		c.batch = n
	}
}

// WithRetryFailed sets when a shop whose refresh failed for a passing reason is looked at again
// (default 5 minutes), plus up to half of it again at random, so that shops that failed together
// are not retried together.
func WithRetryFailed(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.bad("WithRetryFailed", "must be positive, got "+d.String())
			return
		}
		c.retry = d
	}
}

// WithOnReauthorize calls fn, from the sweep, for each shop whose grant is gone or about to go and
// cannot be renewed: a person must authorize again. k is the same Key as in the shop's events.
func WithOnReauthorize(fn func(k shoptoken.Key, err error)) Option {
	return func(c *config) { c.onReauth = fn }
}

// WithOnSweep calls fn at the end of every sweep (Run's and Sweep's) with the App's Key (Platform
// and App; no Shop), what the sweep did and the error Sweep returns, for metrics and health checks
// of the Keeper. Each WithOnSweep adds a listener; they run in order, on the sweeping goroutine,
// so fn must be quick and must not call the App.
func WithOnSweep(fn func(app shoptoken.Key, res SweepResult, err error)) Option {
	return func(c *config) {
		if fn != nil {
			c.onSweep = append(c.onSweep, fn)
		}
	}
}

// App keeps the tokens of one app's shops. Create it with New (or a platform package's NewApp).
type App struct {
	p      Platform
	cfg    config
	ns     string
	tpl    *shoptoken.Template
	log    *slog.Logger
	clock  shoptoken.Clock
	due    *dueWriter
	caches *table
	closed atomic.Bool

	evictMu sync.Mutex
	sleep   func(ctx context.Context, d time.Duration) error // pauses between shops and sweeps

	kmu     sync.Mutex
	stopped bool
	cancel  context.CancelFunc
	running chan struct{}
}

// ErrClosed is returned by an App after Close or Shutdown.
var ErrClosed = shoptoken.ErrClosed

// New returns the App of p. It fails with a shoptoken.ErrBadRequest error, naming the fault, when
// p lacks a field it needs or an option was given a value that makes no sense.
func New(p Platform, opts ...Option) (*App, error) {
	cfg := config{every: time.Minute, rate: 20, batch: 1000, retry: 5 * time.Minute}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if err := (shoptoken.Key{Platform: p.Name, App: p.App}).Check(); err != nil {
		cfg.bad("Platform", err.Error())
	}
	if p.Refresher == nil {
		cfg.bad("Platform", "Refresher is nil")
	}
	if len(cfg.errs) > 0 {
		return nil, &shoptoken.Error{Op: "new_app", Kind: shoptoken.ErrBadRequest, Message: errors.Join(cfg.errs...).Error()}
	}
	if !cfg.idxFromOpt {
		cfg.idx, _ = cfg.store.(shoptoken.DueIndex)
	}
	a := &App{p: p, cfg: cfg, ns: shoptoken.Key{Platform: p.Name, App: p.App}.Namespace(), log: p.Logger, clock: p.Clock,
		sleep: sleep, caches: newTable()}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.clock == nil {
		a.clock = systemClock{}
	}
	topts := append([]shoptoken.Option(nil), p.Options...)
	topts = append(topts, cfg.cacheOpts...)
	// The App's own come last: they make the App what it is.
	topts = append(topts, shoptoken.WithLogger(a.log), shoptoken.WithClock(a.clock), shoptoken.WithEvents(a.onEvent))
	if cfg.store != nil {
		topts = append(topts, shoptoken.WithStore(cfg.store))
	}
	tpl, err := shoptoken.NewTemplate(topts...)
	if err != nil {
		return nil, err
	}
	a.tpl = tpl
	if cfg.idx != nil {
		a.due = newDueWriter(cfg.idx, a.ns, a.log)
	}
	return a, nil
}

// Namespace returns "platform/app": the part every Key of this App starts with.
func (a *App) Namespace() string { return a.ns }

// Key returns the Key of shop's token.
func (a *App) Key(shop string) shoptoken.Key {
	return shoptoken.Key{Platform: a.p.Name, App: a.p.App, Shop: shop}
}

// Cache returns shop's Cache, creating it on first use (it then loads the shop's token from the
// store when first asked for one).
func (a *App) Cache(shop string) (*shoptoken.Cache, error) {
	if c := a.caches.get(shop, a.cfg.maxCaches > 0); c != nil {
		return c, nil
	}
	return a.create(shop, nil, 0)
}

// create makes shop's Cache (from a loaded token when from is not nil) unless another goroutine
// made it first, and evicts when over WithMaxCaches.
func (a *App) create(shop string, from *shoptoken.Token, version int64) (*shoptoken.Cache, error) {
	if a.closed.Load() {
		return nil, ErrClosed
	}
	if shop == "" {
		return nil, &shoptoken.Error{Platform: a.p.Name, Op: "shop", Kind: shoptoken.ErrBadRequest, Message: "the shop id is empty"}
	}
	r, err := a.p.Refresher(shop)
	if err != nil {
		return nil, err
	}
	c, err := a.tpl.New(r, a.Key(shop), from, version)
	if err != nil {
		return nil, err
	}
	if got, added := a.caches.putIfAbsent(shop, c); !added {
		c.Close()
		return got, nil
	}
	if a.closed.Load() { // Close ran meanwhile and may not have seen it
		a.caches.remove(shop, c)
		c.Close()
		return nil, ErrClosed
	}
	if max := int64(a.cfg.maxCaches); max > 0 && a.caches.n.Load() > max && a.evictMu.TryLock() {
		// Each eviction frees a sixteenth of the bound at once, so one scan of the table is paid
		// for by many insertions. A Cache whose new token is not saved yet (Pending) is spared.
		out := a.caches.evict(max-max/16, c, (*shoptoken.Cache).Pending)
		a.evictMu.Unlock()
		for _, e := range out {
			e.Close()
		}
	}
	return c, nil
}

// Range calls fn with the Key and the current token (nil when it has none yet) of every shop whose
// Cache the App holds in memory, until fn returns false: for gauges of the tokens held (time to
// expiry, grant end) and for operators' tools. It holds up no Token call; shops added or evicted
// meanwhile may or may not be seen. fn must not call the App.
func (a *App) Range(fn func(k shoptoken.Key, tok *shoptoken.Token) bool) {
	a.caches.each(func(c *shoptoken.Cache) bool { return fn(c.Key(), c.Current()) })
}

// Due returns when the App's engine would next look at tok, a token of one of its shops: what
// Cache.Due reports for a Cache that starts from tok (its planned refresh, or grant warning). It
// makes no Cache and starts nothing, so a tool can show the plan for a stored token. Zero: never.
func (a *App) Due(tok *shoptoken.Token) time.Time { return a.tpl.Due(tok) }

// Len returns how many Caches the App holds in memory.
func (a *App) Len() int { return int(a.caches.n.Load()) }

// Token returns a valid token for shop.
func (a *App) Token(ctx context.Context, shop string) (*shoptoken.Token, error) {
	for attempt := 1; ; attempt++ {
		c, err := a.Cache(shop)
		if err != nil {
			return nil, err
		}
		tok, err := c.Token(ctx)
		if !errors.Is(err, shoptoken.ErrClosed) || a.closed.Load() || attempt == 16 {
			return tok, err
		}
		// Evicted between the lookup and the call: look it up again.
	}
}

// Invalidate reports that the platform rejected shop's token rejected: the token the failed
// request was sent with (see shoptoken.Cache.Invalidate).
func (a *App) Invalidate(ctx context.Context, shop string, rejected *shoptoken.Token) (*shoptoken.Token, error) {
	for attempt := 1; ; attempt++ {
		c, err := a.Cache(shop)
		if err != nil {
			return nil, err
		}
		tok, err := c.Invalidate(ctx, rejected)
		if !errors.Is(err, shoptoken.ErrClosed) || a.closed.Load() || attempt == 16 {
			return tok, err
		}
	}
}

// Set installs tok as shop's token (after the merchant authorized again) and saves it to the store
// first, so that the whole fleet picks it up (see shoptoken.Cache.Set).
func (a *App) Set(ctx context.Context, shop string, tok *shoptoken.Token) error {
	c, err := a.Cache(shop)
	if err != nil {
		return err
	}
	return c.Set(ctx, tok)
}

// Source returns shop's token source: Token and Invalidate for that shop, for a client or a
// library that takes a shoptoken.Invalidator.
func (a *App) Source(shop string) shoptoken.Invalidator { return shopSource{a, shop} }

type shopSource struct {
	a    *App
	shop string
}

func (s shopSource) Token(ctx context.Context) (*shoptoken.Token, error) {
	return s.a.Token(ctx, s.shop)
}

func (s shopSource) Invalidate(ctx context.Context, rejected *shoptoken.Token) (*shoptoken.Token, error) {
	return s.a.Invalidate(ctx, s.shop, rejected)
}

// Preload loads the tokens of shops from the store in bulk (one round trip per thousand shops
// with a shoptoken.BulkLoader store such as redisstore) and makes their Caches from them, so that
// a process starting with thousands of shops makes no store round trip on each shop's first
// Token. It also writes every loaded shop's due time to the due index. It returns how many shops
// had a token; a shop without one is left to load on first use. Without a BulkLoader store it
// does nothing.
func (a *App) Preload(ctx context.Context, shops []string) (int, error) {
	bl, ok := a.cfg.store.(shoptoken.BulkLoader)
	if !ok {
		return 0, nil
	}
	keys := make([]string, len(shops))
	for i, s := range shops {
		keys[i] = a.Key(s).String()
	}
	loaded, err := bl.LoadMany(ctx, keys)
	n := 0
	for i, s := range shops {
		l, ok := loaded[keys[i]]
		if !ok {
			continue
		}
		if _, cerr := a.create(s, l.Token, l.Version); cerr != nil {
			err = errors.Join(err, cerr)
			continue
		}
		n++
		if c, _ := a.Cache(s); c != nil && a.due != nil {
			if at := c.Due(); !at.IsZero() {
				a.due.put(keys[i], at)
			}
		}
	}
	return n, err
}

// onEvent is every Cache's event listener: due times for the index, then the caller's listeners.
func (a *App) onEvent(e shoptoken.Event) {
	if a.due != nil && (e.Kind == shoptoken.EventPersisted || e.Kind == shoptoken.EventAdopted) && !e.Due.IsZero() {
		a.due.put(e.Key.String(), e.Due)
	}
	if a.due != nil {
		switch e.Kind {
		case shoptoken.EventRefreshFailed, shoptoken.EventGrantLost:
			at := e.Time
			if at.IsZero() {
				at = a.clock.Now()
			}
			a.due.fail(shoptoken.FailureOf(e.Key.String(), at, e.Err))
		case shoptoken.EventRefreshed, shoptoken.EventPersisted, shoptoken.EventAdopted:
			a.due.succeeded(e.Key.String())
		}
	}
	for _, fn := range a.cfg.events {
		fn(e)
	}
}

// Close closes every Cache (see shoptoken.Cache.Close) and stops the Keeper; later calls fail
// with ErrClosed. It does not wait for refreshes under way (a process about to exit calls
// Shutdown), but it does write the due times not yet written (for at most 5 s), so that no shop
// drops out of the due index.
func (a *App) Close() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = a.stopKeeper(ctx) // stop it; do not wait
	for _, c := range a.detach() {
		c.Close()
	}
	if a.due != nil {
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := a.due.flush(fctx); err != nil {
			a.log.Warn("shoptoken: due times not written at Close", "namespace", a.ns, "err", err)
		}
		cancel()
		a.due.stop()
	}
}

// Shutdown stops the Keeper, closes every Cache and waits, until ctx ends, for refreshes under
// way and unsaved tokens (see shoptoken.Cache.Shutdown), then writes the due times not yet
// written. It returns nil when nothing was left undone, else every failure joined.
func (a *App) Shutdown(ctx context.Context) error {
	err := a.stopKeeper(ctx)
	for _, c := range a.detach() {
		err = errors.Join(err, c.Shutdown(ctx))
	}
	if a.due != nil {
		err = errors.Join(err, a.due.flush(ctx))
		a.due.stop()
	}
	return err
}

func (a *App) detach() []*shoptoken.Cache {
	a.closed.Store(true)
	return a.caches.drain()
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
func (systemClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}
