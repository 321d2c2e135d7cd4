package sqlstore

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/seal"
)

// TestStore_WithSeal_noPlaintextAtRest: with sealing on, no access or refresh token reaches the
// database in clear, whichever way it is written: Save of a new key and over a stored token, a
// Cache's refresh (lease, then Save), and the Save that replaces a token stored in clear before
// sealing was turned on, which is then gone. The raw token column of every row is scanned, and
// every column of every table.
func TestStore_WithSeal_noPlaintextAtRest(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		ctx := context.Background()
		e := newEnv(t, srv)
		s := e.store(t, 0, WithSeal(testKeyring(t, "a")))
		var secrets []string
		tok := func(name string) *shoptoken.Token {
			at, rt := "at-"+name+"-"+randomHex(12), "rt-"+name+"-"+randomHex(12)
			secrets = append(secrets, at, rt)
			return &shoptoken.Token{AccessToken: at, RefreshToken: rt, TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}
		}

		v, err := s.Save(ctx, "k/new", tok("new"), 0)
		require.NoError(t, err)
		_, err = s.Save(ctx, "k/new", tok("next"), v)
		require.NoError(t, err)

		// Stored in clear before sealing: readable, and sealed by the next write.
		clear := tok("clear")
		v, err = e.store(t, 1).Save(ctx, "k/clear", clear, 0)
		require.NoError(t, err)
		got, gv, err := s.Load(ctx, "k/clear")
		require.NoError(t, err)
		assert.Equal(t, clear.RefreshToken, got.RefreshToken)
		_, err = s.Save(ctx, "k/clear", tok("resealed"), gv)
		require.NoError(t, err)

		c, err := shoptoken.NewCache(shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
			return tok("refreshed"), nil
		}), shoptoken.WithKey(shoptoken.Key{Platform: "p", App: "a", Shop: "s"}), shoptoken.WithStore(s))
		require.NoError(t, err)
		t.Cleanup(c.Close)
		_, err = c.Token(ctx)
		require.NoError(t, err)

		rows, err := e.admin.QueryContext(ctx, e.sql("SELECT store_key, token FROM {tokens}"))
		require.NoError(t, err)
		defer rows.Close()
		n := 0
		for rows.Next() {
			var key, raw []byte
			require.NoError(t, rows.Scan(&key, &raw))
			n++
			assert.True(t, seal.IsSealed(string(raw)), "%s: the token column is not sealed", key)
			assert.Contains(t, string(raw), "seal:v1:a:")
			testkit.NoSecret(t, "the token column of "+string(key), secrets, string(raw))
		}
		require.NoError(t, rows.Err())
		assert.Equal(t, 3, n, "rows")
		all, err := e.dump(ctx)
		require.NoError(t, err)
		testkit.NoSecret(t, "the tables", secrets, strings.Join(all, "\n"))
		assert.Len(t, secrets, 10, "secrets looked for, the replaced token's in clear among them")
	})
}

// TestStore_WithSeal_boundToKey: a sealed token moved under another shop's key does not open
// there (seal.ErrDamaged, with the version that replaces it); the binding is to the store key, so
// a Store with another table prefix opens it.
func TestStore_WithSeal_boundToKey(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		ctx := context.Background()
		e := newEnv(t, srv)
		kr := testKeyring(t, "a")
		s := e.store(t, 0, WithSeal(kr))
		_, err := s.Save(ctx, "youzan/app/88888", &shoptoken.Token{AccessToken: "at-SECRET-0123456789"}, 0)
		require.NoError(t, err)
		var sealed []byte
		require.NoError(t, e.admin.QueryRowContext(ctx, e.sql("SELECT token FROM {tokens} WHERE store_key = "+e.param(1)),
			[]byte("youzan/app/88888")).Scan(&sealed))
		require.True(t, seal.IsSealed(string(sealed)))

		moved := &shoptoken.Token{} // a row copied to another key, at version 4
		require.NoError(t, e.put(s)(ctx, "youzan/app/99999", moved, 4))
		_, err = e.admin.ExecContext(ctx, e.sql("UPDATE {tokens} SET token = "+e.param(1)+" WHERE store_key = "+e.param(2)),
			sealed, []byte("youzan/app/99999"))
		require.NoError(t, err)
		_, v, err := s.Load(ctx, "youzan/app/99999")
		require.ErrorIs(t, err, shoptoken.ErrCorrupt)
		require.ErrorIs(t, err, seal.ErrDamaged)
		assert.EqualValues(t, 4, v, "the version that replaces it")
		assert.NotContains(t, err.Error(), string(sealed[len("seal:v1:a:"):][:12]))
		ll, err := s.TryLockLoad(ctx, "youzan/app/99999", time.Minute)
		require.NoError(t, err)
		require.ErrorIs(t, ll.LoadErr, seal.ErrDamaged)
		ll.Unlock()

		other := newEnv(t, srv) // other tables, the same store key
		o := other.store(t, 0, WithSeal(kr))
		require.NoError(t, other.put(o)(ctx, "youzan/app/88888", moved, 1))
		_, err = other.admin.ExecContext(ctx, other.sql("UPDATE {tokens} SET token = "+other.param(1)+" WHERE store_key = "+other.param(2)),
			sealed, []byte("youzan/app/88888"))
		require.NoError(t, err)
		tok, _, err := o.Load(ctx, "youzan/app/88888")
		require.NoError(t, err)
		assert.Equal(t, "at-SECRET-0123456789", tok.AccessToken)
	})
}

// TestStore_WithSeal_LoadMany: one LoadMany over tokens sealed with either listed key, tokens in
// clear, and tokens sealed with a key the keyring lacks, across several queries.
func TestStore_WithSeal_LoadMany(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		ctx := context.Background()
		e := newEnv(t, srv)
		withA, withC, plain := e.store(t, 0, WithSeal(testKeyring(t, "a"))), e.store(t, 1, WithSeal(testKeyring(t, "c"))), e.store(t, 0)
		s := e.store(t, 1, WithSeal(testKeyring(t, "b", "a")))
		const n = 2500
		keys := make([]string, n)
		for i := range keys {
			keys[i] = "many/" + strconv.Itoa(i)
			by := []*Store{withA, s, plain, withC}[i%4]
			require.NoError(t, e.put(by)(ctx, keys[i], &shoptoken.Token{AccessToken: "at-" + keys[i]}, 1))
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
				assert.EqualValues(t, 1, l.Version)
			}
		}
	})
}
