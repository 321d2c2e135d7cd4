package watchhub

import (
	"context"
	"iter"
	"sync"
	"time"
)

// Member is one caller waiting on a key: a watch, woken by changes, or a lease wait, woken by
// unlocks. C receives the wake-ups, coalesced: its buffer holds one.
type Member struct {
	C     chan struct{}
	watch bool
}

// NewWatch returns a Member woken by the key's changes.
func NewWatch() *Member { return &Member{C: make(chan struct{}, 1), watch: true} }

// NewWait returns a Member woken when the key's lease is released.
func NewWait() *Member { return &Member{C: make(chan struct{}, 1)} }

// Notify sends on ch without blocking: a wake-up already waiting covers this one.
func Notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Await waits until ready is closed, at most d, or until ctx ends, and reports whether ready was
// closed. A nil ready is never closed: Await returns false at once.
func Await(ctx context.Context, ready <-chan struct{}, d time.Duration) bool {
	if ready == nil {
		return false
	}
	select {
	case <-ready:
		return true
	default:
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ready:
		return true
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}

// Retry calls attempt again and again until ctx ends, pausing between two attempts: 50 ms at
// first, twice as long after each attempt that reports no progress, at most 5 s. It is how a
// store keeps a connection for its delivery (pub/sub, LISTEN) open: an attempt opens one and
// reads it until it fails, and reports whether it got anywhere.
func Retry(ctx context.Context, attempt func() (progress bool)) {
	const minBackoff, maxBackoff = 50 * time.Millisecond, 5 * time.Second
	backoff := minBackoff
	for ctx.Err() == nil {
		if attempt() {
			backoff = minBackoff
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// Config is what a Hub needs of its store. S is what the store reads of a key to tell a change:
// its version, say, or its version and whether it holds a token.
type Config[S comparable] struct {
	// Poll is how often the poller reads the watched keys. It must be positive.
	Poll time.Duration
	// Batch is how many keys one Read may be asked for; below 1 counts as 1.
	Batch int
	// Read returns the state of each of keys, in their order: the zero S for a key with nothing
	// stored. An error skips the keys until the next poll. ctx ends after the larger of Poll and
	// one second.
	Read func(ctx context.Context, keys []string) ([]S, error)
	// Newer reports whether cur, a state heard of (Changed) or read (Baseline), is later than
	// old, the one the Hub holds: only then does it replace old. A polled state replaces old
	// whenever it differs, and then wakes the watchers.
	Newer func(old, cur S) bool
	// Run, if not nil, runs in a goroutine of its own from the first Join until Close (ctx
	// ends): the store's own delivery of changes, such as a pub/sub connection.
	Run func(ctx context.Context)
}

// Hub holds the watches and lease waits of one store, by key. Create it with New.
type Hub[S comparable] struct {
	cfg    Config[S]
	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	started bool
	closed  bool
	keys    map[string]*Entry[S]
}

// Entry is what a Hub knows of one key. Its fields and methods need the Hub's lock.
type Entry[S comparable] struct {
	members map[*Member]struct{}
	watches int // members that watch

	// state is the last state seen for the key, through a change heard of, a poll or a
	// baseline; known is false until there was one. blind means a watcher relies on the poller
	// with nothing to compare against (the store could not read a baseline, or changes may have
	// been missed before any state was seen): the first poll wakes it.
	state S
	known bool
	blind bool

	// active means the store's own delivery brings every change of the key (a confirmed
	// subscription): the poller leaves the key alone, except once after missed is set, when
	// delivery stopped and changes may have been lost. ready is closed while active.
	active bool
	missed bool
	ready  chan struct{}

	// Pending counts the store's delivery commands for the key not yet confirmed (a SUBSCRIBE,
	// an UNSUBSCRIBE): an Entry without members is forgotten only once Pending is 0.
	Pending int
}

// New returns a Hub; its goroutines start at the first Join.
func New[S comparable](cfg Config[S]) *Hub[S] {
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub[S]{cfg: cfg, ctx: ctx, cancel: cancel, keys: map[string]*Entry[S]{}}
}

// Lock locks the Hub, and the store's delivery state it guards.
func (h *Hub[S]) Lock() { h.mu.Lock() }

// Unlock unlocks the Hub.
func (h *Hub[S]) Unlock() { h.mu.Unlock() }

// Context returns a context that ends when the Hub is closed: what the store's delivery uses.
func (h *Hub[S]) Context() context.Context { return h.ctx }

// Join adds m to key's members, starting the poller (and Config.Run) on first use. If then is not
// nil it runs under the lock with the key's Entry and whether m is its first member, when the
// store subscribes to the key. Join reports false, doing nothing, once the Hub is closed.
func (h *Hub[S]) Join(key string, m *Member, then func(e *Entry[S], first bool)) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	if !h.started {
		h.started = true
		h.wg.Add(1)
		go h.poll()
		if h.cfg.Run != nil {
			h.wg.Add(1)
			go func() {
				defer h.wg.Done()
				h.cfg.Run(h.ctx)
			}()
		}
	}
	e := h.keys[key]
	if e == nil {
		e = &Entry[S]{members: map[*Member]struct{}{}, ready: make(chan struct{})}
		h.keys[key] = e
	}
	first := len(e.members) == 0
	e.members[m] = struct{}{}
	if m.watch {
		e.watches++
	}
	if then != nil {
		then(e, first)
	}
	return true
}

// Leave removes m from key's members; a second Leave does nothing. When m was the last member, and
// the Hub is not closed, then (if not nil) runs under the lock with the key's Entry, when the
// store unsubscribes, and the Entry is forgotten unless Pending.
func (h *Hub[S]) Leave(key string, m *Member, then func(e *Entry[S])) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.keys[key]
	if e == nil {
		return
	}
	if _, ok := e.members[m]; !ok {
		return
	}
	delete(e.members, m)
	if m.watch {
		e.watches--
	}
	if len(e.members) > 0 || h.closed {
		return
	}
	if then != nil {
		then(e)
	}
	h.ForgetIdleLocked(key)
}

// Changed wakes key's watchers: the key was written through the store, or the store heard that it
// was. With ok, st is the key's state after the change, kept if it is Newer than the one held.
func (h *Hub[S]) Changed(key string, st S, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.keys[key]
	if e == nil {
		return
	}
	if ok && (!e.known || h.cfg.Newer(e.state, st)) {
		e.state, e.known = st, true
	}
	e.wake(true)
}

// Unlocked wakes the lease waits of key.
func (h *Hub[S]) Unlocked(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e := h.keys[key]; e != nil {
		e.wake(false)
	}
}

// Known reports whether the Hub holds a state of key, so that a new watch needs no baseline.
func (h *Hub[S]) Known(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.keys[key]
	return e != nil && e.known
}

// Baseline records st, the state of key that a new watch read, so that a change made after the
// watch began differs from it. If the key was known at an older state, its watchers have missed a
// change and are woken. Without st (ok false: the read failed) its watchers are blind: the first
// poll wakes them. A key whose delivery is active needs no baseline and keeps its state.
func (h *Hub[S]) Baseline(key string, st S, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.keys[key]
	switch {
	case e == nil || e.active:
	case !ok:
		e.blind = e.blind || !e.known
	case !e.known:
		e.state, e.known = st, true
	case h.cfg.Newer(e.state, st):
		e.state = st
		e.wake(true)
	}
}

// Covered reports whether key's changes reach the store by its own delivery and none may have
// been missed: the poller leaves such a key alone.
func (h *Hub[S]) Covered(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.keys[key]
	return e != nil && e.active && !e.missed
}

// Len returns how many keys the Hub holds: keys with members, and keys whose delivery commands
// are pending.
func (h *Hub[S]) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.keys)
}

