package vvtool_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/vvtool"
)

// TestNewSource_neverRefreshesEarly: with tokens that live ten minutes, nothing is fetched until
// the token has expired, and then exactly once.
func TestNewSource_neverRefreshesEarly(t *testing.T) {
	t.Parallel()
	clk := shoptokentest.NewClock(time.Now())
	emu := shoptokentest.NewVVTool(shoptokentest.WithTokenTTL(10*time.Minute), shoptokentest.WithClock(clk))
	defer emu.Close()
	cfg := emuConfig(emu, nil)
	cfg.Clock = clk // the Cache's and the fetcher's clock
	src, err := vvtool.NewSource(cfg)
	require.NoError(t, err)
	defer src.Close()
	ctx := context.Background()

	first, err := src.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, "missing", first.Extra[vvtool.ExtraFetchReason])
	assert.Equal(t, clk.Now(), first.IssuedAt, "the Config's Clock stamps the token")
	assert.Equal(t, shoptoken.Key{Platform: "vvtool", App: account}, src.Key())
	for range 9 {
		clk.Advance(time.Minute)
		tok, err := src.Token(ctx)
		require.NoError(t, err)
		assert.Same(t, first, tok)
	}
	assert.Never(t, func() bool { return emu.Stats().TokenRequests > 1 }, 100*time.Millisecond, 10*time.Millisecond,
		"no refresh ahead of expiry, no timer")

	clk.Advance(2 * time.Minute) // past expiry
	tok, err := src.Token(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, first.AccessToken, tok.AccessToken)
	assert.Equal(t, "expired", tok.Extra[vvtool.ExtraFetchReason])
	assert.Equal(t, 2, emu.Stats().TokenRequests)
}

// TestNewSource_optionsWin: the caller's options come after the package's defaults.
func TestNewSource_optionsWin(t *testing.T) {
	t.Parallel()
	clk := shoptokentest.NewClock(time.Now())
	emu := shoptokentest.NewVVTool(shoptokentest.WithTokenTTL(10*time.Minute), shoptokentest.WithClock(clk))
	defer emu.Close()
	cfg := emuConfig(emu, nil)
	cfg.Clock = clk
	src, err := vvtool.NewSource(cfg, shoptoken.WithEarlyRefresh(3*time.Minute))
	require.NoError(t, err)
	defer src.Close()
	_, err = src.Token(context.Background())
	require.NoError(t, err)
	clk.Advance(8 * time.Minute)
	assert.Eventually(t, func() bool { return emu.Stats().Issued == 2 }, 5*time.Second, 10*time.Millisecond)
}

// TestNewSource_concurrentColdStart: 200 goroutines on one Cache cause one fetch.
func TestNewSource_concurrentColdStart(t *testing.T) {
	t.Parallel()
	emu := shoptokentest.NewVVTool(shoptokentest.WithLatency(20 * time.Millisecond))
	defer emu.Close()
	src, err := vvtool.NewSource(emuConfig(emu, nil))
	require.NoError(t, err)
	defer src.Close()
	var wg sync.WaitGroup
	tokens := make([]*shoptoken.Token, 200)
	for i := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tokens[i], _ = src.Token(context.Background())
		}()
	}
	wg.Wait()
	for _, tok := range tokens {
		require.NotNil(t, tok)
		assert.Same(t, tokens[0], tok)
	}
	assert.Equal(t, 1, emu.Stats().TokenRequests)
}

// syncBuffer is a bytes.Buffer for concurrent slog writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSecrets_neverShown runs success, recovery and every failure path with Debug logging and
// checks that no AccessKey or access token appears in any error or log line.
func TestSecrets_neverShown(t *testing.T) {
	t.Parallel()
	const otherKey = "WrongKey0123456789abcdefghijklmnopqrstuv" // 40 characters
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	emu := shoptokentest.NewVVTool(shoptokentest.WithCredentials(account, secretKey), shoptokentest.WithIPHeader("X-Forwarded-For"))
	defer emu.Close()
	cfg := vvtool.Config{Account: account, AccessKey: secretKey, TokenURL: emu.URL + "/oauth/token",
		HTTPClient: fromIP(emu, "10.0.0.1"), Logger: logger}
	ctx := context.Background()
	var secrets []string
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	src, err := vvtool.NewSource(cfg, shoptoken.WithMinInterval(0))
	require.NoError(t, err)
	defer src.Close()
	hc := newClient(t, src, fromIP(emu, "10.0.0.1"))
	require.NoError(t, info(ctx, hc, emu))
	secrets = append(secrets, src.Current().AccessToken)

	outside, err := cfg.FetchToken(ctx) // another server
	require.NoError(t, err)
	secrets = append(secrets, outside.AccessToken)
	require.NoError(t, info(ctx, hc, emu)) // recovery
	secrets = append(secrets, src.Current().AccessToken)

	// IP binding: calls from another address.
	other := newClient(t, src, fromIP(emu, "10.0.0.2"))
	for range 3 {
		err := info(ctx, other, emu)
		require.ErrorIs(t, err, shoptoken.ErrPermission)
		keep(err)
		if cur := src.Current(); cur != nil {
			secrets = append(secrets, cur.AccessToken)
		}
	}

	// Wrong AccessKey, through a Cache and directly, on both endpoints.
	bad := cfg
	bad.AccessKey = otherKey
	badSrc, err := vvtool.NewSource(bad, shoptoken.WithLogger(logger))
	require.NoError(t, err)
	defer badSrc.Close()
	_, err = badSrc.Token(ctx)
	require.ErrorIs(t, err, shoptoken.ErrCredentials)
	keep(err)
	bad.TokenURL = emu.URL + "/api/proxy/oauth/token"
	_, err = bad.FetchToken(ctx)
	require.ErrorIs(t, err, shoptoken.ErrCredentials)
	keep(err)

	// Faults.
	for _, f := range []shoptokentest.Fault{shoptokentest.FaultHTML, shoptokentest.FaultTruncated, shoptokentest.FaultDrop} {
		emu.FailNext(f, 1)
		_, err := cfg.FetchToken(ctx)
		require.Error(t, err)
		keep(err)
	}

	secrets = append(secrets, secretKey, otherKey)
	out := logs.String()
	require.Contains(t, out, `"level":"DEBUG"`, "debug records were written")
	require.Contains(t, out, "shoptoken: refreshed")
	require.GreaterOrEqual(t, len(errs), 6)
	for _, s := range secrets {
		require.NotEmpty(t, s)
		assert.NotContains(t, out, s)
		for _, err := range errs {
			for _, shown := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				assert.NotContains(t, shown, s)
			}
		}
	}
	assert.False(t, strings.Contains(out, "client_secret="+secretKey[:5]))
}
