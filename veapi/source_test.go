package veapi

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shoptokentest"
)

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// recordingStore is a MemoryStore (so also a Locker and Watcher) that records, in order, every
// refresh token it finished saving and every token a caller reported observing, and can delay
// saves to widen the window in which a wrongly early publish would be seen.
type recordingStore struct {
	*shoptoken.MemoryStore
	delay time.Duration

	mu    sync.Mutex
	saved map[string]int // refresh token -> position in log
	log   []string
}

func newRecordingStore(delay time.Duration) *recordingStore {
	return &recordingStore{MemoryStore: shoptoken.NewMemoryStore(), delay: delay, saved: map[string]int{}}
}

func (s *recordingStore) Save(ctx context.Context, key string, tok *shoptoken.Token, prev int64) (int64, error) {
	time.Sleep(s.delay)
	v, err := s.MemoryStore.Save(ctx, key, tok, prev)
	if err == nil {
		s.mu.Lock()
		s.saved[tok.RefreshToken] = len(s.log)
		s.log = append(s.log, "saved "+tok.RefreshToken)
		s.mu.Unlock()
	}
	return v, err
}

// observe records that a caller saw tok and reports whether its refresh token was saved before.
func (s *recordingStore) observe(tok *shoptoken.Token) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, "observed "+tok.RefreshToken)
	_, ok := s.saved[tok.RefreshToken]
	return ok
}

// events collects a Cache's events.
type events struct {
	mu  sync.Mutex
	all []shoptoken.Event
}

