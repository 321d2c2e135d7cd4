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
	m := &member{ch: make(chan struct{}, 1), watch: true}
	sub, ready, err := s.hub.join(key, m)
	if err != nil {
		return nil, nil, err
	}
	stop := sync.OnceFunc(func() { s.hub.leave(sub, m) })
	if !s.hub.awaitReady(ctx, ready) {
		// Not subscribed: the poller will watch this key. Give it a baseline now, so that a change
		// made after Watch returns differs from it. If Redis cannot say, the first successful poll
		// wakes the watcher.
		v, err := s.version(ctx, key)
		s.hub.baseline(sub, v, err == nil)
	}
	return m.ch, stop, nil
}

// version reads the stored version of key; 0 when absent.
func (s *Store) version(ctx context.Context, key string) (int64, error) {
	v, err := s.rdb.HGet(ctx, s.tokKey(key), "v").Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return v, err
}

// hub multiplexes every watch and lease wait of a Store over one pub/sub connection, and polls the
// watched keys whose subscription is not confirmed.
type hub struct {
	s      *Store
	ctx    context.Context // cancelled by close
	cancel context.CancelFunc
	kick   chan struct{} // wakes run when a channel is wanted and no connection is open
	wg     sync.WaitGroup

	mu      sync.Mutex
	started bool
	closed  bool
	ps      *redis.PubSub // the current connection; nil between connections and with noPubSub
	failing bool          // the last connection broke and no new one has answered yet
	subs    map[string]*sub
}

// sub is the state of one key's channel.
type sub struct {
	key     string
	channel string
	members map[*member]struct{}
	watches int // members with watch set

	// pending counts SUBSCRIBE and UNSUBSCRIBE commands sent on the current connection and not yet
	// confirmed. The server's state is the last command's, and is known when pending is 0.
	pending int
	active  bool          // confirmed subscribed: messages for the key are being delivered
	ready   chan struct{} // closed when active becomes true

	// version is the last version seen for the key, through a message, a poll or Watch's read;
	// known is false until there was one. missed is set when the subscription stops being active:
	// messages may have been lost, so the poller checks the version once it is active again.
	// blind means a watcher relies on the poller with nothing to compare against (messages were
	// lost before any version was seen, or Watch could not read one): the first poll wakes it.
	version int64
	known   bool
	missed  bool
	blind   bool
}

// member is one watch or one waiting Lock.
type member struct {
	ch    chan struct{}
	watch bool // a Watch: woken by changes. Otherwise a Lock waiting: woken by unlocks.
}

func newHub(s *Store) *hub {
	ctx, cancel := context.WithCancel(context.Background())
	return &hub{s: s, ctx: ctx, cancel: cancel, kick: make(chan struct{}, 1), subs: map[string]*sub{}}
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// join adds m to key's channel, subscribing if it is the first member. ready is closed once the
// subscription is confirmed; it is nil when pub/sub is off or failing, and polling takes over.
func (h *hub) join(key string, m *member) (*sub, chan struct{}, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, nil, errClosed
	}
	if !h.started {
		h.started = true
		h.wg.Add(2)
		go h.run()
		go h.poll()
	}
	name := h.s.channel(key)
	sb := h.subs[name]
	if sb == nil {
		sb = &sub{key: key, channel: name, members: map[*member]struct{}{}, ready: make(chan struct{})}
		h.subs[name] = sb
	}
	first := len(sb.members) == 0
	sb.members[m] = struct{}{}
	if m.watch {
		sb.watches++
	}
	if first {
		if h.ps == nil {
			notify(h.kick)
		} else {
			h.send(sb, true)
		}
	}
	if h.failing || h.s.cfg.noPubSub {
		return sb, nil, nil // nothing to wait for: the poller takes over
	}
	return sb, sb.ready, nil
}

// leave removes m, unsubscribing when it was the last member.
func (h *hub) leave(sb *sub, m *member) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := sb.members[m]; !ok {
		return
	}
	delete(sb.members, m)
	if m.watch {
		sb.watches--
	}
	if len(sb.members) > 0 || h.closed {
		return
	}
	if h.ps != nil {
		h.send(sb, false)
	}
	h.forgetIfIdle(sb)
}

// send writes SUBSCRIBE or UNSUBSCRIBE for sb on the current connection. h.mu is held, so commands
// for one channel are written in the order the bookkeeping assumes. A failed write breaks the
// connection, which run notices and replaces.
func (h *hub) send(sb *sub, subscribe bool) {
	sb.pending++
	h.setActive(sb, false)
	var err error
	if subscribe {
		err = h.ps.Subscribe(h.ctx, sb.channel)
	} else {
		err = h.ps.Unsubscribe(h.ctx, sb.channel)
	}
	if err != nil {
		_ = h.ps.Close()
	}
}

func (h *hub) forgetIfIdle(sb *sub) {
	if len(sb.members) == 0 && sb.pending == 0 && h.subs[sb.channel] == sb {
		delete(h.subs, sb.channel)
	}
}

func (h *hub) setActive(sb *sub, active bool) {
	if sb.active == active {
		return
	}
	sb.active = active
	if active {
		close(sb.ready)
	} else {
		sb.ready = make(chan struct{})
		sb.missed = true
		sb.blind = sb.blind || (!sb.known && sb.watches > 0)
	}
}

