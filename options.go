package shoptoken

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"
)

// Option configures a Cache. Every option has a sensible default; see NewCache. An option given
// a value that makes no sense (a negative duration, a NaN) makes NewCache fail with an error
// naming it, before anything is sent.
type Option func(*config)

type config struct {
	initial        *Token
	stored         *Token // WithStoredToken: loaded by the caller from the store
	storedVersion  int64
	store          Store
	key            Key
	early          time.Duration
	jitter         float64
	expirySkew     time.Duration
	refreshTimeout time.Duration
	storeTimeout   time.Duration
	leaseTTL       time.Duration
	minInterval    time.Duration
	backoffMin     time.Duration
	backoffMax     time.Duration
	grantWarning   time.Duration
	logger         *slog.Logger
	events         func(Event)
	trace          func(ctx context.Context, k Key, why Reason) (context.Context, func(error))
	clock          Clock
	errs           []error // options given values that make no sense
}

// Defaults used by NewCache when no option says otherwise.
const (
	DefaultEarlyRefresh   = 5 * time.Minute
	DefaultJitter         = 0.10
	DefaultExpirySkew     = 10 * time.Second
	DefaultRefreshTimeout = 30 * time.Second
	DefaultStoreTimeout   = 2 * time.Second
	DefaultLeaseTTL       = 10 * time.Second
	DefaultMinInterval    = time.Second
	DefaultBackoffMin     = time.Second
	DefaultBackoffMax     = 5 * time.Minute
)