func (e *events) record(ev shoptoken.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) count(k shoptoken.EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

func TestNewSource_invalidConfig(t *testing.T) {
	src, err := NewSource(Config{BaseURL: mockBase}, "shop-1")
	require.ErrorIs(t, err, shoptoken.ErrCredentials)
	assert.Contains(t, err.Error(), "Config.VEKey")
	assert.Nil(t, src)

	_, err = NewSource(Config{VEKey: testVEKey, BaseURL: "://nope"}, "shop-1")
	require.ErrorIs(t, err, shoptoken.ErrBadRequest)
	assert.Contains(t, err.Error(), "Config.BaseURL")
}

func TestNewSource_Token_noRefreshToken(t *testing.T) {
	tests := []struct {
		name string
		opts func(st *shoptoken.MemoryStore) []shoptoken.Option
	}{
		{"no token, no store", func(*shoptoken.MemoryStore) []shoptoken.Option { return nil }},
		{"empty store", func(st *shoptoken.MemoryStore) []shoptoken.Option {
			return []shoptoken.Option{shoptoken.WithStore(st)}
		}},
		{"expired access token without refresh token", func(*shoptoken.MemoryStore) []shoptoken.Option {
			return []shoptoken.Option{shoptoken.WithToken(&shoptoken.Token{
				AccessToken: "ACCESSACCESSACCESSACCESSACCESSACCESSAC01", Expiry: time.Now().Add(-time.Minute)})}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := newEmu(t)
			ev := &events{}
			opts := append(tt.opts(shoptoken.NewMemoryStore()), shoptoken.WithEvents(ev.record))
			src, err := NewSource(emuConfig(emu), "shop-1", opts...)
			require.NoError(t, err)
			defer src.Close()

			for range 3 {
				tok, err := src.Token(context.Background())
				require.ErrorIs(t, err, shoptoken.ErrReauthorize)
				assert.Nil(t, tok)
				assert.Contains(t, err.Error(), "veapi: refresh: no refresh token: authorize the shop first")
			}
			assert.Zero(t, emu.Stats().TokenRequests, "no platform call without a refresh token")
			assert.Equal(t, 1, ev.count(shoptoken.EventGrantLost), "reported once, not retried")
		})
	}
}

func TestNewSource_Token_fromWithToken(t *testing.T) {
	emu := newEmu(t)
	rt := emu.NewGrant("shop-1")
	st := shoptoken.NewMemoryStore()
	src, err := NewSource(emuConfig(emu), "shop-1",
		shoptoken.WithToken(&shoptoken.Token{RefreshToken: rt, Subject: "shop-1"}),
		shoptoken.WithStore(st))
	require.NoError(t, err)
	defer src.Close()

	tok, err := src.Token(context.Background())

	require.NoError(t, err)
	assert.True(t, emu.Valid(tok.AccessToken))
	assert.NotEqual(t, rt, tok.RefreshToken)
	assert.Equal(t, "shop-1", tok.Subject, "the subject is carried over")
	assert.Equal(t, "NORMAL", tok.Extra["status"])
	assert.WithinDuration(t, time.Now().Add(90*24*time.Hour), tok.Expiry, time.Minute)
	assert.WithinDuration(t, time.Now().Add(180*24*time.Hour), tok.RefreshExpiry, time.Minute)
	stored, ver, err := st.Load(context.Background(), testKey)
	require.NoError(t, err)
	assert.Equal(t, tok.RefreshToken, stored.RefreshToken)
	assert.Equal(t, int64(2), ver, "the grant was saved, then its rotation")

	again, err := src.Token(context.Background())
	require.NoError(t, err)
	assert.Same(t, tok, again)
	assert.Equal(t, 1, emu.Stats().TokenRequests)
}

func TestNewSource_Token_validWithTokenMakesNoCall(t *testing.T) {
	emu := newEmu(t)
	rt := emu.NewGrant("shop-1")
	given := &shoptoken.Token{AccessToken: "ACCESSACCESSACCESSACCESSACCESSACCESSAC02", RefreshToken: rt,
		Expiry: time.Now().Add(30 * 24 * time.Hour)}
	src, err := NewSource(emuConfig(emu), "shop-1", shoptoken.WithToken(given))
	require.NoError(t, err)
	defer src.Close()

	tok, err := src.Token(context.Background())

	require.NoError(t, err)
	assert.Equal(t, given.AccessToken, tok.AccessToken)
	assert.Zero(t, emu.Stats().TokenRequests)
}

// TestNewSource_Token_rotationChain follows a chain through 20 planned rotations on a fake clock:
// no dead refresh token is ever used, and the store holds each new refresh token before any caller
// sees the new access token.
func TestNewSource_Token_rotationChain(t *testing.T) {
	fc := shoptokentest.NewClock(t0)
	emu := newEmu(t, shoptokentest.WithClock(fc), shoptokentest.WithTokenTTL(time.Hour))
	rt := emu.NewGrant("shop-1")
	st := newRecordingStore(5 * time.Millisecond)
	ev := &events{}
	cfg := emuConfig(emu)
	cfg.Clock = fc
	src, err := NewSource(cfg, "shop-1",
		shoptoken.WithToken(&shoptoken.Token{RefreshToken: rt, Subject: "shop-1"}),
		shoptoken.WithStore(st),
		shoptoken.WithEvents(ev.record)) // Config.Clock reaches the Cache
	require.NoError(t, err)
	defer src.Close()
	ctx := context.Background()

	tok, err := src.Token(ctx)
	require.NoError(t, err)

	// Callers keep reading while rotations happen in the background.
	var stop atomic.Bool
	var early atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if got, err := src.Token(ctx); err == nil && !st.observe(got) {
					early.Add(1)
				}
				time.Sleep(100 * time.Microsecond)
			}
		}()
	}

	seen := map[string]bool{rt: true, tok.RefreshToken: true}
	for i := range 20 {
		// Just past the planned refresh: half the token's life (the week-long early window is
		// capped at half of a one-hour life).
		due := tok.Expiry.Add(-tok.Expiry.Sub(tok.IssuedAt) / 2)
		// Let the previous refresh's goroutine finish first: a planned refresh that falls due
		// between a refresh's publish and the end of its flight is skipped by the engine (reported).
		time.Sleep(10 * time.Millisecond)
		fc.Advance(due.Sub(fc.Now()) + time.Millisecond)
		prev := tok
		// EventPersisted is emitted after the new token is published and its timers are armed.
		if !assert.Eventually(t, func() bool { return ev.count(shoptoken.EventPersisted) == i+2 },
			5*time.Second, time.Millisecond, "rotation %d", i+1) {
			ev.mu.Lock()
			for _, e := range ev.all {
				t.Logf("%v %s %s %v", e.Time.Sub(t0), e.Kind, e.Reason, e.Err)
			}
			ev.mu.Unlock()
			t.Logf("now %v pending %d cur %v prev %v stats %+v", fc.Now().Sub(t0), fc.Pending(), src.Current(), prev, emu.Stats())
			t.FailNow()
		}
		tok = src.Current()
		require.NotEqual(t, prev.AccessToken, tok.AccessToken)
		assert.False(t, seen[tok.RefreshToken], "rotation %d issued a fresh refresh token", i+1)
		seen[tok.RefreshToken] = true
		stored, _, err := st.Load(ctx, testKey)
		require.NoError(t, err)
		assert.Equal(t, tok.RefreshToken, stored.RefreshToken, "the store holds the latest refresh token")
		assert.True(t, emu.Valid(tok.AccessToken))
		assert.False(t, emu.Valid(prev.AccessToken), "the previous access token died with the rotation")
	}
	stop.Store(true)
	wg.Wait()

	s := emu.Stats()
	assert.Zero(t, s.DeadRefreshUsed)
	assert.Zero(t, s.Errors)
	assert.Equal(t, 21, s.Issued)
	assert.Equal(t, 21, s.TokenRequests)
	assert.Zero(t, early.Load(), "no caller saw a token before its refresh token was saved")
	assert.Equal(t, 21, ev.count(shoptoken.EventPersisted))
	_, ver, err := st.Load(ctx, testKey)
	require.NoError(t, err)
	assert.Equal(t, int64(22), ver, "the grant and 21 rotations")

	// The stored refresh token still continues the chain.
	next, err := cfg.Refresh(ctx, tok.RefreshToken)
	require.NoError(t, err)
	assert.True(t, emu.Valid(next.AccessToken))
	assert.Zero(t, emu.Stats().DeadRefreshUsed)
}

