package youzan_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/youzan"
)

// echo is the emulator's answer data: it echoes the request body.
type echo struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	Echo    json.RawMessage `json:"echo"`
}

func TestClient_Call_emulator(t *testing.T) {
	t.Parallel()
	yz, cfg := emulated(t, nil)
	src, err := youzan.NewSource(cfg, grant)
	require.NoError(t, err)
	defer src.Close()
	cl := mustClient(t, cfg, src)

	var out echo
	require.NoError(t, cl.Call(context.Background(), "youzan.trade.get", "4.0.2", map[string]string{"tid": "E123"}, &out))
	assert.Equal(t, echo{Name: "youzan.trade.get", Version: "4.0.2", Echo: json.RawMessage(`{"tid":"E123"}`)}, out)
	require.NoError(t, cl.Call(context.Background(), "youzan.shop.get", "3.0.0", nil, &out))
	assert.JSONEq(t, `{}`, string(out.Echo))
	assert.Equal(t, 1, yz.Stats().TokenRequests)
	assert.Equal(t, 2, yz.Stats().APICalls)
}

// TestClient_Call_supersededConcurrent: another process took a new token (refresh:true), so
// ours gets 4203. 100 concurrent calls cost exactly one token call, which with refresh:false
// adopts the other process's token instead of killing it, and every call succeeds.
func TestClient_Call_supersededConcurrent(t *testing.T) {
	t.Parallel()
	// Latency keeps the first requests in flight together, so that most use the old token.
	yz, cfg := emulated(t, nil, shoptokentest.WithLatency(20*time.Millisecond))
	ctx := context.Background()
	src, err := youzan.NewSource(cfg, grant) // default minimum interval: the refresh waits, calls pile up
	require.NoError(t, err)
	defer src.Close()
	cl := mustClient(t, cfg, src)
	mine, err := src.Token(ctx)
	require.NoError(t, err)

	theirs, err := cfg.FetchToken(ctx, grant, true) // another process supersedes our token
	require.NoError(t, err)
	require.False(t, yz.Valid(mine.AccessToken))
	yz.ResetStats()

	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out echo
			err := cl.Call(ctx, "youzan.trade.get", "4.0.2", map[string]int{"n": i}, &out)
			if assert.NoError(t, err) {
				assert.JSONEq(t, `{"n":`+itoa(i)+`}`, string(out.Echo), "the retry resent the same body")
			}
		}()
	}
	wg.Wait()
	st := yz.Stats()
	assert.Equal(t, 1, st.TokenRequests, "exactly one extra token fetch")
	assert.Equal(t, 1, st.Reused, "refresh:false adopted the other process's token")
	assert.Equal(t, 0, st.Issued)
	t.Logf("stats %+v", st)
	// Calls that started after the first rejection waited for the new token instead.
	assert.GreaterOrEqual(t, st.Rejected, 1)
	assert.Equal(t, 100+st.Rejected, st.APICalls, "each rejected call was retried exactly once")
	assert.Equal(t, theirs.AccessToken, src.Current().AccessToken)
	assert.True(t, yz.Valid(theirs.AccessToken), "the other process's token was not killed")
}

// TestClient_Call_rejectedButCurrent: the gateway refuses a token the token endpoint still
// calls current; refresh:false hands it back, so the refresher asks refresh:true once.
func TestClient_Call_rejectedButCurrent(t *testing.T) {
	t.Parallel()
	yz, cfg := emulated(t, nil)
	ctx := context.Background()
	src, err := youzan.NewSource(cfg, grant, shoptoken.WithMinInterval(0))
	require.NoError(t, err)
	defer src.Close()
	cl := mustClient(t, cfg, src)
	first, err := src.Token(ctx)
	require.NoError(t, err)
	yz.ResetStats()
	yz.FailAPIWith(4203, 1)

	require.NoError(t, cl.Call(ctx, "youzan.shop.get", "3.0.0", nil, nil))
	st := yz.Stats()
	assert.Equal(t, 2, st.TokenRequests, "refresh:false, then refresh:true")
	assert.Equal(t, 1, st.Reused)
	assert.Equal(t, 1, st.Issued)
	assert.Equal(t, 2, st.APICalls)
	assert.NotEqual(t, first.AccessToken, src.Current().AccessToken)
}

// TestClient_Call_rejectedTwice: the retry happens once, never in a loop.
func TestClient_Call_rejectedTwice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code int
		want error
	}{
		{4201, shoptoken.ErrReauthorize},
		{4202, shoptoken.ErrTokenInvalid},
		{4203, shoptoken.ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(itoa(tt.code), func(t *testing.T) {
			t.Parallel()
			yz, cfg := emulated(t, nil)
			ctx := context.Background()
			src, err := youzan.NewSource(cfg, grant, shoptoken.WithMinInterval(0))
			require.NoError(t, err)
			defer src.Close()
			_, err = src.Token(ctx)
			require.NoError(t, err)
			yz.ResetStats()
			yz.FailAPIWith(tt.code, 5)

			err = mustClient(t, cfg, src).Call(ctx, "youzan.shop.get", "3.0.0", nil, nil)
			require.ErrorIs(t, err, tt.want)
			var e *shoptoken.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, itoa(tt.code), e.Code)
			assert.NotEmpty(t, e.RequestID)
			assert.Equal(t, 2, yz.Stats().APICalls)
			assert.Equal(t, 2, yz.Stats().TokenRequests)
		})
	}
}

