package redisstore

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
)

func fullToken() *shoptoken.Token {
	cst := time.FixedZone("CST", 8*3600)
	return &shoptoken.Token{
		AccessToken:   "at-0123456789abcdef",
		TokenType:     "Bearer",
		RefreshToken:  "rt-fedcba9876543210",
		Expiry:        time.Date(2031, 5, 6, 7, 8, 9, 123456789, cst),
		RefreshExpiry: time.Date(2032, 1, 2, 3, 4, 5, 1, time.UTC),
		IssuedAt:      time.Date(2031, 5, 6, 5, 8, 9, 0, cst),
		Scope:         []string{"item", "trade", "用户"},
		Subject:       "88888",
		Extra:         map[string]string{"status": "1", "authority_id": "x\"y\n", "空": ""},
	}
}

// assertSameToken compares every field; times by instant and offset.
func assertSameToken(t *testing.T, want, got *shoptoken.Token) {
	t.Helper()
	require.NotNil(t, got)
	for _, p := range [][2]time.Time{{want.Expiry, got.Expiry}, {want.RefreshExpiry, got.RefreshExpiry}, {want.IssuedAt, got.IssuedAt}} {
		assert.True(t, p[0].Equal(p[1]), "time %v != %v", p[0], p[1])
		_, wo := p[0].Zone()
		_, go_ := p[1].Zone()
		assert.Equal(t, wo, go_, "zone offset of %v", p[0])
	}
	w, g := *want, *got
	w.Expiry, w.RefreshExpiry, w.IssuedAt = time.Time{}, time.Time{}, time.Time{}
	g.Expiry, g.RefreshExpiry, g.IssuedAt = time.Time{}, time.Time{}, time.Time{}
	assert.Equal(t, w.AccessToken, g.AccessToken)
	assert.Equal(t, w.RefreshToken, g.RefreshToken)
	assert.Equal(t, w.TokenType, g.TokenType)
	assert.Equal(t, w.Subject, g.Subject)
	assert.Equal(t, w.Scope, g.Scope)
	assert.Equal(t, w.Extra, g.Extra)
}

func TestStore_Save_roundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	s := e.store()

	tok, v, err := s.Load(ctx, "k")
	require.ErrorIs(t, err, shoptoken.ErrNotFound)
	assert.Nil(t, tok)
	assert.Zero(t, v)

	tests := []struct {
		name string
		tok  *shoptoken.Token
	}{
		{"every field", fullToken()},
		{"zero times, no scope or extra", &shoptoken.Token{AccessToken: "a"}},
		{"expiry only", &shoptoken.Token{AccessToken: "b", Expiry: time.Unix(1700000000, 5).UTC()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "rt:" + tt.name
			v, err := s.Save(ctx, key, tt.tok, 0)
			require.NoError(t, err)
			assert.Equal(t, int64(1), v)
			got, gv, err := e.store().Load(ctx, key) // another process reads it
			require.NoError(t, err)
			assert.Equal(t, v, gv)
			assertSameToken(t, tt.tok, got)
			assert.Equal(t, tt.tok.Expiry.IsZero(), got.Expiry.IsZero())
		})
	}

	_, err = s.Save(ctx, "nil", nil, 0)
	require.Error(t, err)
	assert.NotErrorIs(t, err, shoptoken.ErrConflict)
}