// TestNewSource_Invalidate_persistBeforePublish checks the order directly: with slow saves and
// many callers, every caller that sees a new access token finds its refresh token already saved.
func TestNewSource_Invalidate_persistBeforePublish(t *testing.T) {
	emu := newEmu(t)
	rt := emu.NewGrant("shop-1")
	st := newRecordingStore(20 * time.Millisecond)
	src, err := NewSource(emuConfig(emu), "shop-1",
		shoptoken.WithToken(&shoptoken.Token{RefreshToken: rt}),
		shoptoken.WithStore(st),
		shoptoken.WithMinInterval(0))
	require.NoError(t, err)
	defer src.Close()
	ctx := context.Background()

	var stop atomic.Bool
	var early, observed atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				tok, err := src.Token(ctx)
				if err != nil {
					continue
				}
				observed.Add(1)
				if !st.observe(tok) {
					early.Add(1)
				}
			}
		}()
	}
	tok, err := src.Token(ctx)
	require.NoError(t, err)
	for range 5 {
		time.Sleep(5 * time.Millisecond)
		tok, err = src.Invalidate(ctx, tok)
		require.NoError(t, err)
	}
	time.Sleep(5 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	assert.Zero(t, early.Load(), "a caller saw an access token before its refresh token was stored")
	assert.Positive(t, observed.Load())
	s := emu.Stats()
	assert.Equal(t, 6, s.Issued)
	assert.Zero(t, s.DeadRefreshUsed)
	// In the log, each refresh token is saved before anyone observes it.
	st.mu.Lock()
	defer st.mu.Unlock()
	for i, entry := range st.log {
		if rt, ok := strings.CutPrefix(entry, "observed "); ok {
			pos, saved := st.saved[rt]
			require.True(t, saved)
			require.Less(t, pos, i)
		}
	}
}