func TestClient_Call_expiredTokenRecovers(t *testing.T) {
	t.Parallel()
	yz, cfg := emulated(t, nil)
	ctx := context.Background()
	src, err := youzan.NewSource(cfg, grant, shoptoken.WithMinInterval(0))
	require.NoError(t, err)
	defer src.Close()
	cl := mustClient(t, cfg, src)
	first, err := src.Token(ctx)
	require.NoError(t, err)
	yz.ExpireNow() // the platform says 4202 while our clock still trusts the token
	yz.ResetStats()

	var out echo
	require.NoError(t, cl.Call(ctx, "youzan.trade.get", "4.0.2", json.RawMessage(`{"tid":"E1"}`), &out))
	assert.JSONEq(t, `{"tid":"E1"}`, string(out.Echo))
	st := yz.Stats()
	assert.Equal(t, 1, st.TokenRequests)
	assert.Equal(t, 1, st.Issued, "refresh:false issued a new token for the expired one")
	assert.Equal(t, 1, st.Rejected)
	assert.NotEqual(t, first.AccessToken, src.Current().AccessToken)
}

func TestClient_Call_revokedGrant(t *testing.T) {
	t.Parallel()
	yz, cfg := emulated(t, nil)
	ctx := context.Background()
	src, err := youzan.NewSource(cfg, grant, shoptoken.WithMinInterval(0))
	require.NoError(t, err)
	defer src.Close()
	cl := mustClient(t, cfg, src)
	require.NoError(t, cl.Call(ctx, "youzan.shop.get", "3.0.0", nil, nil))
	yz.Revoke(grant)
	yz.ResetStats()

	err = cl.Call(ctx, "youzan.shop.get", "3.0.0", nil, nil)
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	assert.Equal(t, 1, yz.Stats().APICalls)
	assert.Equal(t, 1, yz.Stats().TokenRequests)
	requireNoSecret(t, errText(err))

	// Later calls do not storm the token endpoint.
	for range 10 {
		require.ErrorIs(t, cl.Call(ctx, "youzan.shop.get", "3.0.0", nil, nil), shoptoken.ErrReauthorize)
	}
	assert.Equal(t, 1, yz.Stats().TokenRequests)
}

func TestClient_Call_gatewayFaults(t *testing.T) {
	t.Parallel()
	yz, cfg := emulated(t, nil)
	ctx := context.Background()
	src, err := youzan.NewSource(cfg, grant)
	require.NoError(t, err)
	defer src.Close()
	cl := mustClient(t, cfg, src)
	for code, want := range map[int]error{4101: shoptoken.ErrRateLimited, 4204: shoptoken.ErrPermission, 5001: shoptoken.ErrUnavailable} {
		yz.FailAPIWith(code, 1)
		require.ErrorIs(t, cl.Call(ctx, "youzan.shop.get", "3.0.0", nil, nil), want)
	}
	assert.Equal(t, 1, yz.Stats().TokenRequests)
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// TestClient_Call_emulatorSecrets runs obtain, use, supersede, recover, fail with a Debug logger
// everywhere and checks that no secret shows up in any log line or error.
func TestClient_Call_emulatorSecrets(t *testing.T) {
	t.Parallel()
	yz, cfg := emulated(t, nil)
	log, logs := newLogger()
	cfg.Logger = log
	ctx := context.Background()
	src, err := youzan.NewSource(cfg, grant, shoptoken.WithMinInterval(0), shoptoken.WithLogger(log),
		shoptoken.WithEvents(func(e shoptoken.Event) { log.Debug("event", "e", e) }))
	require.NoError(t, err)
	defer src.Close()
	cl := mustClient(t, cfg, src)
	secrets := []string{secretClient}
	keep := func(tok *shoptoken.Token) {
		if tok != nil {
			secrets = append(secrets, tok.AccessToken, tok.RefreshToken)
		}
	}
	var errs []error
	require.NoError(t, cl.Call(ctx, "youzan.shop.get", "3.0.0", nil, nil))
	keep(src.Current())
	theirs, err := cfg.FetchToken(ctx, grant, true)
	require.NoError(t, err)
	keep(theirs)
	require.NoError(t, cl.Call(ctx, "youzan.shop.get", "3.0.0", nil, nil))
	yz.FailAPIWith(4203, 2)
	errs = append(errs, cl.Call(ctx, "youzan.shop.get", "3.0.0", nil, nil))
	keep(src.Current())
	yz.FailAPI(shoptokentest.FaultHTML200, 1)
	errs = append(errs, cl.Call(ctx, "youzan.shop.get", "3.0.0", nil, nil))
	yz.FailNext(shoptokentest.FaultTruncated, 1)
	_, err = cfg.FetchToken(ctx, grant, true)
	errs = append(errs, err)
	keep(src.Current())
	tok, err := cfg.FetchToken(ctx, grant, false)
	require.NoError(t, err)
	keep(tok)
	yz.Revoke(grant)
	errs = append(errs, cl.Call(ctx, "youzan.shop.get", "3.0.0", nil, nil))
	bad := cfg
	bad.ClientSecret = "WR0ngSecretWR0ngSecretWR0ngSecretWR0ng00"
	_, err = bad.FetchToken(ctx, grant, false)
	errs = append(errs, err)
	secrets = append(secrets, bad.ClientSecret)

	var text string
	for _, err := range errs {
		require.Error(t, err)
		text += errText(err)
		log.Error("failed", "err", err)
	}
	for _, s := range secrets {
		require.NotEmpty(t, s)
	}
	requireNoSecret(t, text, secrets...)
	requireNoSecret(t, logs.String(), secrets...)
	assert.Contains(t, logs.String(), `"level":"DEBUG"`)
}
