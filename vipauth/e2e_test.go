package vipauth_test

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/vipauth"
)

// authorize runs the browser leg against the emulator and returns the code from the callback.
func authorize(t testing.TB, cfg vipauth.Config, emu *shoptokentest.VipAuth) string {
	t.Helper()
	hc := *emu.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	state := vipauth.NewState()
	authURL, err := cfg.AuthCodeURL(state)
	require.NoError(t, err)
	resp, err := hc.Get(authURL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	code, err := vipauth.ParseCallback(loc.Query(), state)
	require.NoError(t, err)
	return code
}

// Obtain, use, reject, recover: the life of a vip.com grant.
func TestConfig_endToEnd_obtainUseRejectRecover(t *testing.T) {
	t.Parallel()
	cfg, emu := emulatorConfig(t, shoptokentest.WithTokenTTL(time.Hour))
	ctx := context.Background()

	// Obtain. The parameters go in the query string of the POST, as the platform documents.
	before := time.Now()
	tok, err := cfg.Exchange(ctx, authorize(t, cfg, emu), "203.0.113.9:40000")
	require.NoError(t, err)
	assert.Equal(t, shoptokentest.VipAuthOpenID, tok.Subject)
	assert.WithinDuration(t, before.Add(time.Hour), tok.Expiry, 2*time.Second)
	assert.True(t, emu.Valid(tok.AccessToken))

	info, err := cfg.TokenInfo(ctx, tok.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, tok.Subject, info.OpenID)
	assert.Equal(t, time.Hour, info.ExpiresIn)
	assert.WithinDuration(t, tok.Expiry, info.ExpiresAt, 2*time.Second)

	// Use.
	src, err := vipauth.NewSource(cfg, tok.Subject, shoptoken.WithToken(tok))
	require.NoError(t, err)
	defer src.Close()
	api := mustClient(t, cfg, src)
	openID, err := apiGet(t, api, emu.URL+"/api/account/info")
	require.NoError(t, err)
	assert.Equal(t, tok.Subject, openID)

	// Reject: the user cancels the grant.
	require.NoError(t, cfg.Revoke(ctx, tok.AccessToken))
	assert.False(t, emu.Valid(tok.AccessToken))
	_, err = apiGet(t, api, emu.URL+"/api/account/info")
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	_, err = src.Token(ctx)
	require.ErrorIs(t, err, shoptoken.ErrReauthorize, "the source keeps saying so")

	// Recover: a new authorization, handed to the source.
	fresh, err := cfg.Exchange(ctx, authorize(t, cfg, emu), "203.0.113.9")
	require.NoError(t, err)
	require.NoError(t, src.Set(ctx, fresh))
	openID, err = apiGet(t, api, emu.URL+"/api/account/info")
	require.NoError(t, err)
	assert.Equal(t, fresh.Subject, openID)

	st := emu.Stats()
	assert.Equal(t, 2, st.TokenRequests)
	assert.Equal(t, 2, st.Issued)
	assert.Equal(t, 1, st.Rejected)
	assert.Zero(t, st.Errors)
}

func TestConfig_Exchange_emulatorErrors(t *testing.T) {
	t.Parallel()
	cfg, emu := emulatorConfig(t)
	ctx := context.Background()

	code := emu.NewCode("OPEN", callbackURL)
	other := cfg
	other.RedirectURL = "https://elsewhere.example/cb"
	_, err := other.Exchange(ctx, code, "127.0.0.1")
	e := requirePlatformError(t, err, shoptoken.ErrBadRequest)
	assert.Equal(t, "30003", e.Code)
	assert.Equal(t, "redirect_uri mismatch", e.Message)

	wrong := cfg
	wrong.ClientSecret = "nope"
	_, err = wrong.Exchange(ctx, code, "127.0.0.1")
	requirePlatformError(t, err, shoptoken.ErrCredentials)

	_, err = cfg.Exchange(ctx, code, "127.0.0.1")
	require.NoError(t, err)
	_, err = cfg.Exchange(ctx, code, "127.0.0.1")
	e = requirePlatformError(t, err, shoptoken.ErrReauthorize)
	assert.Equal(t, "30001", e.Code, "a code is single use")
	assert.Equal(t, 4, emu.Stats().TokenRequests)
}

func TestConfig_Exchange_emulatorFaults(t *testing.T) {
	tests := []struct {
		fault      shoptokentest.Fault
		wantKind   error // nil: success
		wantIssued int
	}{
		{shoptokentest.FaultUnavailable, shoptoken.ErrUnavailable, 0},
		{shoptokentest.FaultHTML, shoptoken.ErrUnavailable, 0},
		{shoptokentest.FaultHTML200, shoptoken.ErrBadResponse, 0},
		{shoptokentest.FaultTruncated, shoptoken.ErrBadResponse, 1},
		{shoptokentest.FaultDrop, shoptoken.ErrUnavailable, 1},
		// Numbers as strings: a quoted expires_in is accepted rather than lose a spent code.
		{shoptokentest.FaultWrongTypes, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			t.Parallel()
			cfg, emu := emulatorConfig(t)
			emu.FailNext(tt.fault, 1)
			tok, err := cfg.Exchange(context.Background(), emu.NewCode("OPEN", callbackURL), "127.0.0.1")
			st := emu.Stats()
			assert.Equal(t, 1, st.TokenRequests, "a token request is never resent once it may have arrived")
			assert.Equal(t, tt.wantIssued, st.Issued)
			if tt.wantKind != nil {
				requirePlatformError(t, err, tt.wantKind)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, 30*24*time.Hour, tok.Expiry.Sub(tok.IssuedAt))
			assert.True(t, emu.Valid(tok.AccessToken))
		})
	}
}