// TestNewSource_Invalidate_rotatedElsewhere: another process rotated the chain without updating our
// store. The refresh meets a dead refresh token: ErrReauthorize, EventGrantLost, and no retry loop.
func TestNewSource_Invalidate_rotatedElsewhere(t *testing.T) {
	emu := newEmu(t)
	rt := emu.NewGrant("shop-1")
	ev := &events{}
	src, err := NewSource(emuConfig(emu), "shop-1",
		shoptoken.WithToken(&shoptoken.Token{RefreshToken: rt}),
		shoptoken.WithStore(shoptoken.NewMemoryStore()),
		shoptoken.WithMinInterval(0),
		shoptoken.WithEvents(ev.record))
	require.NoError(t, err)
	defer src.Close()
	ctx := context.Background()
	tok, err := src.Token(ctx)
	require.NoError(t, err)

	a, r := emu.RotateElsewhere("shop-1")
	require.NotEmpty(t, a)
	require.NotEmpty(t, r)
	emu.ResetStats()

	_, err = src.Invalidate(ctx, tok)

	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	var e *shoptoken.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, shoptokentest.VeapiErrRefreshDead, e.Code)
	assert.NotEmpty(t, e.RequestID)

	// Many callers, no retry loop.
	var wg sync.WaitGroup
	var reauth atomic.Int64
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if _, err := src.Token(ctx); errors.Is(err, shoptoken.ErrReauthorize) {
					reauth.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, int64(500), reauth.Load())
	s := emu.Stats()
	assert.Equal(t, 1, s.TokenRequests, "one refresh attempt, not a loop")
	assert.Equal(t, 1, s.DeadRefreshUsed)
	assert.Equal(t, 1, ev.count(shoptoken.EventGrantLost))
}

// TestNewSource_Token_rotatedElsewherePlanned: the same, found by a planned refresh. The token
// still counts as valid (callers get it), the loss is reported once, and no planned refresh runs
// again for that token.
func TestNewSource_Token_rotatedElsewherePlanned(t *testing.T) {
	fc := shoptokentest.NewClock(t0)
	emu := newEmu(t, shoptokentest.WithClock(fc))
	rt := emu.NewGrant("shop-1")
	ev := &events{}
	cfg := emuConfig(emu)
	cfg.Clock = fc
	src, err := NewSource(cfg, "shop-1",
		shoptoken.WithToken(&shoptoken.Token{RefreshToken: rt}),
		shoptoken.WithStore(shoptoken.NewMemoryStore()),
		shoptoken.WithEvents(ev.record)) // Config.Clock reaches the Cache
	require.NoError(t, err)
	defer src.Close()
	ctx := context.Background()
	tok, err := src.Token(ctx)
	require.NoError(t, err)
	emu.RotateElsewhere("shop-1")
	emu.ResetStats()

	fc.Advance(84 * 24 * time.Hour) // inside the week-long early window
	require.Eventually(t, func() bool { return ev.count(shoptoken.EventGrantLost) == 1 }, 5*time.Second, time.Millisecond)
	for range 10 {
		fc.Advance(time.Hour)
		got, err := src.Token(ctx)
		require.NoError(t, err, "static stability: the unexpired token is still served")
		assert.Equal(t, tok.AccessToken, got.AccessToken)
	}
	time.Sleep(20 * time.Millisecond)
	assert.Equal(t, 1, emu.Stats().TokenRequests)
	assert.Equal(t, 1, emu.Stats().DeadRefreshUsed)
	assert.Equal(t, 1, ev.count(shoptoken.EventGrantLost))
}

// TestNewSource_Token_fleetOneRefresh: two Caches (two processes) sharing a MemoryStore, 50
// goroutines each, an expired token: exactly one refresh.
func TestNewSource_Token_fleetOneRefresh(t *testing.T) {
	emu := newEmu(t, shoptokentest.WithLatency(30*time.Millisecond))
	rt := emu.NewGrant("shop-1")
	st := shoptoken.NewMemoryStore()
	ctx := context.Background()
	_, err := st.Save(ctx, testKey, &shoptoken.Token{
		AccessToken: "EXPIREDEXPIREDEXPIREDEXPIREDEXPIREDEXP03", RefreshToken: rt,
		Expiry: time.Now().Add(-time.Hour), Subject: "shop-1"}, 0)
	require.NoError(t, err)

	caches := make([]*shoptoken.Cache, 2)
	for i := range caches {
		caches[i], err = NewSource(emuConfig(emu), "shop-1", shoptoken.WithStore(st))
		require.NoError(t, err)
		defer caches[i].Close()
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string]int{}
	start := make(chan struct{})
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			tok, err := caches[i%2].Token(ctx)
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			got[tok.AccessToken]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()

	s := emu.Stats()
	assert.Equal(t, 1, s.TokenRequests)
	assert.Equal(t, 1, s.Issued)
	assert.Zero(t, s.DeadRefreshUsed)
	require.Len(t, got, 1, "every caller got the same token")
	for access, n := range got {
		assert.Equal(t, 100, n)
		assert.True(t, emu.Valid(access))
	}
	stored, ver, err := st.Load(ctx, testKey)
	require.NoError(t, err)
	assert.Equal(t, int64(2), ver)
	assert.Equal(t, "shop-1", stored.Subject)
}