func newConfig(opts []Option) (*config, error) {
	cfg := &config{
		early:          DefaultEarlyRefresh,
		jitter:         DefaultJitter,
		expirySkew:     DefaultExpirySkew,
		refreshTimeout: DefaultRefreshTimeout,
		storeTimeout:   DefaultStoreTimeout,
		leaseTTL:       DefaultLeaseTTL,
		minInterval:    DefaultMinInterval,
		backoffMin:     DefaultBackoffMin,
		backoffMax:     DefaultBackoffMax,
	}
	for _, o := range opts {
		if o != nil {
			o(cfg)
		}
	}
	if cfg.backoffMax < cfg.backoffMin {
		cfg.bad("WithBackoff", "hi "+cfg.backoffMax.String()+" is below lo "+cfg.backoffMin.String())
	}
	if cfg.store != nil {
		if err := cfg.key.Check(); err != nil {
			cfg.bad("WithKey", "a Cache with a Store needs a Key, which names the token the same way in every process: "+err.Error())
		}
	}
	if len(cfg.errs) > 0 {
		return nil, &Error{Op: "new_cache", Kind: ErrBadRequest, Message: errors.Join(cfg.errs...).Error()}
	}
	if cfg.clock == nil {
		cfg.clock = systemClock{}
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// bad records that option name was given a value that makes no sense.
func (c *config) bad(name, why string) {
	c.errs = append(c.errs, errors.New(name+": "+why))
}

// positive records an error unless d > 0.
func (c *config) positive(name string, d time.Duration) bool {
	if d <= 0 {
		c.bad(name, "must be positive, got "+d.String())
		return false
	}
	return true
}

// nonNegative records an error if d < 0.
func (c *config) nonNegative(name string, d time.Duration) bool {
	if d < 0 {
		c.bad(name, "must not be negative, got "+d.String())
		return false
	}
	return true
}

// WithToken starts the Cache from t, e.g. a token obtained by an authorization. With a Store, a
// token already stored under the key wins (it may be a later rotation of t); t is saved only when
// the store holds none.
func WithToken(t *Token) Option {
	return func(c *config) { c.initial = t.Clone() }
}

// WithStoredToken starts a Cache that has a Store from t, which the caller has just loaded from
// that Store at version (for example with redisstore's pipelined LoadMany when a process starts
// with thousands of shops), so that the first Token makes no store round trip. The Cache treats t
// exactly as if its own first Load had returned it, except that it emits no EventAdopted: a
// Registry's due index is not rewritten for it (the process that saved t scheduled it then).
// Without WithStore it acts as WithToken.
func WithStoredToken(t *Token, version int64) Option {
	return func(c *config) {
		c.stored, c.storedVersion = t.Clone(), version
		if c.initial == nil {
			c.initial = t.Clone()
		}
	}
}

// WithStore persists and shares tokens through s, under the store key the Cache's Key gives
// (WithKey; a platform package sets it from its Config). If s is also a Locker, one process at a
// time refreshes the key; if it is a Watcher, waiting processes learn of a new token without
// polling.
func WithStore(s Store) Option {
	return func(c *config) {
		if s == nil {
			c.bad("WithStore", "the store is nil")
			return
		}
		c.store = s
	}
}

// WithKey names the token the Cache holds: in its store (Key.String is the store key), in its
// events and in its logs. Platform packages set it from their Config (platform, app id, shop), so
// that every process that shares a token names it the same way; give it yourself only to a Cache
// over your own Refresher.
func WithKey(k Key) Option {
	return func(c *config) { c.key = k }
}

// WithEarlyRefresh makes one background refresh start d before Expiry (and before RefreshExpiry,
// so a refresh token is used before it lapses). Callers keep getting the valid token meanwhile.
// 0 disables refresh ahead: the Cache then calls the platform only when there is no token, it has
// expired, or it was rejected (vv-tool needs this). The default is 5 minutes.
func WithEarlyRefresh(d time.Duration) Option {
	return func(c *config) {
		if c.nonNegative("WithEarlyRefresh", d) {
			c.early = d
		}
	}
}

// WithJitter spreads planned refreshes by ±frac of the early-refresh window (default 0.10), so that
// thousands of keys issued in the same second do not refresh in the same second. frac must be in
// [0, 0.5].
func WithJitter(frac float64) Option {
	return func(c *config) {
		if !(frac >= 0 && frac <= 0.5) { // also false for NaN
			c.bad("WithJitter", "frac must be between 0 and 0.5, got "+strconv.FormatFloat(frac, 'g', -1, 64))
			return
		}
		c.jitter = frac
	}
}

// WithExpirySkew treats a token as expired d before its Expiry (default 10 s), so a token is not
// sent on a request that arrives after it lapsed.
func WithExpirySkew(d time.Duration) Option {
	return func(c *config) {
		if c.nonNegative("WithExpirySkew", d) {
			c.expirySkew = d
		}
	}
}

// WithRefreshTimeout bounds the parts of a refresh (default 30 s). The first part prepares the
// platform call: store reads and the wait for the minimum interval take at most d, and the wait
// for the fleet's lease may last as long again as its holder's own platform call and save (a
// waiter never gives up on a holder within its budget). The second part is the platform call
// itself, which may be destructive (a rotated refresh token, a fetch that kills the previous
// token): it starts only with the whole of d ahead of it, whatever the first part took, and once
// started its answer is received and saved even if every caller has gone. Callers stop waiting at
// their own deadlines.
func WithRefreshTimeout(d time.Duration) Option {
	return func(c *config) {
		if c.positive("WithRefreshTimeout", d) {
			c.refreshTimeout = d
		}
	}
}

// WithStoreTimeout bounds each store round trip made while callers may be waiting (default 2 s):
// a read, the save of a new token before it is published. After a store failure the Cache
// stops making callers wait for the store for a few seconds: it serves and publishes tokens
// without it, and saves new tokens in the background until the store takes them.
func WithStoreTimeout(d time.Duration) Option {
	return func(c *config) {
		if c.positive("WithStoreTimeout", d) {
			c.storeTimeout = d
		}
	}
}

// WithLeaseTTL sets the lifetime of the fleet-wide refresh lease (default 10 s). The Locker
// renews the lease while it is held (every ttl/3), through the whole platform call and the save
// that follows, so the TTL only bounds how long a holder that died (kill -9, a lost host) stalls
// the key: a short TTL is safe. A holder that stalls past its TTL cannot overwrite a newer token
// (the store's version check fences it).
func WithLeaseTTL(d time.Duration) Option {
	return func(c *config) {
		if c.positive("WithLeaseTTL", d) {
			c.leaseTTL = d
		}
	}
}

// WithMinInterval spaces platform calls for this key by at least d (default 1 s), whatever callers
// do, so that no caller loop can trip a platform's abuse detection. A refresh whose wait for the
// interval would outlast the preparation part of the refresh timeout fails at once with
// ErrRateLimited.
func WithMinInterval(d time.Duration) Option {
	return func(c *config) {
		if c.nonNegative("WithMinInterval", d) {
			c.minInterval = d
		}
	}
}

// WithBackoff sets how long the Cache waits after a failed refresh before it calls the platform
// again: from lo, doubling to hi, with jitter (default 1 s to 5 min); both must be positive and
// hi at least lo. While a token is still
// valid the retries run in the background; with no valid token, callers get the last error at once
// until the wait is over.
func WithBackoff(lo, hi time.Duration) Option {
	return func(c *config) {
		if c.positive("WithBackoff lo", lo) && c.positive("WithBackoff hi", hi) {
			c.backoffMin, c.backoffMax = lo, hi
		}
	}
}

// WithGrantWarning emits EventGrantExpiring d before the grant lapses: before RefreshExpiry when
// it is known, else before Expiry of a token that has no refresh token (vip.com). It gives the
// application time to ask the merchant to authorize again. 0 (the default) disables it.
func WithGrantWarning(d time.Duration) Option {
	return func(c *config) {
		if c.nonNegative("WithGrantWarning", d) {
			c.grantWarning = d
		}
	}
}

// WithLogger logs the Cache's events (refreshes, failures, saves, lost grants) to l, never a secret.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithEvents calls fn for every Event, synchronously on the goroutine that caused it. fn must be
// quick and must not call the Cache; hand slow work (alerting, metrics exporters) to a goroutine.
// Each WithEvents adds a listener; earlier ones (a platform package's, a Registry's) still run.
func WithEvents(fn func(Event)) Option {
	return func(c *config) {
		if fn == nil {
			return
		}
		if prev := c.events; prev != nil {
			c.events = func(e Event) { prev(e); fn(e) }
			return
		}
		c.events = fn
	}
}

// WithTrace calls start around every platform call a refresh makes, for tracing: start gets the
// context the call runs on (detached from the callers' cancellation, but with their values, among
// them the span of the caller that asked first) and returns the context to give the Refresher
// (with a span of its own, say) and end, called with the call's error. It adds no cost to the
// warm path: it runs only when the platform is called. Each WithTrace replaces the previous one.
func WithTrace(start func(ctx context.Context, k Key, why Reason) (context.Context, func(err error))) Option {
	return func(c *config) { c.trace = start }
}

// WithClock replaces the system clock, for tests.
func WithClock(clk Clock) Option {
	return func(c *config) {
		if clk != nil {
			c.clock = clk
		}
	}
}

// Clock is the Cache's source of time. AfterFunc runs f in its own goroutine after d and returns a
// function that cancels it (reporting whether it did). Tests use a fake clock to move time.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}
