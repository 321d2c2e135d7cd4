package xoauth2_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/xoauth2"
)

func sampleToken(exp time.Time) *shoptoken.Token {
	return &shoptoken.Token{
		AccessToken:   "at-SAMPLEs3cretSAMPLEs3cret",
		TokenType:     "Bearer",
		RefreshToken:  "rt-SAMPLEs3cretSAMPLEs3cret",
		Expiry:        exp,
		RefreshExpiry: exp.Add(24 * time.Hour),
		Scope:         []string{"read", "write"},
		Subject:       "shop-1",
		Extra:         map[string]string{"open_id": "o-1", "status": "NORMAL"},
	}
}

func TestToOAuth2_FromOAuth2_roundTrip(t *testing.T) {
	tok := sampleToken(t0)
	ot := xoauth2.ToOAuth2(tok)
	assert.Equal(t, tok.AccessToken, ot.AccessToken)
	assert.Equal(t, "Bearer", ot.TokenType)
	assert.Equal(t, tok.RefreshToken, ot.RefreshToken)
	assert.Equal(t, t0, ot.Expiry)
	assert.Zero(t, ot.ExpiresIn)
	assert.Equal(t, "read write", ot.Extra("scope"))
	assert.Equal(t, "o-1", ot.Extra("open_id"))
	assert.Equal(t, "NORMAL", ot.Extra("status"))

	back := xoauth2.FromOAuth2(ot, "open_id", "status", "access_token")
	assert.Equal(t, &shoptoken.Token{
		AccessToken: tok.AccessToken, TokenType: tok.TokenType, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry,
		Scope: tok.Scope, Extra: tok.Extra,
	}, back, "every field an oauth2.Token can carry comes back; a secret-named extra is not read")

	assert.Nil(t, xoauth2.ToOAuth2(nil))
	assert.Nil(t, xoauth2.FromOAuth2(nil))
	plain := xoauth2.ToOAuth2(&shoptoken.Token{AccessToken: "at-1"})
	assert.Nil(t, plain.Extra("scope"))
	assert.Equal(t, &shoptoken.Token{AccessToken: "at-1"}, xoauth2.FromOAuth2(plain))

	// A token that has only ExpiresIn (a library built it from the wire) gets an Expiry.
	got := xoauth2.FromOAuth2(&oauth2.Token{AccessToken: "at-2", ExpiresIn: 3600})
	assert.WithinDuration(t, time.Now().Add(time.Hour), got.Expiry, 5*time.Second)
}

func TestNewTokenSource_convertsCacheToken(t *testing.T) {
	clk := shoptokentest.NewClock(t0)
	tok := sampleToken(t0.Add(time.Hour))
	cache, err := shoptoken.NewCache(shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
		return nil, errors.New("not called")
	}), shoptoken.WithToken(tok), shoptoken.WithClock(clk))
	require.NoError(t, err)
	defer cache.Close()

	ts := xoauth2.NewTokenSource(cache)
	ot, err := ts.Token()
	require.NoError(t, err)
	assert.Equal(t, tok.AccessToken, ot.AccessToken)
	assert.Equal(t, "Bearer", ot.Type())
	assert.Empty(t, ot.RefreshToken, "withheld by default")
	assert.Equal(t, tok.Expiry.Add(-shoptoken.DefaultExpirySkew), ot.Expiry, "when the Cache stops handing it out")
	assert.Equal(t, "read write", ot.Extra("scope"))
	assert.Equal(t, "o-1", ot.Extra("open_id"))

	ot2, err := xoauth2.NewTokenSource(cache, xoauth2.WithRefreshToken(), xoauth2.WithExpirySkew(time.Minute)).Token()
	require.NoError(t, err)
	assert.Equal(t, tok.RefreshToken, ot2.RefreshToken)
	assert.Equal(t, tok.Expiry.Add(-time.Minute), ot2.Expiry)
	ot3, err := xoauth2.NewTokenSource(cache, xoauth2.WithExpirySkew(-time.Second)).Token()
	require.NoError(t, err)
	assert.Equal(t, tok.Expiry, ot3.Expiry, "a negative skew counts as 0")
	assert.Equal(t, tok.RefreshToken, cache.Current().RefreshToken, "the Cache's token is not changed")

	// The warm path allocates nothing: the conversion of the same token is handed out again.
	again, err := ts.Token()
	require.NoError(t, err)
	assert.Same(t, ot, again)
	allocs := testing.AllocsPerRun(100, func() { _, _ = ts.Token() })
	assert.Zero(t, allocs)
}

