package xoauth2_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/defaultclient"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/xoauth2"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func TestRefresher_Refresh_rotates(t *testing.T) {
	p := newPlatform(7200)
	defer p.Close()
	granted := p.NewGrant()
	cfg := p.Config()
	cfg.Clock = shoptokentest.NewClock(t0)
	r, err := xoauth2.NewRefresher(cfg)
	require.NoError(t, err)

	cur := &shoptoken.Token{RefreshToken: granted, Subject: "before"}
	tok, err := r.Refresh(context.Background(), cur, shoptoken.ReasonMissing)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(tok.AccessToken, "at-"))
	assert.Equal(t, "bearer", tok.TokenType)
	assert.NotEqual(t, granted, tok.RefreshToken, "rotated")
	assert.True(t, strings.HasPrefix(tok.RefreshToken, "rt-"))
	assert.Equal(t, t0.Add(2*time.Hour), tok.Expiry, "start of the call (the Config's clock) + expires_in")
	assert.Equal(t, t0.Add(30*24*time.Hour), tok.RefreshExpiry, "from refresh_expires_in")
	assert.Equal(t, []string{"user_info", "item.read"}, tok.Scope)
	assert.Equal(t, "open-1", tok.Subject, "from Config.SubjectField")
	assert.Equal(t, map[string]string{"union_id": "union-1"}, tok.Extra, "secret-named ExtraFields are not kept")
	assert.True(t, tok.IssuedAt.IsZero(), "left to the Cache")
	assert.Equal(t, int64(1), p.TokenRequests.Load())

	// The refresh token sent is dead now: redeeming it again is invalid_grant.
	_, err = r.Refresh(context.Background(), cur, shoptoken.ReasonExpired)
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	assert.Equal(t, int64(1), p.DeadUses.Load())
}

func TestRefresher_Refresh_keepsRefreshTokenWithoutANewOne(t *testing.T) {
	p := newPlatform(7200)
	defer p.Close()
	p.Rotate = false
	granted := p.NewGrant()
	r, err := xoauth2.NewRefresher(p.Config())
	require.NoError(t, err)
	cur := &shoptoken.Token{RefreshToken: granted}
	for range 2 {
		tok, err := r.Refresh(context.Background(), cur, shoptoken.ReasonEarly)
		require.NoError(t, err)
		assert.Equal(t, granted, tok.RefreshToken, "the answer had no refresh_token: the one sent goes on")
		cur = tok
	}
}

func TestRefresher_Refresh_formAnswer(t *testing.T) {
	p := newPlatform(60)
	defer p.Close()
	p.Answer = func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		_, _ = io.WriteString(w, "access_token=at-form-0123456789abcdef&token_type=bearer&expires_in=3600&scope=a,b&open_id=42")
		return true
	}
	cfg := p.Config()
	cfg.Clock = shoptokentest.NewClock(t0)
	r, err := xoauth2.NewRefresher(cfg)
	require.NoError(t, err)
	tok, err := r.Refresh(context.Background(), &shoptoken.Token{RefreshToken: "rt-kept-0123456789"}, shoptoken.ReasonMissing)
	require.NoError(t, err)
	assert.Equal(t, "at-form-0123456789abcdef", tok.AccessToken)
	assert.Equal(t, "rt-kept-0123456789", tok.RefreshToken)
	assert.Equal(t, t0.Add(time.Hour), tok.Expiry)
	assert.Equal(t, []string{"a", "b"}, tok.Scope)
	assert.Equal(t, "42", tok.Subject)
}

func TestRefresher_Refresh_noRefreshToken(t *testing.T) {
	p := newPlatform(60)
	defer p.Close()
	r, err := xoauth2.NewRefresher(p.Config())
	require.NoError(t, err)
	for _, cur := range []*shoptoken.Token{nil, {AccessToken: "at-only-0123456789"}, {RefreshToken: " \t"}} {
		_, err := r.Refresh(context.Background(), cur, shoptoken.ReasonMissing)
		require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	}
	assert.Zero(t, p.TokenRequests.Load(), "nothing is sent")
}

