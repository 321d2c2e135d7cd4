package vipauth_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/vipauth"
)

// Every call, on success and on every failure, with a Debug logger: no secret in an error, in fmt
// output, or in the log.
func TestConfig_secretsNeverLeak_emulator(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log, logs := debugLogger()
	cfg, emu := emulatorConfig(t, shoptokentest.WithCredentials("0123456789", testSecret))
	cfg.ClientID, cfg.ClientSecret, cfg.Logger = "0123456789", testSecret, log

	// The browser leg: the code arrives in a redirect.
	hc := *emu.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	state := vipauth.NewState()
	authURL, err := cfg.AuthCodeURL(state)
	require.NoError(t, err)
	resp, err := hc.Get(authURL)
	require.NoError(t, err)
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	code, err := vipauth.ParseCallback(loc.Query(), state)
	require.NoError(t, err)

	tok, err := cfg.Exchange(ctx, code, "198.51.100.7")
	require.NoError(t, err)
	secrets := append([]string{code, tok.AccessToken}, testSecrets...)
	check := func(what string, err error) {
		t.Helper()
		assertErrorClean(t, err, secrets...)
		if err != nil {
			var e *shoptoken.Error
			assert.ErrorAs(t, err, &e, "%s: %v", what, err)
		}
	}
	assertNoSecret(t, "token", fmtAll(tok)+fmtAll(*tok), secrets...)
	log.Info("token", "tok", tok, "value", *tok)

	_, err = cfg.Exchange(ctx, code, "198.51.100.7") // used code
	requirePlatformError(t, err, shoptoken.ErrReauthorize)
	check("used code", err)

	wrong := cfg
	wrong.ClientSecret = "Wr0ngSECRETpA4Lk8Jh2Gf6Ds0Aq3Zx7Cv1Bn5Mm9"
	secrets = append(secrets, wrong.ClientSecret)
	_, err = wrong.Exchange(ctx, emu.NewCode(shoptokentest.VipAuthOpenID, callbackURL), "198.51.100.7")
	requirePlatformError(t, err, shoptoken.ErrCredentials)
	check("wrong secret", err)

	for _, f := range []shoptokentest.Fault{shoptokentest.FaultHTML, shoptokentest.FaultHTML200, shoptokentest.FaultTruncated, shoptokentest.FaultDrop, shoptokentest.FaultUnavailable} {
		c := emu.NewCode(shoptokentest.VipAuthOpenID, callbackURL)
		secrets = append(secrets, c)
		emu.FailNext(f, 1)
		_, err = cfg.Exchange(ctx, c, "198.51.100.7")
		require.Error(t, err, f.String())
		check(f.String(), err)
	}

	info, err := cfg.TokenInfo(ctx, tok.AccessToken)
	require.NoError(t, err)
	assertNoSecret(t, "info", fmtAll(info)+fmtAll(*info), secrets...)
	log.Info("info", "info", info)

	src, err := vipauth.NewSource(cfg, tok.Subject, shoptoken.WithToken(tok))
	require.NoError(t, err)
	defer src.Close()
	api := mustClient(t, cfg, src).HTTPClient()
	r, err := api.Get(emu.URL + "/api/account/info")
	require.NoError(t, err)
	r.Body.Close()

	require.NoError(t, cfg.Revoke(ctx, tok.AccessToken))
	err = cfg.Revoke(ctx, tok.AccessToken)
	requirePlatformError(t, err, shoptoken.ErrTokenInvalid)
	check("revoke again", err)
	_, err = cfg.TokenInfo(ctx, tok.AccessToken)
	requirePlatformError(t, err, shoptoken.ErrReauthorize)
	check("token_info revoked", err)

	_, err = api.Get(emu.URL + "/api/account/info") // rejected: the Cache reports the lost grant
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	assertNoSecret(t, "api error", err.Error()+fmtAll(err), secrets...)

	out := logs.String()
	assert.Contains(t, out, `"op":"exchange"`, "the Debug log was written")
	assert.Contains(t, out, "grant_lost")
	assertNoSecret(t, "log", out, secrets...)
}

func TestConfig_secretsNeverLeak_malformedAnswers(t *testing.T) {
	t.Parallel()
	for _, tt := range malformed(testCode) {
		log, logs := debugLogger()
		cfg, mock := mockConfig(t)
		cfg.Logger = log
		mock.RegisterResponder(http.MethodPost, tokenURL, httpmock.NewBytesResponder(tt.status, tt.body))
		_, err := cfg.Exchange(context.Background(), testCode, "127.0.0.1")
		require.Error(t, err, tt.name)
		assertErrorClean(t, err)
		assertNoSecret(t, tt.name+" log", logs.String())
		assert.NotEmpty(t, logs.String())
	}
	for _, tt := range malformed(testToken) {
		log, logs := debugLogger()
		cfg, mock := mockConfig(t)
		cfg.Logger = log
		mock.RegisterResponder(http.MethodPost, tokenInfoURL, httpmock.NewBytesResponder(tt.status, tt.body))
		mock.RegisterResponder(http.MethodPost, revokeURL, httpmock.NewBytesResponder(tt.status, tt.body))
		_, err := cfg.TokenInfo(context.Background(), testToken)
		require.Error(t, err, tt.name)
		assertErrorClean(t, err)
		err = cfg.Revoke(context.Background(), testToken)
		require.Error(t, err, tt.name)
		assertErrorClean(t, err)
		assertNoSecret(t, tt.name+" log", logs.String())
		assert.NotEmpty(t, logs.String())
	}
}
