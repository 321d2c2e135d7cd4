package shoptoken

import (
	"container/list"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Registry keeps one Cache per key (a shop, a grant), created on first use, for an ISV that syncs
// orders for thousands of shops from one process. With WithMaxCaches it holds at most that many
// Caches and closes the least recently used; give every Cache a Store then, so an evicted shop's
// token (and rotated refresh token) is loaded again rather than fetched again. With WithDueIndex it
// records when each key next needs a refresh, for a Keeper.
//
// A Registry is safe for concurrent use. Looking up a key takes a mutex (tens of nanoseconds); the
// Cache's own Token stays lock-free.
type Registry struct {
	newCache func(key string, opts ...Option) (*Cache, error)
	max      int
	idx      DueIndex
	logger   *slog.Logger

	mu      sync.Mutex
	entries map[string]*list.Element // of *regEntry
	lru     *list.List               // front: most recently used
	closed  bool

	schedOnce sync.Once
	sched     chan scheduled
	done      chan struct{} // closed by Close: stops the index writer
}

type regEntry struct {
	key   string
	cache *Cache
}

type scheduled struct {
	key string
	due time.Time
}

// RegistryOption configures a Registry.
type RegistryOption func(*Registry)

// WithMaxCaches bounds the Registry to n Caches (0, the default, means no bound).
func WithMaxCaches(n int) RegistryOption { return func(r *Registry) { r.max = max(n, 0) } }

// WithDueIndex makes the Registry record each key's next due time (planned refresh or grant
// warning) in idx whenever a new token is saved or adopted, so a Keeper finds it.
func WithDueIndex(idx DueIndex) RegistryOption { return func(r *Registry) { r.idx = idx } }

// WithRegistryLogger logs due-index failures to l.
func WithRegistryLogger(l *slog.Logger) RegistryOption { return func(r *Registry) { r.logger = l } }

// NewRegistry returns a Registry that creates the Cache for a key with newCache(key, opts...). It
// must pass opts on to the Cache it makes (they carry the Registry's event hook), typically after
// its own options:
//
//	reg := shoptoken.NewRegistry(func(kdtID string, opts ...shoptoken.Option) (*shoptoken.Cache, error) {
//		cfg := base // a youzan.Config
//		cfg.GrantID = kdtID
//		return youzan.NewSource(cfg, append([]shoptoken.Option{shoptoken.WithStore(store, "youzan/"+kdtID)}, opts...)...)
//	})
func NewRegistry(newCache func(key string, opts ...Option) (*Cache, error), opts ...RegistryOption) *Registry {
	r := &Registry{newCache: newCache, entries: map[string]*list.Element{}, lru: list.New(), done: make(chan struct{})}
	for _, o := range opts {
		o(r)
	}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	return r
}

// Cache returns key's Cache, creating it on first use.
func (r *Registry) Cache(key string) (*Cache, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	if el, ok := r.entries[key]; ok {
		r.lru.MoveToFront(el)
		c := el.Value.(*regEntry).cache
		r.mu.Unlock()
		return c, nil
	}
	r.mu.Unlock()

	// Build outside the lock: a platform package's constructor may validate or log.
	var opts []Option
	if r.idx != nil {
		opts = append(opts, WithEvents(func(e Event) { r.noteDue(key, e) }))
	}
	c, err := r.newCache(key, opts...)
	if err != nil {
		return nil, err
	}

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		c.Close()
		return nil, ErrClosed
	}
	if el, ok := r.entries[key]; ok { // another goroutine won the race
		r.lru.MoveToFront(el)
		winner := el.Value.(*regEntry).cache
		r.mu.Unlock()
		c.Close()
		return winner, nil
	}
	r.entries[key] = r.lru.PushFront(&regEntry{key: key, cache: c})
	var evicted []*Cache
	// Evict from the least recently used end, passing over Caches whose new token the store has not
	// taken yet (Pending): closing those is safe, but keeping them keeps their token servable. The
	// Cache just added (the front) is never evicted: it is about to be returned. With every other
	// Cache Pending, the Registry holds more than WithMaxCaches until their saves go through.
	for el := r.lru.Back(); el != r.lru.Front() && r.max > 0 && r.lru.Len() > r.max; {
		prev := el.Prev()
		if e := el.Value.(*regEntry); !e.cache.Pending() {
			r.lru.Remove(el)
			delete(r.entries, e.key)
			evicted = append(evicted, e.cache)
		}
		el = prev
	}
	r.mu.Unlock()
	for _, e := range evicted {
		e.Close()
	}
	return c, nil
}

