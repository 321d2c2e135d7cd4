package xoauth2_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/xoauth2"
)

const fleetKey = "testplat/client-1/shop-1" // the Key NewSource builds for the platform's Config and shop-1

// TestNewSource_fleet is the proof of what the engine adds to x/oauth2, against a platform that
// rotates refresh tokens and kills each one it redeems. Six Caches (six processes) share one
// MemoryStore and one grant whose access tokens live 2 s; two workers per Cache call the API
// through oauth2.NewClient(NewTokenSource(cache)) for 4.5 s. Asserted:
//
//   - the grant is refreshed once per token lifetime (ahead of expiry), by one Cache for all:
//     every token request is a rotation, and there are about as many as lifetimes elapsed;
//   - no dead refresh token is ever sent;
//   - whenever an access token reaches the API, the refresh token issued with it (or a later
//     one) is in the store already;
//   - no API call is refused, and the store ends with the chain's live refresh token.
func TestNewSource_fleet(t *testing.T) {
	const (
		caches   = 6
		workers  = 2 // per Cache
		lifetime = 2 * time.Second
		early    = time.Second
		run      = 4500 * time.Millisecond
		skew     = 100 * time.Millisecond
	)
	p := newPlatform(int(lifetime / time.Second))
	defer p.Close()
	store := shoptoken.NewMemoryStore()
	granted := p.NewGrant()
	var notSaved atomic.Int64
	p.OnAPI = func(access, refresh string) {
		stored, _, err := store.Load(context.Background(), fleetKey)
		if err != nil || p.Seq(stored.RefreshToken) < p.Seq(refresh) {
			notSaved.Add(1)
		}
	}

	cs := make([]*shoptoken.Cache, caches)
	for i := range cs {
		c, err := xoauth2.NewSource(p.Config(), "shop-1",
			shoptoken.WithToken(&shoptoken.Token{RefreshToken: granted}),
			shoptoken.WithStore(store),
			shoptoken.WithEarlyRefresh(early), shoptoken.WithJitter(0),
			shoptoken.WithExpirySkew(skew), shoptoken.WithMinInterval(200*time.Millisecond))
		require.NoError(t, err)
		require.Equal(t, fleetKey, c.Key().String())
		cs[i] = c
	}
	var calls, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(run)
	for _, c := range cs {
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				hc := oauth2.NewClient(context.Background(), xoauth2.NewTokenSource(c, xoauth2.WithExpirySkew(skew)))
				for time.Now().Before(deadline) {
					resp, err := hc.Get(p.URL + "/api")
					calls.Add(1)
					if err != nil {
						if failed.Add(1) <= 3 {
							t.Log(err)
						}
					} else {
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							failed.Add(1)
						}
					}
					time.Sleep(10 * time.Millisecond)
				}
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range cs {
		require.NoError(t, c.Shutdown(ctx))
	}

	rotations := p.Rotations.Load()
	t.Logf("%d API calls, %d rotations in %v", calls.Load(), rotations, elapsed.Round(time.Millisecond))
	assert.Zero(t, p.DeadUses.Load(), "a dead refresh token was sent")
	assert.Zero(t, notSaved.Load(), "an access token was used before its refresh token was saved")
	assert.Zero(t, failed.Load(), "API calls failed")
	assert.Zero(t, p.APIRejected.Load())
	assert.Equal(t, p.TokenRequests.Load(), rotations, "every token request was one rotation: none repeated, none wasted")
	// A refresh at start, then one a second (each token is refreshed 1 s before its 2 s expiry).
	maxRotations := int64(elapsed/(lifetime-early)) + 2
	assert.GreaterOrEqual(t, rotations, int64(3), "refreshed ahead of expiry")
	assert.LessOrEqual(t, rotations, maxRotations, "one refresh per token lifetime, not one per Cache")
	stored, _, err := store.Load(context.Background(), fleetKey)
	require.NoError(t, err)
	assert.True(t, p.Live(stored.RefreshToken), "the store holds the chain's live refresh token")
	assert.Greater(t, calls.Load(), int64(caches*workers*10))
}

