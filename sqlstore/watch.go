package sqlstore

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Watch implements shoptoken.Watcher. changed receives (coalesced, buffer of one) when key is
// saved or deleted through any Store on the same tables; stop releases the watch and may be
// called more than once. ctx bounds only the setup: the watch lasts until stop.
//
// The Store reads the versions of all the keys it watches in one query every poll interval
// (WithPollInterval) and wakes the watchers of each key whose version changed; a Save or Delete
// through the same Store wakes them at once, and so does a notification from any PostgreSQL Store
// when this one listens (WithListener). The first watch of a key reads its version (one round
// trip), so that a change made after Watch returns is never missed; more watches of the key cost
// a map entry. A watcher may be woken without a change (a notification of a change already read):
// it should Load after a wake-up and compare versions, which is what the Cache does.
func (s *Store) Watch(ctx context.Context, key string) (<-chan struct{}, func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("sqlstore: watch %q: %w", key, err)
	}
	if err := checkKey("watch", key); err != nil {
		return nil, nil, err
	}
	m := &member{ch: make(chan struct{}, 1), watch: true}
	if err := s.hub.join(key, m); err != nil {
		return nil, nil, err
	}
	stop := sync.OnceFunc(func() { s.hub.leave(key, m) })
	s.hub.awaitListening(ctx)
	if s.hub.needsBaseline(key) {
		st, err := s.states(ctx, []string{key})
		s.hub.baseline(key, st[key], err == nil)
	}
	return m.ch, stop, nil
}

// state is what polling compares: a key's version and whether it holds a token. Versions never
// repeat (see the Store contract), so a change of either is a write.
type state struct {
	version int64
	live    bool
}

// states reads the state of each key in one query; keys without a row are left out (their state
// is the zero state).
func (s *Store) states(ctx context.Context, keys []string) (map[string]state, error) {
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = []byte(k)
	}
	var b strings.Builder
	b.WriteString(s.q.watch)
	placeholders(&b, s.d, 1, len(keys))
	rows, err := s.db.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]state, len(keys))
	for rows.Next() {
		var k []byte
		var st state
		var tombstone bool
		if err := rows.Scan(&k, &st.version, &tombstone); err != nil {
			return nil, err
		}
		st.live = !tombstone
		out[string(k)] = st
	}
	return out, rows.Err()
}

// hub keeps track of every watch and lease wait of a Store, polls the watched keys, and runs the
// listener.
type hub struct {
	s      *Store
	ctx    context.Context // cancelled by close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	started bool
	closed  bool
	subs    map[string]*sub
	// listening is closed while the listener is subscribed, and replaced when it fails; nil
	// without a listener.
	listening chan struct{}
}

// sub is the state of one key's waiters.
type sub struct {
	members map[*member]struct{}
	watches int // members with watch set

	// st is the last state seen for the key; known is false until there was one. blind means a
	// watcher has nothing to compare against (Watch could not read the state): the first
	// successful poll wakes it.
	st    state
	known bool
	blind bool
}

// member is one watch or one waiting Lock.
type member struct {
	ch    chan struct{}
	watch bool // a Watch: woken by changes. Otherwise a Lock waiting: woken by unlocks.
}

func newHub(s *Store) *hub {
	ctx, cancel := context.WithCancel(context.Background())
	h := &hub{s: s, ctx: ctx, cancel: cancel, subs: map[string]*sub{}}
	if s.cfg.listen != nil {
		h.listening = make(chan struct{})
	}
	return h
}

// awaitListening waits a little for the listener to be subscribed, so that a watch or a lease
// wait set up after it misses no notification. Without one, or when it does not come up in time
// (the database is unwell), polling covers the changes.
func (h *hub) awaitListening(ctx context.Context) {
	h.mu.Lock()
	ready := h.listening
	h.mu.Unlock()
	if ready == nil {
		return
	}
	select {
	case <-ready:
		return
	default:
	}
	t := time.NewTimer(min(h.s.cfg.poll, time.Second))
	defer t.Stop()
	select {
	case <-ready:
	case <-ctx.Done():
	case <-t.C:
	}
}

// setListening records whether the listener is subscribed.
func (h *hub) setListening(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.listening:
		if !on {
			h.listening = make(chan struct{})
		}
	default:
		if on {
			close(h.listening)
		}
	}
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// join adds m to key's waiters, starting the poller (and the listener) on first use.
func (h *hub) join(key string, m *member) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	if !h.started {
		h.started = true
		h.wg.Add(1)
		go h.poll()
		if h.s.cfg.listen != nil {
			h.wg.Add(1)
			go h.listen()
		}
	}
	sb := h.subs[key]
	if sb == nil {
		sb = &sub{members: map[*member]struct{}{}}
		h.subs[key] = sb
	}
	sb.members[m] = struct{}{}
	if m.watch {
		sb.watches++
	}
	return nil
}

