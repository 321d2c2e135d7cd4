package vvtool_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/vvtool"
)

// TestRegression_SpacingSpendsFetchBudget: the Cache's minimum-interval wait (spaceCall) runs inside
// the refresh timeout and is allowed whenever it is shorter than that timeout, so the token POST
// can start with almost no time left. The platform receives it, issues a token and thereby kills
// the previous one on every server, and the client gives up before the answer arrives: a
// destructive fetch whose result is lost, and the next attempt fetches again. With the package
// defaults (60 s interval, 30 s refresh timeout) a rejection 31-45 s after a fetch leaves 1-15 s
// for the POST. The test scales that down: 1.5 s interval, 2 s timeout, a platform taking 0.8 s.
func TestRegression_SpacingSpendsFetchBudget(t *testing.T) {
	t.Parallel()
	var issued atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := issued.Add(1) // the platform issues on arrival; the previous token is dead from here
		if n > 1 {
			select {
			case <-time.After(800 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok%040d","expires_in":259200000,"token_type":"Bearer","scope":""}`, n)
	}))
	defer srv.Close()

	cfg := vvtool.Config{Account: "acct", AccessKey: "key0123456789", TokenURL: srv.URL + "/oauth/token", HTTPClient: srv.Client()}
	src, err := vvtool.NewSource(cfg, shoptoken.WithMinInterval(1500*time.Millisecond), shoptoken.WithRefreshTimeout(2*time.Second))
	require.NoError(t, err)
	defer src.Close()
	ctx := context.Background()

	first, err := src.Token(ctx)
	require.NoError(t, err)
	fresh, err := src.Invalidate(ctx, first) // the platform rejected it moments later
	if err != nil {
		assert.Equal(t, int32(1), issued.Load(),
			"the refresh failed (%v) after the platform had issued a token: the previous token was killed for nothing", err)
		return
	}
	assert.Equal(t, int32(2), issued.Load())
	assert.NotEqual(t, first.AccessToken, fresh.AccessToken)
}

