package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shoptoken/shoptoken/internal/watchhub"
)

// errClosed is returned by Watch after Close.
var errClosed = errors.New("redisstore: store closed")

// Watch implements shoptoken.Watcher. changed receives (coalesced, buffer of one) when key is saved
// or deleted through any Store on the same Redis and prefix; stop releases the watch and may be
// called more than once. ctx bounds only the setup: the watch lasts until stop.
//
// All watches and lease waits of a Store share one pub/sub connection, opened on first use; a
// watch costs a map entry, plus one SUBSCRIBE for the first watch of a key. Watch returns once Redis
// has confirmed the subscription, so a change made after Watch returns is not missed. While pub/sub
// is not delivering (Redis down, connection lost, a proxy without pub/sub), watched keys are polled
// for their version every poll interval instead; after such an outage a watcher may be woken once
// without a change, because a change may have been missed. A watcher must therefore Load after a
// wake-up and compare versions, which is what the Cache does.
func (s *Store) Watch(ctx context.Context, key string) (<-chan struct{}, func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("redisstore: watch %q: %w", key, err)
	}
	m := watchhub.NewWatch()
	ready, ok := s.hub.join(key, m)
	if !ok {
		return nil, nil, errClosed
	}
	stop := sync.OnceFunc(func() { s.hub.leave(key, m) })
	if !s.hub.awaitReady(ctx, ready) {
		// Not subscribed: the poller will watch this key. Give it a baseline now, so that a change
		// made after Watch returns differs from it. If Redis cannot say, the first successful poll
		// wakes the watcher.
		v, err := s.version(ctx, key)
		s.hub.Baseline(key, v, err == nil)
	}
	return m.C, stop, nil
}

// version reads the stored version of key; 0 when absent.
func (s *Store) version(ctx context.Context, key string) (int64, error) {
	v, err := s.rdb.HGet(ctx, s.tokKey(key), "v").Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return v, err
}

// unreadable is the state the poller holds for a key whose version field does not read (a key of
// another Redis type, a version that is not a number): damage, which changes only when the key is
// written again.
const unreadable = -1

// versions reads the stored version of each key in one pipeline, for the poller: 0 when absent.
func (s *Store) versions(ctx context.Context, keys []string) ([]int64, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.HGet(ctx, s.tokKey(k), "v")
	}
	// A reply error (WRONGTYPE) is one key's; any other error (the connection's) is the poll's.
	var reply redis.Error
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) && !errors.As(err, &reply) {
		return nil, err
	}
	out := make([]int64, len(keys))
	for i, cmd := range cmds {
		v, err := cmd.Int64()
		switch {
		case errors.Is(err, redis.Nil):
			v = 0
		case cmd.Err() != nil && !errors.As(cmd.Err(), &reply):
			return nil, cmd.Err()
		case err != nil:
			v = unreadable // another Redis type, or a version that is not a number
		}
		out[i] = v
	}
	return out, nil
}

// hub is the Store's watchhub.Hub, keyed by store key, with one pub/sub connection that carries
// every watch and lease wait: a key's channel is subscribed while the key has members. The Hub's
// lock guards ps and failing too.
type hub struct {
	*watchhub.Hub[int64]
	s    *Store
	kick chan struct{} // wakes run when a channel is wanted and no connection is open

	ps      *redis.PubSub // the current connection; nil between connections and with noPubSub
	failing bool          // the last connection broke and no new one has answered yet
}

func newHub(s *Store) *hub {
	h := &hub{s: s, kick: make(chan struct{}, 1)}
	cfg := watchhub.Config[int64]{
		Poll:  s.cfg.poll,
		Batch: loadBatch,
		Read:  s.versions,
		Newer: func(old, cur int64) bool { return cur > old },
	}
	if !s.cfg.noPubSub {
		cfg.Run = h.run
	}
	h.Hub = watchhub.New(cfg)
	return h
}

// join adds m to key's members, subscribing if it is the first. ready is closed once the
// subscription is confirmed; it is nil when pub/sub is off or failing, and polling takes over.
// It reports false once the Store is closed.
func (h *hub) join(key string, m *watchhub.Member) (ready chan struct{}, ok bool) {
	ok = h.Join(key, m, func(e *watchhub.Entry[int64], first bool) {
		if first {
			if h.ps == nil {
				watchhub.Notify(h.kick)
			} else {
				h.send(key, e, true)
			}
		}
		if !h.failing && !h.s.cfg.noPubSub {
			ready = e.Ready()
		}
	})
	return ready, ok
}