// Closed reports whether Close was called.
func (h *Hub[S]) Closed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// Close stops the poller and Config.Run, and makes later Joins fail. then, if not nil, runs under
// the lock once the Hub's context has ended (the store closes its delivery connection there, to
// unblock a read); Close then waits for the goroutines to end. Members keep their channels, which
// are no longer woken.
func (h *Hub[S]) Close(then func()) {
	h.mu.Lock()
	h.closed = true
	h.cancel()
	if then != nil {
		then()
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// EntryLocked returns key's Entry, or nil. The lock must be held.
func (h *Hub[S]) EntryLocked(key string) *Entry[S] { return h.keys[key] }

// AllLocked yields every key the Hub holds and its Entry; the body may call ForgetIdleLocked. The
// lock must be held throughout.
func (h *Hub[S]) AllLocked() iter.Seq2[string, *Entry[S]] {
	return func(yield func(string, *Entry[S]) bool) {
		for k, e := range h.keys {
			if !yield(k, e) {
				return
			}
		}
	}
}

// ForgetIdleLocked forgets key if its Entry has no members and nothing Pending. The lock must be
// held.
func (h *Hub[S]) ForgetIdleLocked(key string) {
	if e := h.keys[key]; e != nil && len(e.members) == 0 && e.Pending == 0 {
		delete(h.keys, key)
	}
}

// Members returns how many members the key has.
func (e *Entry[S]) Members() int { return len(e.members) }

// Ready returns a channel closed while the key's delivery is active.
func (e *Entry[S]) Ready() chan struct{} { return e.ready }

// SetActive records whether the store's delivery brings every change of the key. When it stops,
// changes may have been missed: the poller reads the key once it is active again, or at every
// poll until then, and a watcher that has nothing to compare against is woken by the next poll.
func (e *Entry[S]) SetActive(active bool) {
	if e.active == active {
		return
	}
	e.active = active
	if active {
		close(e.ready)
		return
	}
	e.ready = make(chan struct{})
	e.missed = true
	e.blind = e.blind || (!e.known && e.watches > 0)
}

// wake notifies the watchers (change) or the lease waits (not change).
func (e *Entry[S]) wake(change bool) {
	for m := range e.members {
		if m.watch == change {
			Notify(m.C)
		}
	}
}

// Poll reads, now, the state of each watched key that the store's delivery does not cover, and
// wakes the watchers of those whose state changed (or who are blind). The poller calls it every
// Config.Poll; tests call it to poll at a moment of their choosing.
func (h *Hub[S]) Poll() {
	h.mu.Lock()
	var due []polled[S]
	for k, e := range h.keys {
		if e.watches > 0 && (!e.active || e.missed) {
			due = append(due, polled[S]{k, e, e.active})
		}
	}
	h.mu.Unlock()
	batch := max(h.cfg.Batch, 1)
	for lo := 0; lo < len(due); lo += batch {
		h.pollBatch(due[lo:min(lo+batch, len(due))])
	}
}

// polled is a key to poll, and whether its delivery was active before the read was sent: then the
// answer covers every change the delivery may have missed.
type polled[S comparable] struct {
	key    string
	e      *Entry[S]
	active bool
}

func (h *Hub[S]) poll() {
	defer h.wg.Done()
	t := time.NewTicker(h.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		h.Poll()
	}
}

func (h *Hub[S]) pollBatch(due []polled[S]) {
	ctx, cancel := context.WithTimeout(h.ctx, max(h.cfg.Poll, time.Second))
	defer cancel()
	keys := make([]string, len(due))
	for i, p := range due {
		keys[i] = p.key
	}
	states, err := h.cfg.Read(ctx, keys)
	if err != nil || len(states) != len(keys) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, p := range due {
		e := p.e
		// A key forgotten (and perhaps watched again) meanwhile, or whose delivery became active
		// after the read was sent, may hold a newer state than the one read: left alone.
		if h.keys[p.key] != e || (e.active && !p.active) {
			continue
		}
		changed := e.blind || (e.known && states[i] != e.state)
		e.state, e.known, e.blind = states[i], true, false
		if changed {
			e.wake(true)
		}
		if p.active && e.active {
			e.missed = false
		}
	}
}