// TestRefresher_Refresh_errors maps every kind of answer to its kind, sends each refresh once
// only, and shows no secret: neither the client secret, nor the refresh token sent (echoed by
// the platform), nor a token the answer carried.
func TestRefresher_Refresh_errors(t *testing.T) {
	const sent = "rt-SENTs3cretSENTs3cretSENTs3cret"
	const issuedAT, issuedRT = "at-NEWs3cretNEWs3cretNEWs3cret", "rt-NEWs3cretNEWs3cretNEWs3cret"
	secrets := []string{testSecret, sent, issuedAT, issuedRT}
	tests := []struct {
		name     string
		status   int
		ctype    string // "" means application/json
		body     string
		kind     error
		code     string
		contains string // in Error()
	}{
		{"invalid_grant", 400, "", `{"error":"invalid_grant","error_description":"refresh token ` + sent + ` was used"}`,
			shoptoken.ErrReauthorize, "invalid_grant", "invalid_grant refresh token rt-S…"},
		{"access_denied", 400, "", `{"error":"access_denied"}`, shoptoken.ErrReauthorize, "access_denied", "access_denied"},
		{"invalid_client", 401, "", `{"error":"invalid_client","error_description":"bad secret ` + testSecret + `"}`,
			shoptoken.ErrCredentials, "invalid_client", "invalid_client bad secret"},
		{"unauthorized_client", 400, "", `{"error":"unauthorized_client"}`, shoptoken.ErrCredentials, "unauthorized_client", "unauthorized_client"},
		{"401 without a code", 401, "text/plain", `client_secret=` + testSecret, shoptoken.ErrCredentials, "", "HTTP 401"},
		{"invalid_request", 400, "", `{"error":"invalid_request"}`, shoptoken.ErrBadRequest, "invalid_request", "invalid_request"},
		{"invalid_scope", 400, "", `{"error":"invalid_scope"}`, shoptoken.ErrBadRequest, "invalid_scope", "invalid_scope"},
		{"unknown code on 400", 400, "", `{"error":"E42"}`, shoptoken.ErrBadRequest, "E42", "E42"},
		{"server_error", 500, "", `{"error":"server_error"}`, shoptoken.ErrUnavailable, "server_error", "server_error"},
		{"temporarily_unavailable", 503, "", `{"error":"temporarily_unavailable","error_description":"busy"}`,
			shoptoken.ErrUnavailable, "temporarily_unavailable", "busy"},
		{"502 HTML page", 502, "text/html", `<html><body>Bad Gateway</body></html>`, shoptoken.ErrUnavailable, "", "HTTP 502 Bad Gateway"},
		{"429", 429, "", `{"message":"too many"}`, shoptoken.ErrRateLimited, "", "HTTP 429"},
		{"slow_down", 400, "", `{"error":"slow_down"}`, shoptoken.ErrRateLimited, "slow_down", "slow_down"},
		{"403", 403, "", `{"message":"ip not allowed"}`, shoptoken.ErrPermission, "", "HTTP 403"},
		{"error in a 200 answer that also carries tokens", 200, "",
			`{"error":"invalid_grant","access_token":"` + issuedAT + `","refresh_token":"` + issuedRT + `"}`,
			shoptoken.ErrReauthorize, "invalid_grant", "invalid_grant"},
		{"500 echoing the request", 500, "text/plain",
			`refresh_token=` + sent + `&client_secret=` + testSecret + `&access_token=` + issuedAT, shoptoken.ErrUnavailable, "", "HTTP 500"},
		{"500 JSON echoing tokens", 500, "", `{"msg":"boom","refresh_token":"` + issuedRT + `","echo":"` + sent + `"}`,
			shoptoken.ErrUnavailable, "", "HTTP 500"},
		{"200 without access_token", 200, "", `{"token_type":"bearer","refresh_token":"` + issuedRT + `"}`,
			shoptoken.ErrBadResponse, "", "no access_token"},
		{"200 HTML page", 200, "text/html", `<html>maintenance</html>`, shoptoken.ErrBadResponse, "", "could not be read"},
		{"form error", 400, "application/x-www-form-urlencoded", `error=invalid_grant&error_description=expired`,
			shoptoken.ErrReauthorize, "invalid_grant", "invalid_grant expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPlatform(60)
			defer p.Close()
			p.Answer = func(w http.ResponseWriter, r *http.Request) bool {
				ct := tt.ctype
				if ct == "" {
					ct = "application/json"
				}
				w.Header().Set("Content-Type", ct)
				w.Header().Set("X-Request-Id", "req-"+tt.code)
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
				return true
			}
			r, err := xoauth2.NewRefresher(p.Config())
			require.NoError(t, err)
			_, err = r.Refresh(context.Background(), &shoptoken.Token{RefreshToken: sent}, shoptoken.ReasonExpired)
			require.ErrorIs(t, err, tt.kind)
			var e *shoptoken.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "testplat", e.Platform)
			assert.Equal(t, "refresh", e.Op)
			assert.Equal(t, tt.code, e.Code)
			assert.Equal(t, tt.status, e.StatusCode)
			assert.Equal(t, "req-"+tt.code, e.RequestID)
			assert.Contains(t, err.Error(), tt.contains)
			assert.False(t, errors.As(err, new(*oauth2.RetrieveError)), "the RetrieveError, which shows the body, is not wrapped")
			assert.Equal(t, int64(1), p.TokenRequests.Load(), "a refresh is never sent twice")
			testkit.NoSecret(t, "error", secrets, append(testkit.ErrorTexts(err), e.RawMessage)...)
		})
	}
}