// leave removes m, unsubscribing when it was the last member.
func (h *hub) leave(key string, m *watchhub.Member) {
	h.Leave(key, m, func(e *watchhub.Entry[int64]) {
		if h.ps != nil {
			h.send(key, e, false)
		}
	})
}

// send writes SUBSCRIBE or UNSUBSCRIBE for key's channel on the current connection. The Hub's lock
// is held, so commands for one channel are written in the order the bookkeeping assumes. A failed
// write breaks the connection, which run notices and replaces.
func (h *hub) send(key string, e *watchhub.Entry[int64], subscribe bool) {
	e.Pending++
	e.SetActive(false)
	var err error
	if subscribe {
		err = h.ps.Subscribe(h.Context(), h.s.channel(key))
	} else {
		err = h.ps.Unsubscribe(h.Context(), h.s.channel(key))
	}
	if err != nil {
		_ = h.ps.Close()
	}
}

// awaitReady waits a little for a subscription to be confirmed. It reports whether it was.
func (h *hub) awaitReady(ctx context.Context, ready chan struct{}) bool {
	return watchhub.Await(ctx, ready, min(h.s.cfg.poll, time.Second))
}

func (h *hub) close() {
	h.Close(func() {
		if h.ps != nil {
			_ = h.ps.Close()
		}
	})
}

// run keeps one pub/sub connection subscribed to every wanted channel, replacing it when it fails.
func (h *hub) run(ctx context.Context) {
	watchhub.Retry(ctx, func() bool {
		ps := h.connect(ctx)
		if ps == nil {
			return false
		}
		defer h.disconnect(ps)
		return h.receive(ctx, ps)
	})
}

// connect waits until some channel is wanted, then opens a connection subscribed to all wanted
// channels. It returns nil once the hub is closed.
func (h *hub) connect(ctx context.Context) *redis.PubSub {
	for {
		h.Lock()
		if ctx.Err() != nil { // closed
			h.Unlock()
			return nil
		}
		var names []string
		for key, e := range h.AllLocked() {
			if e.Members() > 0 {
				names = append(names, h.s.channel(key))
				e.Pending = 1
			}
		}
		if len(names) > 0 {
			// Subscribe writes the command (dialling first); a failure shows up in receive.
			h.ps = h.s.rdb.Subscribe(ctx, names...)
			ps := h.ps
			h.Unlock()
			return ps
		}
		h.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-h.kick:
		}
	}
}

// disconnect forgets a failed connection: nothing is subscribed any more.
func (h *hub) disconnect(ps *redis.PubSub) {
	_ = ps.Close()
	h.Lock()
	defer h.Unlock()
	h.ps = nil
	h.failing = true
	for key, e := range h.AllLocked() {
		e.Pending = 0
		e.SetActive(false)
		h.ForgetIdleLocked(key)
	}
}

// receive reads ps until it fails, pinging it when it stays silent. It reports whether anything
// was received.
func (h *hub) receive(ctx context.Context, ps *redis.PubSub) (ok bool) {
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, h.s.cfg.health)
		if err != nil {
			var ne net.Error
			if ctx.Err() == nil && !pinged && errors.As(err, &ne) && ne.Timeout() {
				if ps.Ping(ctx) == nil {
					pinged = true
					continue
				}
			}
			return ok
		}
		ok, pinged = true, false
		h.handle(msg)
	}
}

func (h *hub) handle(msg any) {
	h.Lock()
	h.failing = false
	h.Unlock()
	switch msg := msg.(type) {
	case *redis.Subscription:
		if msg.Kind == "subscribe" || msg.Kind == "unsubscribe" {
			h.confirmed(msg.Channel, msg.Kind == "subscribe")
		}
	case *redis.Message:
		key, ok := h.s.keyOf(msg.Channel)
		if !ok {
			return
		}
		if msg.Payload == unlockPayload {
			h.Unlocked(key)
			return
		}
		v, err := strconv.ParseInt(msg.Payload, 10, 64)
		h.Changed(key, v, err == nil)
	}
}

// confirmed records Redis's confirmation of a SUBSCRIBE or UNSUBSCRIBE of channel. The server's
// state is the last command's, and is known once none is pending.
func (h *hub) confirmed(channel string, subscribed bool) {
	key, ok := h.s.keyOf(channel)
	if !ok {
		return
	}
	h.Lock()
	defer h.Unlock()
	e := h.EntryLocked(key)
	if e == nil {
		return
	}
	e.Pending = max(e.Pending-1, 0)
	if e.Pending == 0 {
		e.SetActive(subscribed && e.Members() > 0)
		h.ForgetIdleLocked(key)
	}
}
