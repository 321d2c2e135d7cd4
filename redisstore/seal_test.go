package redisstore

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/seal"
)

// TestStore_WithSeal_boundToKey: a sealed token moved under another shop's key does not open
// there; the binding is to the store key, so renaming the prefix (the Redis key) does not break it.
func TestStore_WithSeal_boundToKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	kr := testKeyring(t, "a")
	s := e.store(WithSeal(kr))
	_, err := s.Save(ctx, "youzan/app/88888", &shoptoken.Token{AccessToken: "at-SECRET-0123456789"}, 0)
	require.NoError(t, err)
	sealed, err := e.admin.HGet(ctx, s.tokKey("youzan/app/88888"), "tok").Result()
	require.NoError(t, err)
	assert.True(t, seal.IsSealed(sealed))

	require.NoError(t, e.admin.HSet(ctx, s.tokKey("youzan/app/99999"), "v", 4, "tok", sealed).Err())
	_, v, err := s.Load(ctx, "youzan/app/99999")
	require.ErrorIs(t, err, shoptoken.ErrCorrupt)
	require.ErrorIs(t, err, seal.ErrDamaged)
	assert.Equal(t, int64(4), v, "the version that replaces it")
	assert.NotContains(t, err.Error(), sealed[len("seal:v1:a:"):][:12])

	renamed := New(e.admin, WithPrefix(e.prefix+"renamed:"), WithSeal(kr))
	t.Cleanup(func() { _ = renamed.Close() })
	require.NoError(t, e.admin.HSet(ctx, renamed.tokKey("youzan/app/88888"), "v", 1, "tok", sealed).Err())
	tok, _, err := renamed.Load(ctx, "youzan/app/88888")
	require.NoError(t, err)
	assert.Equal(t, "at-SECRET-0123456789", tok.AccessToken)
}

// TestStore_WithSeal_LoadMany: one LoadMany over tokens sealed with either listed key, tokens in
// clear, and tokens sealed with a key the keyring lacks, across several pipelines.
func TestStore_WithSeal_LoadMany(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	withA, withC, plain := e.store(WithSeal(testKeyring(t, "a"))), e.store(WithSeal(testKeyring(t, "c"))), e.store()
	s := e.store(WithSeal(testKeyring(t, "b", "a")))
	const n = 2500
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "many/" + strconv.Itoa(i)
		by := []*Store{withA, s, plain, withC}[i%4]
		_, err := by.Save(ctx, keys[i], &shoptoken.Token{AccessToken: "at-" + keys[i]}, 0)
		require.NoError(t, err)
	}
	got, err := s.LoadMany(ctx, keys)
	require.ErrorIs(t, err, shoptoken.ErrCorrupt)
	require.ErrorIs(t, err, seal.ErrUnknownKey)
	assert.Len(t, got, n-n/4)
	for i, k := range keys {
		l, ok := got[k]
		if i%4 == 3 {
			assert.False(t, ok, k)
			assert.Contains(t, err.Error(), strconv.Quote(k))
			continue
		}
		if assert.True(t, ok, k) {
			assert.Equal(t, "at-"+k, l.Token.AccessToken)
			assert.Equal(t, int64(1), l.Version)
		}
	}
}

// TestStore_decode_plainFastPath: a sealing Store reads a token in clear with the fast decoder,
// as a Store without a keyring does: two allocations.
func TestStore_decode_plainFastPath(t *testing.T) {
	s := New(nil, WithSeal(testKeyring(t, "a")))
	vals := []any{"7", string(mustJSON(t, &shoptoken.Token{AccessToken: "at-1", RefreshToken: "rt-1", TokenType: "Bearer"}))}
	_, _, err := s.decode("k", vals)
	require.NoError(t, err)
	assert.Equal(t, 2.0, testing.AllocsPerRun(100, func() { _, _, _ = s.decode("k", vals) }))
}