func TestNewSource_invalidGrant(t *testing.T) {
	p := newPlatform(3600)
	defer p.Close()
	dead := p.NewGrant()
	r, err := xoauth2.NewRefresher(p.Config())
	require.NoError(t, err)
	_, err = r.Refresh(context.Background(), &shoptoken.Token{RefreshToken: dead}, shoptoken.ReasonMissing)
	require.NoError(t, err) // dead now: another client redeemed it
	before := p.TokenRequests.Load()

	var events testkit.Recorder[shoptoken.Event]
	log, logs := testkit.Logger()
	cfg := p.Config()
	cfg.Logger = log
	c, err := xoauth2.NewSource(cfg, "shop-1",
		shoptoken.WithToken(&shoptoken.Token{RefreshToken: dead}),
		shoptoken.WithStore(shoptoken.NewMemoryStore()),
		shoptoken.WithEvents(events.Record))
	require.NoError(t, err)
	defer c.Close()
	for range 3 {
		_, err = c.Token(context.Background())
		require.ErrorIs(t, err, shoptoken.ErrReauthorize)
		assert.True(t, shoptoken.IsPermanent(err))
	}
	assert.Equal(t, int64(1), p.TokenRequests.Load()-before, "a dead grant is not retried in a loop")
	assert.Equal(t, 1, events.Count(func(e shoptoken.Event) bool { return e.Kind == shoptoken.EventGrantLost }))
	assert.Contains(t, logs.String(), "invalid_grant")
	testkit.NoSecret(t, "error and log", append(p.Secrets(), dead), append(testkit.ErrorTexts(err), logs.String())...)
}

func TestNewSource_noGrant(t *testing.T) {
	p := newPlatform(3600)
	defer p.Close()
	c, err := xoauth2.NewSource(p.Config(), "shop-1", shoptoken.WithStore(shoptoken.NewMemoryStore()))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Token(context.Background())
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	assert.Contains(t, err.Error(), "testplat: refresh: no refresh token")
	assert.Zero(t, p.TokenRequests.Load())

	_, err = xoauth2.NewSource(xoauth2.Config{}, "shop-1")
	require.ErrorIs(t, err, shoptoken.ErrBadRequest)
	_, err = xoauth2.NewApp(xoauth2.Config{})
	require.ErrorIs(t, err, shoptoken.ErrBadRequest)
}

// TestNewApp_concurrentShops: one Refresher serves every shop of an App; many goroutines per shop,
// through one shared adapter per shop, cause one refresh per shop.
func TestNewApp_concurrentShops(t *testing.T) {
	const shopCount, perShop = 20, 10
	p := newPlatform(3600)
	defer p.Close()
	app, err := xoauth2.NewApp(p.Config(), shops.WithStore(shoptoken.NewMemoryStore()))
	require.NoError(t, err)
	defer app.Close()
	ctx := context.Background()
	sources := make([]oauth2.TokenSource, shopCount)
	for i := range sources {
		shop := "shop-" + strconv.Itoa(i)
		require.NoError(t, app.Set(ctx, shop, &shoptoken.Token{RefreshToken: p.NewGrant()}))
		sources[i] = xoauth2.NewTokenSource(app.Source(shop))
	}
	var wg sync.WaitGroup
	var failed atomic.Int64
	seen := make([]sync.Map, shopCount)
	for i := range shopCount * perShop {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ot, err := sources[i%shopCount].Token()
			if err != nil {
				failed.Add(1)
				return
			}
			seen[i%shopCount].Store(ot.AccessToken, true)
		}()
	}
	wg.Wait()
	assert.Zero(t, failed.Load())
	assert.Equal(t, int64(shopCount), p.Rotations.Load(), "one refresh per shop")
	assert.Equal(t, p.TokenRequests.Load(), p.Rotations.Load())
	for i := range seen {
		n := 0
		seen[i].Range(func(any, any) bool { n++; return true })
		assert.Equal(t, 1, n, "every caller of a shop got the one token")
	}
}