// TestRegression_IPBindingBlamedForOldToken: the IP-binding explanation is meant for "a fresh token
// rejected again" (PLATFORMS.md). explain() fires for any valid rejected token whenever the
// Cache's minimum interval refuses, so a token that worked for 100 days, whose replacement fetch
// just failed with a 503, is reported as ErrPermission "vv-tool binds a token to the IP address
// that fetched it ... no other token is fetched now" for the next minute, hiding the outage.
func TestRegression_IPBindingBlamedForOldToken(t *testing.T) {
	t.Parallel()
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/oauth/token" {
			fetches.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"message":"Service Unavailable"}`)
			return
		}
		fmt.Fprint(w, `{"code":401,"msg":"身份凭证无效"}`) // the old token is dead
	}))
	defer srv.Close()

	now := time.Now()
	old := &shoptoken.Token{AccessToken: "old0123456789abcdef0123456789abcdef", TokenType: "Bearer",
		IssuedAt: now.Add(-100 * 24 * time.Hour), Expiry: now.Add(3000 * 24 * time.Hour),
		Extra: map[string]string{vvtool.ExtraFetchReason: "missing"}}
	cfg := vvtool.Config{Account: "acct", AccessKey: "key0123456789", TokenURL: srv.URL + "/oauth/token", HTTPClient: srv.Client()}
	src, err := vvtool.NewSource(cfg, shoptoken.WithToken(old), shoptoken.WithBackoff(5*time.Millisecond, 5*time.Millisecond))
	require.NoError(t, err)
	defer src.Close()
	hc := newClient(t, src, srv.Client())

	get := func() error {
		resp, err := hc.HTTPClient().Get(srv.URL + "/tool/members/info")
		if resp != nil {
			resp.Body.Close()
		}
		return err
	}
	require.ErrorIs(t, get(), shoptoken.ErrUnavailable, "the replacement fetch met a 503")
	time.Sleep(50 * time.Millisecond) // past the backoff; well inside the 60 s minimum interval
	err = get()
	require.Error(t, err)
	assert.Equal(t, int32(1), fetches.Load())
	assert.NotErrorIs(t, err, shoptoken.ErrPermission,
		"a 100-day-old token whose replacement fetch failed is not an IP-binding case: %v", err)
}

// TestRegression_BearerFollowsRedirectToOtherHost: net/http drops Authorization when a redirect leaves
// the original host; the Transport attaches the token again on every hop, so any host a vv-tool
// answer redirects to (a CDN, a login portal, a captive portal) receives the token. Used from
// that host's side or replayed from another IP, it is judged stolen and killed.
func TestRegression_BearerFollowsRedirectToOtherHost(t *testing.T) {
	t.Parallel()
	var leaked atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("Authorization"))
		fmt.Fprint(w, `{"code":0,"msg":"成功"}`)
	}))
	defer other.Close()
	// Same server, different host name: net/http compares host names, not ports.
	otherURL := fmt.Sprintf("http://localhost:%d", other.Listener.Addr().(*net.TCPAddr).Port)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, otherURL+"/landing", http.StatusFound)
	}))
	defer api.Close()

	tok := &shoptoken.Token{AccessToken: "tok0123456789abcdef0123456789abcdef", TokenType: "Bearer", IssuedAt: time.Now()}
	src, err := vvtool.NewSource(vvtool.Config{Account: "acct", AccessKey: "key0123456789"}, shoptoken.WithToken(tok))
	require.NoError(t, err)
	defer src.Close()
	resp, err := newClient(t, src, nil).HTTPClient().Get(api.URL + "/tool/members/info")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	got, reached := leaked.Load().(string)
	require.True(t, reached, "the redirect was followed to the other host")
	assert.NotContains(t, got, tok.AccessToken, "the token was sent to another host")
}

// An expires_in that is not a number, or too large for a Duration (1e300), failed the whole
// answer, and the token it carried was lost, although the fetch had already killed the Account's
// previous token on every server. Now a lifetime that cannot be believed (unreadable, not
// positive, absent, or more than ten years) becomes the documented 3000 days, and the expiry
// always lies inside years 1 to 9999, so the token can be stored.
func TestRegression_expiresInNeverCostsTheToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expiresIn string // "" leaves the member out
		want      time.Duration
	}{
		{`259200000`, 3000 * 24 * time.Hour},
		{`"3600"`, time.Hour},
		{`"soon"`, vvtool.DefaultTokenLifetime},
		{`true`, vvtool.DefaultTokenLifetime},
		{`{"s":1}`, vvtool.DefaultTokenLifetime},
		{`1e300`, vvtool.DefaultTokenLifetime},
		{`9223372036854775807`, vvtool.DefaultTokenLifetime},
		{`400000000`, vvtool.DefaultTokenLifetime}, // 12.7 years: past the horizon
		{`0`, vvtool.DefaultTokenLifetime},
		{`-5`, vvtool.DefaultTokenLifetime},
		{``, vvtool.DefaultTokenLifetime},
	}
	for _, tt := range tests {
		body := `{"access_token":"` + fixtureToken + `","token_type":"Bearer"}`
		if tt.expiresIn != "" {
			body = `{"access_token":"` + fixtureToken + `","expires_in":` + tt.expiresIn + `,"token_type":"Bearer"}`
		}
		cfg, _, _ := mockConfig(t, 200, []byte(body))
		tok, err := cfg.FetchToken(context.Background())
		require.NoError(t, err, "expires_in %s", tt.expiresIn)
		assert.Equal(t, fixtureToken, tok.AccessToken)
		assert.Equal(t, tt.want, tok.Expiry.Sub(tok.IssuedAt), "expires_in %s", tt.expiresIn)
		_, err = json.Marshal(tok)
		assert.NoError(t, err, "expires_in %s: the token can be stored", tt.expiresIn)
	}
}

// A 401 from the token endpoint whose body said 身份凭证无效 was ErrTokenInvalid, though the
// request carried no token at all. The only credentials a token request presents are the
// Account and AccessKey: a 401 there is ErrCredentials for every provider, whatever the body.
func TestRegression_tokenEndpoint401IsCredentials(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"HTML":             `<html><body>401 Unauthorized</body></html>`,
		"text 身份凭证无效":      `身份凭证无效`,
		"JSON 身份凭证无效":      `{"code":401,"msg":"身份凭证无效"}`,
		"JSON, no message": `{"message":"Unauthenticated."}`,
		"empty":            ``,
	} {
		cfg, _, _ := mockConfig(t, 401, []byte(body))
		_, err := cfg.FetchToken(context.Background())
		require.ErrorIs(t, err, shoptoken.ErrCredentials, name)
		var e *shoptoken.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, 401, e.StatusCode, name)
	}
}
