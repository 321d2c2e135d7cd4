package youzan_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/youzan"
)

// emulated starts a Youzan emulator on clk (nil: real time) and returns a Config for it.
func emulated(t *testing.T, clk *shoptokentest.Clock, opts ...shoptokentest.Option) (*shoptokentest.Youzan, youzan.Config) {
	t.Helper()
	cfg := youzan.Config{ClientID: "id", ClientSecret: secretClient}
	opts = append([]shoptokentest.Option{shoptokentest.WithCredentials("id", secretClient), shoptokentest.WithGrants(grant)}, opts...)
	if clk != nil {
		opts = append(opts, shoptokentest.WithClock(clk))
		cfg.Clock = clk
	}
	yz := shoptokentest.NewYouzan(opts...)
	t.Cleanup(yz.Close)
	cfg.BaseURL = yz.URL
	return yz, cfg
}

func TestNewSource_Token_coldStartReusesCurrentToken(t *testing.T) {
	t.Parallel()
	yz, cfg := emulated(t, nil)
	ctx := context.Background()
	// Another process already holds the shop's token.
	other, err := cfg.FetchToken(ctx, grant, false)
	require.NoError(t, err)

	src, err := youzan.NewSource(cfg, grant)
	require.NoError(t, err)
	defer src.Close()
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := src.Token(ctx)
			assert.NoError(t, err)
			if tok != nil {
				assert.Equal(t, other.AccessToken, tok.AccessToken)
			}
		}()
	}
	wg.Wait()
	assert.True(t, yz.Valid(other.AccessToken), "the other process's token still works")
	st := yz.Stats()
	assert.Equal(t, 2, st.TokenRequests)
	assert.Equal(t, 1, st.Issued)
	assert.Equal(t, 1, st.Reused)
}

func TestNewSource_Token_earlyRefreshAsksRefreshTrue(t *testing.T) {
	t.Parallel()
	clk := shoptokentest.NewClock(time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC))
	yz, cfg := emulated(t, clk)
	ctx := context.Background()
	src, err := youzan.NewSource(cfg, grant, shoptoken.WithClock(clk))
	require.NoError(t, err)
	defer src.Close()

	first, err := src.Token(ctx)
	require.NoError(t, err)
	assert.WithinDuration(t, clk.Now().Add(7*24*time.Hour), first.Expiry, 0)
	assert.WithinDuration(t, clk.Now().Add(28*24*time.Hour), first.RefreshExpiry, 0)
	assert.Equal(t, grant, first.Subject)

	clk.Advance(5 * 24 * time.Hour) // well before the early window (a day ± jitter before expiry)
	tok, err := src.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, first.AccessToken, tok.AccessToken)
	assert.Equal(t, 1, yz.Stats().TokenRequests)

	clk.Advance(27 * time.Hour) // 6 d 3 h: inside the window
	require.Eventually(t, func() bool { return src.Current().AccessToken != first.AccessToken }, 5*time.Second, 5*time.Millisecond)
	st := yz.Stats()
	assert.Equal(t, 2, st.TokenRequests)
	assert.Equal(t, 2, st.Issued, "the planned refresh issued a new token (refresh:true)")
	assert.Equal(t, 0, st.Reused)
	assert.False(t, yz.Valid(first.AccessToken))
	assert.True(t, yz.Valid(src.Current().AccessToken))
}

// TestNewSource_fleet: processes sharing a Store make one call for a cold start and one
// refresh:true for the planned refresh.
func TestNewSource_fleet(t *testing.T) {
	t.Parallel()
	clk := shoptokentest.NewClock(time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC))
	yz, cfg := emulated(t, clk)
	ctx := context.Background()
	store := shoptoken.NewMemoryStore()
	var caches []*shoptoken.Cache
	for range 4 {
		src, err := youzan.NewSource(cfg, grant, shoptoken.WithStore(store), shoptoken.WithClock(clk))
		require.NoError(t, err)
		defer src.Close()
		caches = append(caches, src)
	}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := caches[i%len(caches)].Token(ctx)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, yz.Stats().TokenRequests)
	first := caches[0].Current()

	clk.Advance(6*24*time.Hour + 3*time.Hour)
	require.Eventually(t, func() bool {
		for _, c := range caches {
			if c.Current().AccessToken == first.AccessToken {
				return false
			}
		}
		return true
	}, 10*time.Second, 5*time.Millisecond)
	st := yz.Stats()
	assert.Equal(t, 2, st.TokenRequests, "one planned refresh for the whole fleet")
	assert.Equal(t, 2, st.Issued)
	for _, c := range caches {
		assert.True(t, yz.Valid(c.Current().AccessToken))
	}
}

func TestNewSource_Token_revokedGrant(t *testing.T) {
	t.Parallel()
	yz, cfg := emulated(t, nil)
	yz.Revoke(grant)
	src, err := youzan.NewSource(cfg, grant)
	require.NoError(t, err)
	defer src.Close()
	_, err = src.Token(context.Background())
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	_, err = src.Token(context.Background())
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	assert.Equal(t, 1, yz.Stats().TokenRequests, "a permanent error is not retried in a loop")
	requireNoSecret(t, errText(err))
}

func TestNewSource_Token_wrongSecret(t *testing.T) {
	t.Parallel()
	yz, cfg := emulated(t, nil)
	cfg.ClientSecret = "not-the-secret"
	src, err := youzan.NewSource(cfg, grant)
	require.NoError(t, err)
	defer src.Close()
	_, err = src.Token(context.Background())
	require.ErrorIs(t, err, shoptoken.ErrCredentials)
	assert.Equal(t, 1, yz.Stats().TokenRequests)
}