// Token returns a valid token for key.
func (r *Registry) Token(ctx context.Context, key string) (*Token, error) {
	return r.with(key, func(c *Cache) (*Token, error) { return c.Token(ctx) })
}

// Invalidate reports that the platform rejected key's token rejected; see Cache.Invalidate.
func (r *Registry) Invalidate(ctx context.Context, key string, rejected *Token) (*Token, error) {
	return r.with(key, func(c *Cache) (*Token, error) { return c.Invalidate(ctx, rejected) })
}

// with runs fn on key's Cache, again on a fresh Cache if the one it got was evicted (closed) in
// between, so an open Registry does not report ErrClosed. Under heavy churn (far more keys in use
// than WithMaxCaches) it gives up after a few rounds.
func (r *Registry) with(key string, fn func(*Cache) (*Token, error)) (*Token, error) {
	for attempt := 1; ; attempt++ {
		c, err := r.Cache(key)
		if err != nil {
			return nil, err
		}
		tok, err := fn(c)
		if !errors.Is(err, ErrClosed) || attempt == 16 {
			return tok, err
		}
	}
}

// Len returns how many Caches the Registry holds.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lru.Len()
}

// Close closes every Cache (see Cache.Close), stops the goroutine that writes due times to the
// WithDueIndex index, and makes further lookups fail with ErrClosed. It does not wait for
// refreshes under way; a process about to exit calls Shutdown instead.
func (r *Registry) Close() {
	for _, c := range r.detach() {
		c.Close()
	}
}

// Shutdown closes the Registry like Close, then waits until every Cache's refresh under way has
// ended and every new token is saved (see Cache.Shutdown), or until ctx ends. It returns nil
// when nothing was left in flight, else the Caches' errors joined; Pending on a Cache the
// Registry held says whether its new token is still unsaved.
func (r *Registry) Shutdown(ctx context.Context) error {
	var errs []error
	for _, c := range r.detach() {
		if err := c.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// detach marks the Registry closed and hands over the Caches it held.
func (r *Registry) detach() []*Cache {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		close(r.done)
	}
	r.closed = true
	var all []*Cache
	for _, el := range r.entries {
		all = append(all, el.Value.(*regEntry).cache)
	}
	r.entries = map[string]*list.Element{}
	r.lru.Init()
	return all
}

// noteDue queues key's new due time for the index. It runs inside a Cache's event callback, which
// must be quick, so the index write happens on the Registry's own goroutine.
func (r *Registry) noteDue(key string, e Event) {
	switch e.Kind {
	case EventPersisted, EventAdopted:
	default:
		return
	}
	if e.Due.IsZero() {
		return
	}
	r.schedOnce.Do(func() {
		r.sched = make(chan scheduled, 4096)
		go r.scheduleLoop()
	})
	select {
	case r.sched <- scheduled{key, e.Due}:
	case <-r.done:
	default:
		// The index is far behind; the Keeper's sweep reschedules keys it finds, so this one
		// is caught up the next time it is due or refreshed.
		r.logger.Warn("shoptoken: due index backlog full; dropping an update", "key", key)
	}
}

func (r *Registry) scheduleLoop() {
	for {
		var s scheduled
		select {
		case s = <-r.sched:
		case <-r.done:
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := r.idx.Schedule(ctx, s.key, s.due); err != nil {
			r.logger.Warn("shoptoken: due index write failed", "key", s.key, "err", err)
		}
		cancel()
	}
}