// TestNewSource_Token_faultDrop: veapi issues the token but the answer is lost. The caller gets
// ErrUnavailable; the chain is gone on the platform side, so the retry meets a dead refresh token.
func TestNewSource_Token_faultDrop(t *testing.T) {
	emu := newEmu(t)
	rt := emu.NewGrant("shop-1")
	ev := &events{}
	src, err := NewSource(emuConfig(emu), "shop-1",
		shoptoken.WithToken(&shoptoken.Token{RefreshToken: rt}),
		shoptoken.WithStore(shoptoken.NewMemoryStore()),
		shoptoken.WithMinInterval(0),
		shoptoken.WithBackoff(time.Millisecond, 2*time.Millisecond),
		shoptoken.WithEvents(ev.record))
	require.NoError(t, err)
	defer src.Close()
	emu.FailNext(shoptokentest.FaultDrop, 1)

	_, err = src.Token(context.Background())
	require.ErrorIs(t, err, shoptoken.ErrUnavailable)
	assert.Equal(t, 1, emu.Stats().Issued, "the platform did issue a token")
	assert.Equal(t, 1, emu.Stats().TokenRequests, "the lost request was not repeated")

	time.Sleep(10 * time.Millisecond)
	_, err = src.Token(context.Background())
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	s := emu.Stats()
	assert.Equal(t, 2, s.TokenRequests)
	assert.Equal(t, 1, s.DeadRefreshUsed)
	assert.Equal(t, 1, ev.count(shoptoken.EventGrantLost))
}

func TestConfig_Refresh_emulatorFaults(t *testing.T) {
	tests := []struct {
		fault     shoptokentest.Fault
		wantKind  error // nil: success
		wantIssue int
		oldAlive  bool // the refresh token sent still works afterwards
	}{
		{shoptokentest.FaultUnavailable, shoptoken.ErrUnavailable, 0, true},
		{shoptokentest.FaultHTML, shoptoken.ErrUnavailable, 0, true},
		{shoptokentest.FaultHTML200, shoptoken.ErrBadResponse, 0, true},
		{shoptokentest.FaultTruncated, shoptoken.ErrBadResponse, 1, false},
		{shoptokentest.FaultDrop, shoptoken.ErrUnavailable, 1, false},
		{shoptokentest.FaultWrongTypes, nil, 1, false},
		{shoptokentest.FaultSlow, shoptoken.ErrUnavailable, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			t.Parallel()
			emu := newEmu(t)
			rt := emu.NewGrant("shop-1")
			emu.FailNext(tt.fault, 1)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()

			tok, err := emuConfig(emu).Refresh(ctx, rt)

			s := emu.Stats()
			assert.Equal(t, 1, s.TokenRequests, "never repeated")
			assert.Equal(t, tt.wantIssue, s.Issued)
			if tt.wantKind != nil {
				require.ErrorIs(t, err, tt.wantKind)
				assert.Nil(t, tok)
			} else {
				require.NoError(t, err)
				assert.True(t, emu.Valid(tok.AccessToken))
				assert.WithinDuration(t, time.Now().Add(90*24*time.Hour), tok.Expiry, time.Minute)
				// The leniently read answer continues the chain.
				next, err := emuConfig(emu).Refresh(context.Background(), tok.RefreshToken)
				require.NoError(t, err)
				assert.True(t, emu.Valid(next.AccessToken))
			}
			_, err = emuConfig(emu).Refresh(context.Background(), rt)
			if tt.oldAlive {
				assert.NoError(t, err, "nothing was issued: the chain goes on")
			} else {
				assert.ErrorIs(t, err, shoptoken.ErrReauthorize, "the sent refresh token was rotated away")
			}
		})
	}
}