func TestNewToolSource_Token_noTokenNeedsAuthorization(t *testing.T) {
	t.Parallel()
	yz, cfg := emulated(t, nil)
	src, err := youzan.NewToolSource(cfg, grant)
	require.NoError(t, err)
	defer src.Close()
	_, err = src.Token(context.Background())
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	assert.Equal(t, 0, yz.Stats().TokenRequests)

	_, err = youzan.NewToolSource(youzan.Config{ClientID: "id"}, grant)
	require.ErrorIs(t, err, shoptoken.ErrBadRequest)
	assert.Contains(t, err.Error(), "Config.ClientSecret")
}

// TestNewToolSource_rotation: a rotated refresh token is saved before use, the previous one is
// dead at once, and a fleet sharing the Store never redeems a dead one.
func TestNewToolSource_rotation(t *testing.T) {
	t.Parallel()
	yz, cfg := emulated(t, nil)
	ctx := context.Background()
	first, err := cfg.ExchangeCode(ctx, yz.NewCode(grant), "https://isv.example/callback")
	require.NoError(t, err)
	require.NotEmpty(t, first.RefreshToken)
	assert.Equal(t, grant, first.Subject)

	store := shoptoken.NewMemoryStore()
	var caches []*shoptoken.Cache
	for range 3 {
		src, err := youzan.NewToolSource(cfg, grant, shoptoken.WithToken(first), shoptoken.WithStore(store),
			shoptoken.WithMinInterval(0))
		require.NoError(t, err)
		defer src.Close()
		caches = append(caches, src)
	}
	yz.ResetStats()

	// Every process sees the token rejected at once.
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := caches[i%len(caches)]
			tok, err := c.Token(ctx)
			if !assert.NoError(t, err) {
				return
			}
			if tok.AccessToken == first.AccessToken {
				_, err = c.Invalidate(ctx, tok)
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	st := yz.Stats()
	assert.Equal(t, 1, st.TokenRequests, "one rotation for the fleet")
	assert.Equal(t, 0, st.DeadRefreshUsed)

	stored, _, err := store.Load(ctx, "youzan/id/"+grant) // the SDK-built key
	require.NoError(t, err)
	assert.NotEqual(t, first.RefreshToken, stored.RefreshToken)
	for _, c := range caches {
		assert.Equal(t, stored.AccessToken, c.Current().AccessToken)
		assert.Equal(t, stored.RefreshToken, c.Current().RefreshToken)
	}
	assert.True(t, yz.Valid(stored.AccessToken))
	assert.False(t, yz.Valid(first.AccessToken))

	// The first refresh token died with the rotation.
	_, err = cfg.Refresh(ctx, first.RefreshToken)
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	assert.Equal(t, 1, yz.Stats().DeadRefreshUsed)
	requireNoSecret(t, errText(err), first.RefreshToken, first.AccessToken, secretClient)
}

func TestNewToolSource_Token_earlyRefreshRotates(t *testing.T) {
	t.Parallel()
	clk := shoptokentest.NewClock(time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC))
	yz, cfg := emulated(t, clk)
	ctx := context.Background()
	first, err := cfg.ExchangeCode(ctx, yz.NewCode(grant), "https://isv.example/callback")
	require.NoError(t, err)
	store := shoptoken.NewMemoryStore()
	src, err := youzan.NewToolSource(cfg, grant, shoptoken.WithToken(first), shoptoken.WithStore(store), shoptoken.WithClock(clk))
	require.NoError(t, err)
	defer src.Close()
	_, err = src.Token(ctx)
	require.NoError(t, err)

	clk.Advance(6*24*time.Hour + 3*time.Hour)
	require.Eventually(t, func() bool { return src.Current().RefreshToken != first.RefreshToken }, 5*time.Second, 5*time.Millisecond)
	cur := src.Current()
	stored, _, err := store.Load(ctx, "youzan/id/"+grant)
	require.NoError(t, err)
	assert.Equal(t, cur.RefreshToken, stored.RefreshToken, "persisted before publish")
	assert.WithinDuration(t, clk.Now().Add(28*24*time.Hour), cur.RefreshExpiry, time.Hour)
	assert.True(t, yz.Valid(cur.AccessToken))
	assert.Equal(t, 0, yz.Stats().DeadRefreshUsed)
}

func TestNewToolSource_Token_revokedGrant(t *testing.T) {
	t.Parallel()
	yz, cfg := emulated(t, nil)
	ctx := context.Background()
	first, err := cfg.ExchangeCode(ctx, yz.NewCode(grant), "https://isv.example/callback")
	require.NoError(t, err)
	src, err := youzan.NewToolSource(cfg, grant, shoptoken.WithToken(first), shoptoken.WithMinInterval(0))
	require.NoError(t, err)
	defer src.Close()
	yz.Revoke(grant)

	err = mustClient(t, cfg, src).Call(ctx, "youzan.shop.get", "3.0.0", nil, nil)
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	assert.Equal(t, 1, yz.Stats().APICalls, "no retry without a new token")
}

// The emulators the tests run against are strict: a shop that never authorized the app (a wrong
// kdt_id mapping, here one digit off) is refused, and the Source says a person must act.
func TestNewSource_Token_unknownGrantFails(t *testing.T) {
	t.Parallel()
	yz, cfg := emulated(t, nil)
	src, err := youzan.NewSource(cfg, "42587153")
	require.NoError(t, err)
	defer src.Close()
	_, err = src.Token(context.Background())
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	var e *shoptoken.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "1103", e.Code)
	assert.Contains(t, e.Message, "grant does not exist")
	assert.Zero(t, yz.Stats().Issued)
}