// leave removes m, forgetting the key when it was the last member.
func (h *hub) leave(key string, m *member) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sb := h.subs[key]
	if sb == nil {
		return
	}
	if _, ok := sb.members[m]; !ok {
		return
	}
	delete(sb.members, m)
	if m.watch {
		sb.watches--
	}
	if len(sb.members) == 0 {
		delete(h.subs, key)
	}
}

// needsBaseline reports whether the key's state is unknown: its first watch reads it.
func (h *hub) needsBaseline(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	sb := h.subs[key]
	return sb != nil && !sb.known
}

// baseline records st, read by Watch. If the key was known meanwhile at another state, its
// watchers may have missed a change and are woken. Without st (ok false) the watchers are blind:
// the first successful poll wakes them.
func (h *hub) baseline(key string, st state, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sb := h.subs[key]
	switch {
	case sb == nil:
	case !ok:
		sb.blind = sb.blind || !sb.known
	case !sb.known:
		sb.st, sb.known = st, true
	case sb.st != st:
		sb.st = st
		h.wake(sb, true)
	}
}

// changed wakes the watchers of key: it was written through this Store, or a notification said so.
func (h *hub) changed(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if sb := h.subs[key]; sb != nil {
		h.wake(sb, true)
	}
}

// unlocked wakes the Locks waiting for key's lease.
func (h *hub) unlocked(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if sb := h.subs[key]; sb != nil {
		h.wake(sb, false)
	}
}

// wake notifies sb's watchers (changes) or its lease waiters (unlocks).
func (h *hub) wake(sb *sub, change bool) {
	for m := range sb.members {
		if m.watch == change {
			notify(m.ch)
		}
	}
}

func (h *hub) close() {
	h.mu.Lock()
	h.closed = true
	h.cancel()
	h.mu.Unlock()
	h.wg.Wait()
}

// pollBatch is how many keys one polling query reads.
const pollBatch = 1000

// poll reads, every poll interval, the state of each watched key, and wakes the watchers of the
// keys whose state changed (or who are blind).
func (h *hub) poll() {
	defer h.wg.Done()
	t := time.NewTicker(h.s.cfg.poll)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		var keys []string
		for k, sb := range h.subs {
			if sb.watches > 0 {
				keys = append(keys, k)
			}
		}
		h.mu.Unlock()
		for lo := 0; lo < len(keys); lo += pollBatch {
			h.pollBatch(keys[lo:min(lo+pollBatch, len(keys))])
		}
	}
}

func (h *hub) pollBatch(keys []string) {
	ctx, cancel := context.WithTimeout(h.ctx, max(h.s.cfg.poll, time.Second))
	defer cancel()
	got, err := h.s.states(ctx, keys)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range keys {
		sb := h.subs[k]
		if sb == nil {
			continue
		}
		st := got[k]
		changed := sb.blind || (sb.known && st != sb.st)
		sb.st, sb.known, sb.blind = st, true, false
		if changed {
			h.wake(sb, true)
		}
	}
}

// listen keeps a Listener subscribed to the Store's channel, replacing it when it fails, and
// wakes the watchers and lease waiters that the notifications name.
func (h *hub) listen() {
	defer h.wg.Done()
	const minBackoff, maxBackoff = 50 * time.Millisecond, 5 * time.Second
	backoff := minBackoff
	for h.ctx.Err() == nil {
		if h.listenOnce() {
			backoff = minBackoff
		}
		t := time.NewTimer(backoff)
		select {
		case <-h.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// listenOnce opens a listener and reads it until it fails; it reports whether it got as far as
// listening. After a failure, notifications may have been lost: polling covers them.
func (h *hub) listenOnce() bool {
	dctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	l, err := h.s.cfg.listen(dctx)
	if err == nil && l == nil {
		err = fmt.Errorf("sqlstore: the listener's dial returned nil")
	}
	if err == nil {
		if err = l.Listen(dctx, h.s.channel); err != nil {
			_ = l.Close()
		}
	}
	cancel()
	if err != nil {
		return false
	}
	defer l.Close()
	h.setListening(true)
	defer h.setListening(false)
	for {
		payload, err := l.Wait(h.ctx)
		if err != nil {
			return true
		}
		if len(payload) < 1 {
			continue
		}
		key, err := hex.DecodeString(payload[1:])
		if err != nil {
			continue
		}
		switch payload[0] {
		case 'c':
			h.changed(string(key))
		case 'u':
			h.unlocked(string(key))
		}
	}
}