func TestConfig_Refresh_emulatorErrors(t *testing.T) {
	emu := newEmu(t, shoptokentest.WithRefreshTTL(time.Hour))
	rt := emu.NewGrant("shop-1")
	ctx := context.Background()

	_, err := Config{VEKey: "wrong", BaseURL: emu.URL, HTTPClient: emu.Client()}.Refresh(ctx, rt)
	require.ErrorIs(t, err, shoptoken.ErrCredentials)
	assert.True(t, contains(err, shoptokentest.VeapiErrVEKey))

	_, err = emuConfig(emu).Refresh(ctx, "NEVERISSUEDNEVERISSUEDNEVERISSUEDNEVER04")
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	assert.True(t, contains(err, shoptokentest.VeapiErrRefreshUnknown))

	emu.ExpireRefreshNow()
	_, err = emuConfig(emu).Refresh(ctx, rt)
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	assert.True(t, contains(err, shoptokentest.VeapiErrRefreshExpired))

	rt2 := emu.NewGrant("shop-2")
	emu.Revoke("shop-2")
	_, err = emuConfig(emu).Refresh(ctx, rt2)
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	assert.True(t, contains(err, shoptokentest.VeapiErrRefreshDead))
}

// TestNewSource_defaults checks the veapi policy on a fake clock with the platform's lifetimes
// (90-day tokens, a 180-day grant): the planned refresh starts about a week before expiry, and the
// grant warning comes five days before the grant ends.
func TestNewSource_defaults(t *testing.T) {
	fc := shoptokentest.NewClock(t0)
	emu := newEmu(t, shoptokentest.WithClock(fc))
	rt := emu.NewGrant("shop-1")
	ev := &events{}
	cfg := emuConfig(emu)
	cfg.Clock = fc
	src, err := NewSource(cfg, "shop-1", shoptoken.WithToken(&shoptoken.Token{RefreshToken: rt}),
		shoptoken.WithEvents(ev.record)) // Config.Clock reaches the Cache
	require.NoError(t, err)
	defer src.Close()
	ctx := context.Background()
	day := 24 * time.Hour

	tok, err := src.Token(ctx)
	require.NoError(t, err)
	assert.True(t, t0.Add(90*day).Equal(tok.Expiry))
	assert.True(t, t0.Add(180*day).Equal(tok.RefreshExpiry))

	fc.Advance(82 * day) // 90 - 7 days - 10 % jitter = 82.3 days at the earliest
	time.Sleep(20 * time.Millisecond)
	assert.Equal(t, 1, emu.Stats().Issued, "no refresh more than 7.7 days ahead")
	fc.Advance(2 * day) // 90 - 7 days + 10 % jitter = 83.7 days at the latest
	require.Eventually(t, func() bool { return emu.Stats().Issued == 2 }, 5*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return src.Current().AccessToken != tok.AccessToken }, 5*time.Second, time.Millisecond)
	tok = src.Current()
	assert.True(t, t0.Add(180*day).Equal(tok.RefreshExpiry), "the emulator does not extend the grant")

	// The grant warning: five days before refresh_expires_time.
	for warnAt := t0.Add(175 * day); fc.Now().Before(warnAt.Add(-time.Hour)); {
		fc.Advance(min(12*time.Hour, warnAt.Add(-time.Hour).Sub(fc.Now())))
		time.Sleep(5 * time.Millisecond)
	}
	assert.Zero(t, ev.count(shoptoken.EventGrantExpiring))
	fc.Advance(2 * time.Hour)
	require.Eventually(t, func() bool { return ev.count(shoptoken.EventGrantExpiring) >= 1 }, 5*time.Second, time.Millisecond)
	assert.Zero(t, emu.Stats().DeadRefreshUsed)
}