func TestConfig_Exchange_slowAnswerTimesOut(t *testing.T) {
	t.Parallel()
	cfg, emu := emulatorConfig(t)
	emu.FailNext(shoptokentest.FaultSlow, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := cfg.Exchange(ctx, emu.NewCode("OPEN", callbackURL), "127.0.0.1")
	requirePlatformError(t, err, shoptoken.ErrUnavailable)
	assert.Less(t, time.Since(start), 3*time.Second)
	assert.Zero(t, emu.Stats().Issued)
}

func TestConfig_TokenInfoRevoke_emulatorFaults(t *testing.T) {
	t.Parallel()
	cfg, emu := emulatorConfig(t)
	ctx := context.Background()
	tok, err := cfg.Exchange(ctx, emu.NewCode("OPEN", callbackURL), "127.0.0.1")
	require.NoError(t, err)

	emu.FailAPI(shoptokentest.FaultUnavailable, 1) // token_info is safe to retry: the retry succeeds
	info, err := cfg.TokenInfo(ctx, tok.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, "OPEN", info.OpenID)
	assert.Equal(t, 2, emu.Stats().APICalls)

	emu.FailAPI(shoptokentest.FaultHTML200, 1)
	_, err = cfg.TokenInfo(ctx, tok.AccessToken)
	requirePlatformError(t, err, shoptoken.ErrBadResponse)

	emu.FailAPI(shoptokentest.FaultWrongTypes, 1)
	info, err = cfg.TokenInfo(ctx, tok.AccessToken)
	require.NoError(t, err, "quoted numbers are accepted")
	assert.Equal(t, 30*24*time.Hour, info.ExpiresIn)

	emu.ResetStats()
	emu.FailAPI(shoptokentest.FaultUnavailable, 1) // revoke is not retried
	err = cfg.Revoke(ctx, tok.AccessToken)
	requirePlatformError(t, err, shoptoken.ErrUnavailable)
	assert.Equal(t, 1, emu.Stats().APICalls)
	require.NoError(t, cfg.Revoke(ctx, tok.AccessToken))

	emu.ExpireNow()
	_, err = cfg.TokenInfo(ctx, tok.AccessToken)
	requirePlatformError(t, err, shoptoken.ErrReauthorize) // revoked wins over expired
}

// Many goroutines race to exchange one code: exactly one gets the token.
func TestConfig_Exchange_concurrentSameCode(t *testing.T) {
	t.Parallel()
	cfg, emu := emulatorConfig(t)
	code := emu.NewCode("OPEN", callbackURL)
	const n = 32
	var wg sync.WaitGroup
	var ok, reauth atomic.Int64
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := cfg.Exchange(context.Background(), code, "127.0.0.1")
			switch {
			case err == nil:
				ok.Add(1)
			case shoptoken.KindOf(err) == shoptoken.ErrReauthorize:
				reauth.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(1), ok.Load())
	assert.Equal(t, int64(n-1), reauth.Load())
	st := emu.Stats()
	assert.Equal(t, n, st.TokenRequests)
	assert.Equal(t, 1, st.Issued)
}

// The SDK's own tests run against strict emulators, which read parameters only from the query
// string, as documented: the default passes; the FormBody option is refused there (vip.com is
// not confirmed to read a body) and works against a lenient emulator.
func TestConfig_Encoding_strictEmulator(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tt := range []struct {
		enc     vipauth.Encoding
		lenient bool
		ok      bool
	}{
		{vipauth.Query, false, true},
		{vipauth.FormBody, false, false},
		{vipauth.FormBody, true, true},
		{vipauth.Query, true, true},
	} {
		var opts []shoptokentest.Option
		if tt.lenient {
			opts = append(opts, shoptokentest.Lenient())
		}
		cfg, emu := emulatorConfig(t, opts...)
		cfg.Encoding = tt.enc
		code := emu.NewCode(shoptokentest.VipAuthOpenID, cfg.RedirectURL)
		tok, err := cfg.Exchange(ctx, code, "203.0.113.9")
		if !tt.ok {
			require.Error(t, err, "%v lenient=%v", tt.enc, tt.lenient)
			assert.Zero(t, emu.Stats().Issued)
			continue
		}
		require.NoError(t, err, "%v lenient=%v", tt.enc, tt.lenient)
		info, err := cfg.TokenInfo(ctx, tok.AccessToken)
		require.NoError(t, err)
		assert.Equal(t, shoptokentest.VipAuthOpenID, info.OpenID)
		require.NoError(t, cfg.Revoke(ctx, tok.AccessToken))
		assert.False(t, emu.Valid(tok.AccessToken))
	}
}