func TestStore_Save_CAS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	stores := []*Store{e.store(), e.store(), e.store()}

	var prev int64
	for round := range 3 {
		const n = 100
		var ok, conflict atomic.Int64
		var won atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				v, err := stores[i%len(stores)].Save(ctx, "k", &shoptoken.Token{AccessToken: "t"}, prev)
				switch {
				case err == nil:
					ok.Add(1)
					won.Store(v)
				case errors.Is(err, shoptoken.ErrConflict):
					conflict.Add(1)
				default:
					t.Errorf("save: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		require.Equal(t, int64(1), ok.Load(), "round %d", round)
		assert.Equal(t, int64(n-1), conflict.Load())
		assert.Greater(t, won.Load(), prev, "versions strictly increase")
		_, v, err := stores[0].Load(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, won.Load(), v)
		prev = v
	}

	// A stale writer, holding a version from an earlier round, is rejected.
	_, err := stores[1].Save(ctx, "k", &shoptoken.Token{AccessToken: "stale"}, prev-1)
	require.ErrorIs(t, err, shoptoken.ErrConflict)
	_, err = stores[1].Save(ctx, "k", &shoptoken.Token{AccessToken: "stale"}, 0)
	require.ErrorIs(t, err, shoptoken.ErrConflict)
	_, err = stores[1].Save(ctx, "k", &shoptoken.Token{AccessToken: "stale"}, -1)
	require.ErrorIs(t, err, shoptoken.ErrConflict)
	tok, _, err := stores[2].Load(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "t", tok.AccessToken)
}

func TestStore_Delete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	s := e.store()
	tok := &shoptoken.Token{AccessToken: "t"}

	// Absent: not an error, nothing stored.
	require.NoError(t, s.Delete(ctx, "absent"))
	_, v, err := s.Load(ctx, "absent")
	require.ErrorIs(t, err, shoptoken.ErrNotFound)
	assert.Zero(t, v)
	n, err := e.admin.Exists(ctx, s.tokKey("absent")).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "deleting an absent key leaves nothing behind")

	tests := []struct {
		name     string
		usePrev  func(tomb int64) int64
		wantNext int64
	}{
		{"prev 0 after delete, as for a new key", func(int64) int64 { return 0 }, 4},
		{"prev = tombstone version", func(tomb int64) int64 { return tomb }, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "del:" + tt.name
			v1, err := s.Save(ctx, key, tok, 0)
			require.NoError(t, err)
			v2, err := s.Save(ctx, key, tok, v1)
			require.NoError(t, err)
			require.NoError(t, s.Delete(ctx, key))
			require.NoError(t, s.Delete(ctx, key), "deleting twice")

			got, tomb, err := s.Load(ctx, key)
			require.ErrorIs(t, err, shoptoken.ErrNotFound)
			assert.Nil(t, got)
			assert.Equal(t, v2+1, tomb, "a second Delete does not bump the tombstone")

			// Writers holding a version from before the Delete cannot resurrect the key.
			for _, stale := range []int64{v1, v2} {
				_, err = s.Save(ctx, key, tok, stale)
				require.ErrorIs(t, err, shoptoken.ErrConflict, "stale prev %d", stale)
			}
			v, err := s.Save(ctx, key, tok, tt.usePrev(tomb))
			require.NoError(t, err)
			assert.Equal(t, tt.wantNext, v, "versions keep growing across a Delete")
			_, err = s.Save(ctx, key, tok, tt.usePrev(tomb))
			require.ErrorIs(t, err, shoptoken.ErrConflict, "only one writer recreates it")
		})
	}

	// Many writers recreating a deleted key: exactly one wins.
	_, err = s.Save(ctx, "race", tok, 0)
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, "race"))
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prev := int64(0)
			if i%2 == 0 {
				prev = 2 // the tombstone version
			}
			if _, err := s.Save(ctx, "race", tok, prev); err == nil {
				ok.Add(1)
			} else if !errors.Is(err, shoptoken.ErrConflict) {
				t.Errorf("save: %v", err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(1), ok.Load())
}

func TestStore_LoadMany(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	s := e.store()
	const n = 2500
	keys := make([]string, 0, n+2)
	pipe := e.admin.Pipeline()
	for i := range n {
		k := "many:" + itoa(i)
		keys = append(keys, k)
		if i%10 == 0 {
			continue // never saved
		}
		pipe.HSet(ctx, s.tokKey(k), "v", i, "tok", `{"access_token":"t`+itoa(i)+`"}`)
	}
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, "many:1"))
	require.NoError(t, e.admin.HSet(ctx, s.tokKey("many:2"), "tok", "{not json").Err())

	got, err := s.LoadMany(ctx, keys)
	require.Error(t, err, "the corrupt token is reported")
	assert.Contains(t, err.Error(), `"many:2"`)
	assert.NotErrorIs(t, err, shoptoken.ErrNotFound)
	assert.Len(t, got, n-n/10-2)
	for i, k := range keys {
		l, ok := got[k]
		if i%10 == 0 || i == 1 || i == 2 {
			assert.False(t, ok, k)
			continue
		}
		require.True(t, ok, k)
		assert.Equal(t, int64(i), l.Version)
		assert.Equal(t, "t"+itoa(i), l.Token.AccessToken)
	}

	got, err = s.LoadMany(ctx, nil)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestStore_Load_corruptTokenHidesContent: a stored token that does not decode is reported
