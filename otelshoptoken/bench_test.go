package otelshoptoken_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shops"
)

// longLived is a Refresher whose tokens last a day: after the first call, Token is warm.
var longLived = shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
	return &shoptoken.Token{AccessToken: "warm-access-token-0123456789", Expiry: time.Now().Add(24 * time.Hour)}, nil
})

func warmCache(tb testing.TB, opts ...shoptoken.Option) *shoptoken.Cache {
	tb.Helper()
	c, err := shoptoken.NewCache(longLived, append([]shoptoken.Option{shoptoken.WithKey(shoptoken.Key{Platform: "bench", App: "app", Shop: "1"})}, opts...)...)
	require.NoError(tb, err)
	tb.Cleanup(c.Close)
	_, err = c.Token(context.Background())
	require.NoError(tb, err)
	return c
}

func warmApp(tb testing.TB, opts ...shops.Option) *shops.App {
	tb.Helper()
	a, err := shops.New(shops.Platform{Name: "bench", App: "app",
		Refresher: func(string) (shoptoken.Refresher, error) { return longLived, nil }}, opts...)
	require.NoError(tb, err)
	tb.Cleanup(a.Close)
	_, err = a.Token(context.Background(), "1")
	require.NoError(tb, err)
	return a
}

// TestCacheOption_warmTokenCostsNothing: an instrumented Cache's and App's warm Token allocate
// nothing and call no hook: after a thousand calls there is still one refresh counted and one span.
func TestCacheOption_warmTokenCostsNothing(t *testing.T) {
	r := newRig(t)
	c := warmCache(t, r.tel.CacheOption())
	a := warmApp(t, r.tel.AppOption())
	stop := r.tel.Observe(a)
	defer stop()
	ctx := context.Background()
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _, _ = c.Token(ctx) }), "Cache.Token")
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _, _ = a.Token(ctx, "1") }), "App.Token")
	assert.EqualValues(t, 2, r.collect(t).count("shoptoken.refreshes"), "one refresh each, then warm")
	assert.Len(t, r.spansNamed("shoptoken.refresh"), 2)
}

// BenchmarkCache_Token_warm compares the warm Token of a plain Cache (and App) with an
// instrumented one, recording with the real SDK.
func BenchmarkCache_Token_warm(b *testing.B) {
	r := newRig(b)
	ctx := context.Background()
	b.Run("Cache/plain", func(b *testing.B) {
		c := warmCache(b)
		b.ReportAllocs()
		for b.Loop() {
			_, _ = c.Token(ctx)
		}
	})
	b.Run("Cache/instrumented", func(b *testing.B) {
		c := warmCache(b, r.tel.CacheOption())
		b.ReportAllocs()
		for b.Loop() {
			_, _ = c.Token(ctx)
		}
	})
	b.Run("App/plain", func(b *testing.B) {
		a := warmApp(b)
		b.ReportAllocs()
		for b.Loop() {
			_, _ = a.Token(ctx, "1")
		}
	})
	b.Run("App/instrumented", func(b *testing.B) {
		a := warmApp(b, r.tel.AppOption())
		stop := r.tel.Observe(a)
		defer stop()
		b.ReportAllocs()
		for b.Loop() {
			_, _ = a.Token(ctx, "1")
		}
	})
}