// TestNewSource_minInterval: right after a refresh, a second one waits for the 15-second minimum
// interval instead of rotating the chain at once.
func TestNewSource_minInterval(t *testing.T) {
	fc := shoptokentest.NewClock(t0)
	emu := newEmu(t, shoptokentest.WithClock(fc))
	rt := emu.NewGrant("shop-1")
	cfg := emuConfig(emu)
	cfg.Clock = fc
	src, err := NewSource(cfg, "shop-1", shoptoken.WithToken(&shoptoken.Token{RefreshToken: rt}))
	require.NoError(t, err)
	defer src.Close()
	ctx := context.Background()
	tok, err := src.Token(ctx)
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() {
		_, err := src.Invalidate(ctx, tok)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, 1, emu.Stats().TokenRequests, "the second refresh waits")
	fc.Advance(DefaultMinInterval)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the refresh did not run after the minimum interval")
	}
	assert.Equal(t, 2, emu.Stats().TokenRequests)
}

// veapi may rotate the refresh token on every renewal, or answer with the one it was sent (the
// platform's own example answer does that). Both shapes continue the chain through a Cache with a
// Store: every renewal saved before use, a restart picks up where the last one left off, and
// nothing is reported lost.
func TestNewSource_refreshShapes(t *testing.T) {
	for _, tt := range []struct {
		name string
		same bool
	}{{"rotated refresh token", false}, {"same refresh token", true}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := []shoptokentest.Option{shoptokentest.WithTokenTTL(time.Hour)}
			if tt.same {
				opts = append(opts, shoptokentest.WithSameRefreshToken())
			}
			emu := newEmu(t, opts...)
			rt := emu.NewGrant("shop-1")
			st := shoptoken.NewMemoryStore()
			ev := &events{}
			newSrc := func(with ...shoptoken.Option) *shoptoken.Cache {
				src, err := NewSource(emuConfig(emu), "shop-1", append([]shoptoken.Option{
					shoptoken.WithStore(st), shoptoken.WithMinInterval(0),
					shoptoken.WithEvents(ev.record)}, with...)...)
				require.NoError(t, err)
				return src
			}
			ctx := context.Background()
			src := newSrc(shoptoken.WithToken(&shoptoken.Token{RefreshToken: rt, Subject: "shop-1"}))
			tok, err := src.Token(ctx)
			require.NoError(t, err)
			for range 3 {
				prev := tok
				tok, err = src.Invalidate(ctx, prev)
				require.NoError(t, err)
				require.NotEqual(t, prev.AccessToken, tok.AccessToken)
				assert.Equal(t, tt.same, tok.RefreshToken == prev.RefreshToken, "the shape under test")
				stored, _, err := st.Load(ctx, testKey)
				require.NoError(t, err)
				assert.Equal(t, tok.AccessToken, stored.AccessToken, "saved before use")
				assert.Equal(t, tok.RefreshToken, stored.RefreshToken)
				assert.True(t, emu.Valid(tok.AccessToken))
			}
			// The API client recovers from an expired token the same way.
			hc := mustClient(t, emuConfig(emu), src).HTTPClient()
			emu.ExpireNow()
			resp, err := hc.Get(emu.URL + "/vip/api")
			require.NoError(t, err)
			var a apiAnswer
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
			resp.Body.Close()
			assert.Equal(t, "0", a.Error)
			src.Close()

			// A restart: a new Cache on the same store goes on from the saved token.
			again := newSrc()
			defer again.Close()
			cur, err := again.Token(ctx)
			require.NoError(t, err)
			next, err := again.Invalidate(ctx, cur)
			require.NoError(t, err)
			assert.True(t, emu.Valid(next.AccessToken))
			if tt.same {
				assert.Equal(t, rt, next.RefreshToken, "the one refresh token carries the whole chain")
			}

			s := emu.Stats()
			assert.Zero(t, s.DeadRefreshUsed)
			assert.Zero(t, s.Errors)
			assert.Equal(t, 6, s.Issued)
			assert.Zero(t, ev.count(shoptoken.EventGrantLost), "nothing is reported lost")
			assert.Zero(t, ev.count(shoptoken.EventRefreshFailed))
			assert.Equal(t, 6, ev.count(shoptoken.EventPersisted))
		})
	}
}