func TestNewTokenSource_errorsAreTheSources(t *testing.T) {
	expired := shoptoken.StaticSource(&shoptoken.Token{AccessToken: "at-old-0123456789", Expiry: time.Now().Add(-time.Minute)})
	_, err := xoauth2.NewTokenSource(expired).Token()
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)

	api := newPlatform(60)
	defer api.Close()
	_, err = oauth2.NewClient(context.Background(), xoauth2.NewTokenSource(expired)).Get(api.URL + "/api")
	require.ErrorIs(t, err, shoptoken.ErrReauthorize, "through oauth2.Transport and the *url.Error")
	var e *shoptoken.Error
	require.ErrorAs(t, err, &e)
	assert.Zero(t, api.APICalls.Load())

	empty := shoptoken.TokenSourceFunc(func(context.Context) (*shoptoken.Token, error) { return &shoptoken.Token{}, nil })
	_, err = xoauth2.NewTokenSource(empty).Token()
	require.ErrorIs(t, err, shoptoken.ErrBadResponse)
}

type ctxKey struct{}

func TestContextTokenSource(t *testing.T) {
	t.Run("values reach the source", func(t *testing.T) {
		var seen any
		src := shoptoken.TokenSourceFunc(func(ctx context.Context) (*shoptoken.Token, error) {
			seen = ctx.Value(ctxKey{})
			return &shoptoken.Token{AccessToken: "at-ctx-0123456789"}, nil
		})
		ctx := context.WithValue(context.Background(), ctxKey{}, "span-1")
		_, err := xoauth2.ContextTokenSource(ctx, src).Token()
		require.NoError(t, err)
		assert.Equal(t, "span-1", seen)
		_, err = xoauth2.NewTokenSource(src).Token()
		require.NoError(t, err)
		assert.Nil(t, seen, "NewTokenSource: context.Background()")
	})
	t.Run("the context's end stops the wait, not the refresh", func(t *testing.T) {
		release := make(chan struct{})
		cache, err := shoptoken.NewCache(shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
			<-release
			return &shoptoken.Token{AccessToken: "at-late-0123456789", Expiry: time.Now().Add(time.Hour)}, nil
		}))
		require.NoError(t, err)
		defer cache.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = xoauth2.ContextTokenSource(ctx, cache).Token()
		require.ErrorIs(t, err, shoptoken.ErrUnavailable)
		assert.Less(t, time.Since(start), 5*time.Second)
		close(release)
		ot, err := xoauth2.NewTokenSource(cache).Token()
		require.NoError(t, err)
		assert.Equal(t, "at-late-0123456789", ot.AccessToken, "the refresh went on and filled the Cache")
	})
}

// TestNewTokenSource_appSource: an App's Source(shop), over the Refresher of this package, as
// the oauth2.TokenSource of an oauth2.NewClient that calls the platform's API.
func TestNewTokenSource_appSource(t *testing.T) {
	p := newPlatform(3600)
	defer p.Close()
	app, err := xoauth2.NewApp(p.Config(), shops.WithStore(shoptoken.NewMemoryStore()))
	require.NoError(t, err)
	defer app.Close()
	ctx := context.Background()
	require.NoError(t, app.Set(ctx, "shop-1", &shoptoken.Token{RefreshToken: p.NewGrant()}))
	assert.Equal(t, "testplat/client-1/shop-1", app.Key("shop-1").String())

	hc := oauth2.NewClient(ctx, xoauth2.NewTokenSource(app.Source("shop-1")))
	for range 3 {
		resp, err := hc.Get(p.URL + "/api")
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "ok", string(body))
	}
	assert.Equal(t, int64(1), p.Rotations.Load())
	assert.Equal(t, int64(3), p.APICalls.Load())
	tok, err := app.Token(ctx, "shop-1")
	require.NoError(t, err)
	assert.Equal(t, "open-1", tok.Subject)
	testkit.NoSecret(t, "token", p.Secrets(), testkit.Printed(tok)...)
}
