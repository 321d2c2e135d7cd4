package fleettest

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/veapi"
	"github.com/shoptoken/shoptoken/vvtool"
	"github.com/shoptoken/shoptoken/youzan"
)

// TestFleet_threePlatformsOneRedisOnePrefix: Youzan (100 shops), veapi (100 shops) and vv-tool
// (one account) share one Redis and one key prefix. Tokens live 3 s and are refreshed ahead, so
// every shop falls due again and again. The processes that obtained the tokens exit; a keeper
// process per app, holding nothing in memory, then keeps every grant alive for 6 s with its
// Keeper alone.
//
// Asserted: no token endpoint refuses a request (the strict emulators refuse a shop they do not
// know, so a Youzan call for a veapi shop or the reverse would show), no grant is reported as
// needing a person, no dead veapi refresh token is ever used, and at the end every shop's stored
// token is one its platform accepts: every due shop was refreshed. The due indexes hold exactly
// their own app's shops.
func TestFleet_threePlatformsOneRedisOnePrefix(t *testing.T) {
	const n = 100
	f := newFleet(t)
	ctx := context.Background()
	ttl := shoptokentest.WithTokenTTL(3 * time.Second)
	kdt := make([]string, n)
	vip := make([]string, n)
	for i := range n {
		kdt[i], vip[i] = strconv.Itoa(60000000+i), "vip-"+strconv.Itoa(i)
	}
	yz := shoptokentest.NewYouzan(ttl, shoptokentest.WithGrants(kdt...))
	t.Cleanup(yz.Close)
	va := shoptokentest.NewVeapi(ttl)
	t.Cleanup(va.Close)
	vv := shoptokentest.NewVVTool(ttl)
	t.Cleanup(vv.Close)

	var reauth atomic.Int64
	engine := shops.WithCacheOptions(shoptoken.WithEarlyRefresh(2*time.Second), shoptoken.WithMinInterval(0),
		shoptoken.WithExpirySkew(100*time.Millisecond))
	keeperOpts := func() []shops.Option {
		return []shops.Option{shops.WithStore(f.store()), engine, shops.WithSweepEvery(100 * time.Millisecond),
			shops.WithRate(1000), shops.WithOnReauthorize(func(shoptoken.Key, error) { reauth.Add(1) })}
	}
	yzCfg := youzan.Config{ClientID: "id", ClientSecret: "secret", BaseURL: yz.URL}
	vaCfg := veapi.Config{VEKey: "vekey", App: "acct", BaseURL: va.URL}
	vvCfg := vvtool.Config{Account: "account", AccessKey: "key", TokenURL: vv.URL + "/oauth/token"}

	// The processes that first obtain the tokens, then exit.
	yzApp, err := youzan.NewApp(yzCfg, keeperOpts()...)
	require.NoError(t, err)
	vaApp, err := veapi.NewApp(vaCfg, keeperOpts()...)
	require.NoError(t, err)
	vvSrc, err := vvtool.NewSource(vvCfg, shoptoken.WithStore(f.store()))
	require.NoError(t, err)
	for i := range n {
		_, err := yzApp.Token(ctx, kdt[i])
		require.NoError(t, err)
		require.NoError(t, vaApp.Set(ctx, vip[i], &shoptoken.Token{RefreshToken: va.NewGrant(vip[i]), Subject: vip[i]}))
		_, err = vaApp.Token(ctx, vip[i])
		require.NoError(t, err)
	}
	_, err = vvSrc.Token(ctx)
	require.NoError(t, err)
	for _, a := range []interface{ Shutdown(context.Context) error }{yzApp, vaApp, vvSrc} {
		require.NoError(t, a.Shutdown(ctx))
	}

	// The keepers.
	yzKeeper, err := youzan.NewApp(yzCfg, keeperOpts()...)
	require.NoError(t, err)
	vaKeeper, err := veapi.NewApp(vaCfg, keeperOpts()...)
	require.NoError(t, err)
	kctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, a := range []*shops.App{yzKeeper.App, vaKeeper.App} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = a.Run(kctx)
		}()
	}
	time.Sleep(6 * time.Second)
	stop()
	wg.Wait()
	require.NoError(t, yzKeeper.Shutdown(ctx))
	require.NoError(t, vaKeeper.Shutdown(ctx))

	ys, vs, ws := yz.Stats(), va.Stats(), vv.Stats()
	t.Logf("youzan %+v; veapi %+v; vvtool %+v", ys, vs, ws)
	assert.Zero(t, ys.Errors+vs.Errors+ws.Errors, "token endpoints refused requests (another platform's shop?)")
	assert.Zero(t, reauth.Load(), "false ErrReauthorize")
	assert.Zero(t, vs.DeadRefreshUsed)
	assert.Greater(t, ys.Issued, 2*n, "the Youzan keeper refreshed the shops again and again")
	assert.Greater(t, vs.Issued, 2*n, "the veapi keeper rotated the chains again and again")
	store := f.store()
	for i := range n {
		tok, _, err := store.Load(ctx, yzKeeper.Key(kdt[i]).String())
		require.NoError(t, err)
		assert.True(t, yz.Valid(tok.AccessToken), "youzan shop %s: the stored token has lapsed", kdt[i])
		tok, _, err = store.Load(ctx, vaKeeper.Key(vip[i]).String())
		require.NoError(t, err)
		assert.True(t, va.Valid(tok.AccessToken), "veapi shop %s: the stored token has lapsed", vip[i])
	}
	for _, a := range []*shops.App{yzKeeper.App, vaKeeper.App} {
		due, err := store.Due(ctx, a.Namespace(), time.Now().Add(time.Hour), 0)
		require.NoError(t, err)
		assert.Len(t, due, n, "the due index of %s", a.Namespace())
		for _, k := range due {
			key, err := shoptoken.ParseKey(k)
			require.NoError(t, err)
			assert.Equal(t, a.Namespace(), key.Namespace())
		}
	}
}
