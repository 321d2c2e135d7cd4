package sqlstore

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/shoptoken/shoptoken/internal/watchhub"
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
	m := watchhub.NewWatch()
	if !s.hub.Join(key, m, nil) {
		return nil, nil, ErrClosed
	}
	stop := sync.OnceFunc(func() { s.hub.Leave(key, m, nil) })
	s.hub.awaitListening(ctx)
	if !s.hub.Known(key) {
		st, err := s.states(ctx, []string{key})
		if err != nil {
			s.hub.Baseline(key, state{}, false)
		} else {
			s.hub.Baseline(key, st[0], true)
		}
	}
	return m.C, stop, nil
}

// state is what polling compares: a key's version and whether it holds a token. Versions never
// repeat (see the Store contract), so a change of either is a write.
type state struct {
	version int64
	live    bool
}

// states reads the state of each key in one query, in the keys' order; a key without a row has
// the zero state.
func (s *Store) states(ctx context.Context, keys []string) ([]state, error) {
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
	found := make(map[string]state, len(keys))
	for rows.Next() {
		var k []byte
		var st state
		var tombstone bool
		if err := rows.Scan(&k, &st.version, &tombstone); err != nil {
			return nil, err
		}
		st.live = !tombstone
		found[string(k)] = st
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]state, len(keys))
	for i, k := range keys {
		out[i] = found[k]
	}
	return out, nil
}

// hub is the Store's watchhub.Hub, which polls the watched keys, with the listener beside it. The
// Hub's lock guards listening too.
type hub struct {
	*watchhub.Hub[state]
	s *Store
	// listening is closed while the listener is subscribed, and replaced when it fails; nil
	// without a listener.
	listening chan struct{}
}

// pollBatch is how many keys one polling query reads.
const pollBatch = 1000

func newHub(s *Store) *hub {
	h := &hub{s: s}
	cfg := watchhub.Config[state]{
		Poll:  s.cfg.poll,
		Batch: pollBatch,
		Read:  s.states,
		Newer: func(old, cur state) bool { return cur != old },
	}
	if s.cfg.listen != nil {
		h.listening = make(chan struct{})
		cfg.Run = h.listen
	}
	h.Hub = watchhub.New(cfg)
	return h
}

// awaitListening waits a little for the listener to be subscribed, so that a watch or a lease
// wait set up after it misses no notification. Without one, or when it does not come up in time
// (the database is unwell), polling covers the changes.
func (h *hub) awaitListening(ctx context.Context) {
	h.Lock()
	ready := h.listening
	h.Unlock()
	watchhub.Await(ctx, ready, min(h.s.cfg.poll, time.Second))
}

// setListening records whether the listener is subscribed.
func (h *hub) setListening(on bool) {
	h.Lock()
	defer h.Unlock()
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

// changed wakes the watchers of key: it was written through this Store, or a notification said so.
func (h *hub) changed(key string) { h.Changed(key, state{}, false) }

func (h *hub) close() { h.Close(nil) }

// listen keeps a Listener subscribed to the Store's channel, replacing it when it fails, and
// wakes the watchers and lease waiters that the notifications name.
func (h *hub) listen(ctx context.Context) {
	watchhub.Retry(ctx, func() bool { return h.listenOnce(ctx) })
}

// listenOnce opens a listener and reads it until it fails; it reports whether it got as far as
// listening. After a failure, notifications may have been lost: polling covers them.
func (h *hub) listenOnce(ctx context.Context) bool {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
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
		payload, err := l.Wait(ctx)
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
			h.Unlocked(string(key))
		}
	}
}
