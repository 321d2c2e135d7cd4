package redisstore

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
)

// TestStore_Delete_absentLeavesNothing: deleting a key never saved writes no tombstone, so
// Deletes of unknown keys cost no memory.
func TestStore_Delete_absentLeavesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	s := e.store()
	require.NoError(t, s.Delete(ctx, "absent"))
	n, err := e.admin.Exists(ctx, s.tokKey("absent")).Result()
	require.NoError(t, err)
	assert.Zero(t, n)
}

// TestStore_versionText: the scripts and decode read a stored version alike, so the version
// Load reports for damage is the one Save accepts: a version that is not plain decimal digits in
// 1..MaxVersion is damage (reported as 0, replaced at 1), and versions are written as plain
// digits, never as a float such as "9.2233720368547758e+18".
func TestStore_versionText(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	s := e.store()
	tok := mustJSON(t, &shoptoken.Token{AccessToken: "t"})
	for _, tt := range []struct {
		stored string
		load   int64 // the version Load reports; 0 with ErrCorrupt unless ok
		ok     bool
		next   string
	}{
		{"1", 1, true, "2"},
		{"123456789012345", 123456789012345, true, "123456789012346"},
		{"9007199254740990", 9007199254740990, true, "9007199254740991"},
		{"9007199254740991", 9007199254740991, true, "1"}, // MaxVersion: the next is 1
		{"9007199254740992", 0, false, "1"},
		{"9223372036854775807", 0, false, "1"},
		{"99999999999999999999", 0, false, "1"},
		{"0", 0, false, "1"},
		{"-1", 0, false, "1"},
		{"+5", 0, false, "1"},
		{"05", 0, false, "1"},
		{" 5", 0, false, "1"},
		{"5 ", 0, false, "1"},
		{"5.0", 0, false, "1"},
		{"1e3", 0, false, "1"},
		{"0x10", 0, false, "1"},
		{"", 0, false, "1"},
		{"v3", 0, false, "1"},
		{"inf", 0, false, "1"},
		{"nan", 0, false, "1"},
	} {
		t.Run(tt.stored, func(t *testing.T) {
			key := "vt:" + tt.stored
			require.NoError(t, e.admin.HSet(ctx, s.tokKey(key), "v", tt.stored, "tok", tok).Err())
			_, v, err := s.Load(ctx, key)
			assert.Equal(t, tt.load, v)
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, shoptoken.ErrCorrupt)
			}
			got, err := s.Save(ctx, key, &shoptoken.Token{AccessToken: "u"}, tt.load)
			require.NoError(t, err, "Save with the version Load reported")
			raw, err := e.admin.HGet(ctx, s.tokKey(key), "v").Result()
			require.NoError(t, err)
			assert.Equal(t, tt.next, raw)
			assert.Equal(t, tt.next, strconv.FormatInt(got, 10))
		})
	}
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
	require.NoError(t, e.admin.HSet(ctx, s.tokKey("many:3"), "v", "3.0").Err())
	require.NoError(t, e.admin.Del(ctx, s.tokKey("many:1003")).Err())
	require.NoError(t, e.admin.Set(ctx, s.tokKey("many:1003"), "a string", 0).Err())

	got, err := s.LoadMany(ctx, keys)
	require.Error(t, err, "the damaged values are reported")
	require.ErrorIs(t, err, shoptoken.ErrCorrupt)
	for _, k := range []string{`"many:2"`, `"many:3"`, `"many:1003"`} {
		assert.Contains(t, err.Error(), k)
	}
	assert.NotErrorIs(t, err, shoptoken.ErrNotFound)
	assert.Len(t, got, n-n/10-4, "keys of another Redis type fail alone, not their pipeline")
	for i, k := range keys {
		l, ok := got[k]
		if i%10 == 0 || i == 1 || i == 2 || i == 3 || i == 1003 {
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
		`null`,
	} {
		require.NoError(t, e.admin.HSet(ctx, s.tokKey("k"), "v", 3, "tok", data).Err())
		_, v, err := s.Load(ctx, "k")
		require.ErrorIs(t, err, shoptoken.ErrCorrupt, data)
		assert.Equal(t, int64(3), v, "the version that replaces it")
		assert.NotErrorIs(t, err, shoptoken.ErrNotFound)
		assert.Contains(t, err.Error(), `redisstore: load "k"`)
		assert.NotContains(t, err.Error(), "SECRET", data)
		_, err = s.LoadMany(ctx, []string{"k"})
		require.ErrorIs(t, err, shoptoken.ErrCorrupt, data)
		assert.NotContains(t, err.Error(), "SECRET", data)
	}
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
	_, err = s.TryLockLoad(ctx, "k", time.Second)
	check(t, err)
	_, err = s.Due(ctx, "p/a", time.Now(), 1)
	check(t, err)
	check(t, s.Schedule(ctx, "p/a", shoptoken.Due{Key: "p/a/k", At: time.Now()}))
	check(t, s.Unschedule(ctx, "p/a", "p/a/k"))

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