// without quoting what is stored, which may be a token.
func TestStore_Load_corruptTokenHidesContent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	s := e.store()
	for _, data := range []string{
		`{"access_token":"at-SECRET-0123","expiry":"rt-SECRET-4567"}`, // time.Time quotes what it cannot parse
		`{"access_token":"at-SECRET-0123"`,
		`{"access_token":["at-SECRET-0123"]}`,
	} {
		require.NoError(t, e.admin.HSet(ctx, s.tokKey("k"), "v", 3, "tok", data).Err())
		_, _, err := s.Load(ctx, "k")
		require.Error(t, err, data)
		assert.NotErrorIs(t, err, shoptoken.ErrNotFound)
		assert.Contains(t, err.Error(), `redisstore: load "k"`)
		assert.NotContains(t, err.Error(), "SECRET", data)
		_, err = s.LoadMany(ctx, []string{"k"})
		require.Error(t, err, data)
		assert.NotContains(t, err.Error(), "SECRET", data)
	}
}

func TestStore_Due(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	s := e.store()
	now := time.Now()
	require.NoError(t, s.Schedule(ctx, "late", now.Add(time.Hour)))
	require.NoError(t, s.Schedule(ctx, "b", now.Add(-time.Minute)))
	require.NoError(t, s.Schedule(ctx, "a", now.Add(-time.Hour)))
	require.NoError(t, s.Schedule(ctx, "c", now))

	due, err := s.Due(ctx, now, 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c"}, due)
	due, err = s.Due(ctx, now, 2)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, due)

	require.NoError(t, s.Schedule(ctx, "a", now.Add(2*time.Hour))) // refreshed: moved
	require.NoError(t, s.Unschedule(ctx, "b"))
	require.NoError(t, s.Unschedule(ctx, "never"))
	due, err = s.Due(ctx, now, 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"c"}, due)
	due, err = s.Due(ctx, now.Add(3*time.Hour), 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"c", "late", "a"}, due)
}

// TestStore_redisDown needs no Redis: the client points at a port nothing listens on.
func TestStore_redisDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
	defer rdb.Close()
	s := New(rdb, WithPollInterval(10*time.Millisecond))
	defer s.Close()

	check := func(t *testing.T, err error) {
		t.Helper()
		require.Error(t, err)
		assert.NotErrorIs(t, err, shoptoken.ErrNotFound)
		assert.NotErrorIs(t, err, shoptoken.ErrConflict)
		var op *net.OpError
		assert.ErrorAs(t, err, &op, "the cause is wrapped")
		assert.Equal(t, shoptoken.ErrUnavailable, shoptoken.KindOf(err))
		assert.Contains(t, err.Error(), "redisstore: ")
	}
	_, _, err := s.Load(ctx, "k")
	check(t, err)
	_, err = s.Save(ctx, "k", &shoptoken.Token{AccessToken: "t"}, 0)
	check(t, err)
	check(t, s.Delete(ctx, "k"))
	_, err = s.LoadMany(ctx, []string{"a", "b"})
	check(t, err)
	_, err = s.Lock(ctx, "k", time.Second)
	check(t, err)
	_, err = s.Due(ctx, time.Now(), 1)
	check(t, err)

	// Watch still works (it polls); it is woken only when Redis answers.
	ch, stop, err := s.Watch(ctx, "k")
	require.NoError(t, err)
	defer stop()
	select {
	case <-ch:
		t.Fatal("woken while Redis is down")
	case <-time.After(100 * time.Millisecond):
	}
}

func TestStore_Close(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	s := e.store()
	_, stop, err := s.Watch(ctx, "k")
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	stop()
	_, _, err = s.Watch(ctx, "k")
	require.Error(t, err)
	// The client stays usable, and so do the Store's other methods.
	_, err = s.Save(ctx, "k", &shoptoken.Token{AccessToken: "t"}, 0)
	require.NoError(t, err)
	unlock, err := s.Lock(ctx, "k", time.Second)
	require.NoError(t, err)
	unlock()
}