func TestRefresher_Refresh_networkFailures(t *testing.T) {
	const sent = "rt-SENTs3cretSENTs3cretSENTs3cret"
	t.Run("refused", func(t *testing.T) {
		p := newPlatform(60)
		cfg := p.Config()
		cfg.OAuth2.Endpoint.TokenURL += "?refresh_token=" + sent // redacted in the *url.Error too
		p.Close()
		r, err := xoauth2.NewRefresher(cfg)
		require.NoError(t, err)
		_, err = r.Refresh(context.Background(), &shoptoken.Token{RefreshToken: sent}, shoptoken.ReasonExpired)
		require.ErrorIs(t, err, shoptoken.ErrUnavailable)
		assert.Contains(t, err.Error(), "testplat: refresh: token endpoint unreachable")
		testkit.NoSecret(t, "error", []string{testSecret, sent}, testkit.ErrorTexts(err)...)
	})
	t.Run("deadline", func(t *testing.T) {
		p := newPlatform(60)
		defer p.Close()
		release := make(chan struct{})
		defer close(release)
		p.Answer = func(w http.ResponseWriter, r *http.Request) bool {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return true
		}
		r, err := xoauth2.NewRefresher(p.Config())
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = r.Refresh(ctx, &shoptoken.Token{RefreshToken: sent}, shoptoken.ReasonExpired)
		require.ErrorIs(t, err, shoptoken.ErrUnavailable)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), 5*time.Second)
		assert.Equal(t, int64(1), p.TokenRequests.Load())
	})
	t.Run("body cut short", func(t *testing.T) {
		p := newPlatform(60)
		defer p.Close()
		p.Answer = func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Length", "1000")
			_, _ = io.WriteString(w, `{"access_token":"at-`)
			return true
		}
		r, err := xoauth2.NewRefresher(p.Config())
		require.NoError(t, err)
		_, err = r.Refresh(context.Background(), &shoptoken.Token{RefreshToken: sent}, shoptoken.ReasonExpired)
		require.ErrorIs(t, err, shoptoken.ErrUnavailable)
		assert.Equal(t, int64(1), p.TokenRequests.Load())
	})
}

// TestRefresher_Refresh_redirectNotFollowed: a 307 would make net/http send the client secret
// and the refresh token again to another host.
func TestRefresher_Refresh_redirectNotFollowed(t *testing.T) {
	elsewhere := testkit.NewCounter(t, `{"access_token":"at-stolen-0123456789","token_type":"bearer"}`)
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound} {
		p := newPlatform(60)
		p.Answer = func(w http.ResponseWriter, r *http.Request) bool {
			http.Redirect(w, r, elsewhere.URL+"/token", status)
			return true
		}
		for name, hc := range map[string]*http.Client{"default client": nil, "own client": {}} {
			cfg := p.Config()
			cfg.HTTPClient = hc
			r, err := xoauth2.NewRefresher(cfg)
			require.NoError(t, err)
			_, err = r.Refresh(context.Background(), &shoptoken.Token{RefreshToken: "rt-0123456789abcdef"}, shoptoken.ReasonExpired)
			require.ErrorIs(t, err, shoptoken.ErrBadResponse, name)
			assert.Contains(t, err.Error(), "redirect not followed")
		}
		p.Close()
	}
	assert.Zero(t, elsewhere.Hits())
}

// countingTransport counts the requests it sends.
type countingTransport struct {
	n    atomic.Int64
	base http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

func TestRefresher_Refresh_httpClient(t *testing.T) {
	p := newPlatform(60)
	defer p.Close()
	own := &countingTransport{base: http.DefaultTransport}
	inCtx := &countingTransport{base: http.DefaultTransport}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: inCtx})

	cfg := p.Config()
	r, err := xoauth2.NewRefresher(cfg)
	require.NoError(t, err)
	_, err = r.Refresh(ctx, &shoptoken.Token{RefreshToken: p.NewGrant()}, shoptoken.ReasonMissing)
	require.NoError(t, err)
	assert.Equal(t, int64(1), inCtx.n.Load(), "without Config.HTTPClient, the context's client")

	cfg.HTTPClient = &http.Client{Transport: own}
	r, err = xoauth2.NewRefresher(cfg)
	require.NoError(t, err)
	_, err = r.Refresh(ctx, &shoptoken.Token{RefreshToken: p.NewGrant()}, shoptoken.ReasonMissing)
	require.NoError(t, err)
	assert.Equal(t, int64(1), own.n.Load(), "Config.HTTPClient wins")
	assert.Equal(t, int64(1), inCtx.n.Load())
	assert.Nil(t, cfg.HTTPClient.CheckRedirect, "the caller's client is not changed")

	cfg.HTTPClient = nil
	r, err = xoauth2.NewRefresher(cfg)
	require.NoError(t, err)
	hc := xoauth2.ClientFor(r, context.Background())
	assert.Same(t, defaultclient.Shared().Transport, hc.Transport, "neither: the SDK's shared client, not http.DefaultClient")
	assert.Equal(t, defaultclient.Timeout, hc.Timeout)
}