// awaitReady waits a little for a subscription to be confirmed. It reports whether it was.
func (h *hub) awaitReady(ctx context.Context, ready chan struct{}) bool {
	if ready == nil {
		return false
	}
	select {
	case <-ready:
		return true
	default:
	}
	t := time.NewTimer(min(h.s.cfg.poll, time.Second))
	defer t.Stop()
	select {
	case <-ready:
		return true
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}

// baseline records v, read by Watch for a key that is not subscribed. If the key was already known
// at an older version, the other watchers have missed that change and are woken.
// Without v (ok false), the watcher is blind: the first successful poll wakes it.
func (h *hub) baseline(sb *sub, v int64, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case sb.active:
	case !ok:
		sb.blind = sb.blind || !sb.known
	case !sb.known:
		sb.version, sb.known = v, true
	case v > sb.version:
		sb.version = v
		h.wake(sb, true)
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
	if h.ps != nil {
		_ = h.ps.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// run keeps one pub/sub connection subscribed to every wanted channel, replacing it when it fails.
func (h *hub) run() {
	defer h.wg.Done()
	if h.s.cfg.noPubSub {
		return
	}
	const minBackoff, maxBackoff = 50 * time.Millisecond, 5 * time.Second
	backoff := minBackoff
	for {
		ps := h.connect()
		if ps == nil {
			return
		}
		if h.receive(ps) {
			backoff = minBackoff
		}
		h.disconnect(ps)
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

// connect waits until some channel is wanted, then opens a connection subscribed to all wanted
// channels. It returns nil once the hub is closed.
func (h *hub) connect() *redis.PubSub {
	for {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return nil
		}
		var names []string
		for name, sb := range h.subs {
			if len(sb.members) > 0 {
				names = append(names, name)
			} else {
				delete(h.subs, name)
			}
		}
		if len(names) > 0 {
			// Subscribe writes the command (dialling first); a failure shows up in receive.
			ps := h.s.rdb.Subscribe(h.ctx, names...)
			for _, name := range names {
				h.subs[name].pending = 1
			}
			h.ps = ps
			h.mu.Unlock()
			return ps
		}
		h.mu.Unlock()
		select {
		case <-h.ctx.Done():
			return nil
		case <-h.kick:
		}
	}
}

// disconnect forgets a failed connection: nothing is subscribed any more.
func (h *hub) disconnect(ps *redis.PubSub) {
	_ = ps.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ps = nil
	h.failing = true
	for _, sb := range h.subs {
		sb.pending = 0
		h.setActive(sb, false)
		h.forgetIfIdle(sb)
	}
}

// receive reads ps until it fails, pinging it when it stays silent. It reports whether anything
// was received.
func (h *hub) receive(ps *redis.PubSub) (ok bool) {
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(h.ctx, h.s.cfg.health)
		if err != nil {
			var ne net.Error
			if h.ctx.Err() == nil && !pinged && errors.As(err, &ne) && ne.Timeout() {
				if ps.Ping(h.ctx) == nil {
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
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failing = false
	switch msg := msg.(type) {
	case *redis.Subscription:
		sb := h.subs[msg.Channel]
		if sb == nil || (msg.Kind != "subscribe" && msg.Kind != "unsubscribe") {
			return
		}
		sb.pending = max(sb.pending-1, 0)
		if sb.pending == 0 {
			h.setActive(sb, msg.Kind == "subscribe" && len(sb.members) > 0)
			h.forgetIfIdle(sb)
		}
	case *redis.Message:
		sb := h.subs[msg.Channel]
		if sb == nil {
			return
		}
		if msg.Payload == unlockPayload {
			h.wake(sb, false)
			return
		}
		if v, err := strconv.ParseInt(msg.Payload, 10, 64); err == nil && (v > sb.version || !sb.known) {
			sb.version, sb.known = v, true
		}
		h.wake(sb, true)
	}
}

// poll checks, every poll interval, the version of each watched key whose subscription is not
// active, or has just become active again after an outage, and wakes its watchers when it changed
// (or when they are blind).
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
		var due []polled
		for _, sb := range h.subs {
			if sb.watches > 0 && (!sb.active || sb.missed) {
				due = append(due, polled{sb, sb.active})
			}
		}
		h.mu.Unlock()
		for start := 0; start < len(due); start += loadBatch {
			h.pollBatch(due[start:min(start+loadBatch, len(due))])
		}
	}
}

// polled is a sub to poll, and whether it was active before the poll was sent: then the answer
// covers every change the subscription may have missed.
type polled struct {
	sb     *sub
	active bool
}

func (h *hub) pollBatch(due []polled) {
	ctx, cancel := context.WithTimeout(h.ctx, max(h.s.cfg.poll, time.Second))
	defer cancel()
	pipe := h.s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(due))
	for i, p := range due {
		cmds[i] = pipe.HGet(ctx, h.s.tokKey(p.sb.key), "v")
	}
	_, _ = pipe.Exec(ctx)
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, p := range due {
		sb := p.sb
		v, err := cmds[i].Int64()
		if errors.Is(err, redis.Nil) {
			v, err = 0, nil
		}
		if err != nil || h.subs[sb.channel] != sb || (sb.active && !p.active) {
			continue
		}
		changed := sb.blind || (sb.known && v != sb.version)
		sb.version, sb.known, sb.blind = v, true, false
		if changed {
			h.wake(sb, true)
		}
		if p.active && sb.active {
			sb.missed = false
		}
	}
}