func TestNewRefresher_validates(t *testing.T) {
	good := func() xoauth2.Config {
		return xoauth2.Config{OAuth2: &oauth2.Config{ClientID: "id", ClientSecret: testSecret,
			Endpoint: oauth2.Endpoint{TokenURL: "https://open.example.com/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}}
	}
	_, err := xoauth2.NewRefresher(good())
	require.NoError(t, err)
	tests := []struct {
		name   string
		change func(c *xoauth2.Config)
		kind   error
		says   string
	}{
		{"no OAuth2", func(c *xoauth2.Config) { c.OAuth2 = nil }, shoptoken.ErrBadRequest, "Config.OAuth2 is required"},
		{"no ClientID", func(c *xoauth2.Config) { c.OAuth2.ClientID = "\u3000" }, shoptoken.ErrCredentials, "Config.OAuth2.ClientID is required"},
		{"no TokenURL", func(c *xoauth2.Config) { c.OAuth2.Endpoint.TokenURL = "" }, shoptoken.ErrBadRequest, "TokenURL is required"},
		{"relative TokenURL", func(c *xoauth2.Config) { c.OAuth2.Endpoint.TokenURL = "/token" }, shoptoken.ErrBadRequest, "absolute"},
		{"user information", func(c *xoauth2.Config) { c.OAuth2.Endpoint.TokenURL = "https://u:" + testSecret + "@h/token" }, shoptoken.ErrBadRequest, "user information"},
		{"plain http", func(c *xoauth2.Config) { c.OAuth2.Endpoint.TokenURL = "http://open.example.com/token" }, shoptoken.ErrBadRequest, "plain http"},
		{"auto-detect", func(c *xoauth2.Config) { c.OAuth2.Endpoint.AuthStyle = oauth2.AuthStyleAutoDetect }, shoptoken.ErrBadRequest, "AuthStyle"},
		{"platform", func(c *xoauth2.Config) { c.Platform = "JD Open" }, shoptoken.ErrBadRequest, "Config.Platform"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.change(&c)
			_, err := xoauth2.NewRefresher(c)
			require.ErrorIs(t, err, tt.kind)
			assert.Contains(t, err.Error(), tt.says)
			testkit.NoSecret(t, "error", []string{testSecret}, testkit.ErrorTexts(err)...)
		})
	}
	c := good()
	c.OAuth2.Endpoint.TokenURL = "http://open.example.com/token"
	c.AllowHTTP = true
	_, err = xoauth2.NewRefresher(c)
	require.NoError(t, err, "AllowHTTP")
}

func TestRefresher_printsNoSecret(t *testing.T) {
	p := newPlatform(60)
	defer p.Close()
	cfg := p.Config()
	cfg.OAuth2.Endpoint.TokenURL += "?client_secret=" + testSecret
	r, err := xoauth2.NewRefresher(cfg)
	require.NoError(t, err)
	out := append(testkit.Printed(r), testkit.Printed(cfg)...)
	testkit.NoSecret(t, "printed", []string{testSecret}, out...)
	assert.Contains(t, r.String(), "xoauth2.Refresher{Platform: testplat, ClientID: client-1")
	// The Refresher a Cache holds prints redacted too.
	c, err := shoptoken.NewCache(r)
	require.NoError(t, err)
	defer c.Close()
	testkit.NoSecret(t, "printed", []string{testSecret}, testkit.Printed(c.Refresher())...)
}

// TestRefresher_Refresh_copiesConfig: changing the *oauth2.Config after NewRefresher changes
// nothing.
func TestRefresher_Refresh_copiesConfig(t *testing.T) {
	p := newPlatform(60)
	defer p.Close()
	cfg := p.Config()
	r, err := xoauth2.NewRefresher(cfg)
	require.NoError(t, err)
	cfg.OAuth2.ClientSecret = "changed"
	cfg.OAuth2.Endpoint.TokenURL = "http://127.0.0.1:1/token"
	_, err = r.Refresh(context.Background(), &shoptoken.Token{RefreshToken: p.NewGrant()}, shoptoken.ReasonMissing)
	require.NoError(t, err)
}
