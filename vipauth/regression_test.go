package vipauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/vipauth"
)

// TestRegression_NewClientRedirectErrorLeaksToken: shoptoken.Transport promises that "the URL in any
// *url.Error never carries" the token. A redirect that keeps the query (nginx's
// "return 301 https://$host$request_uri", a trailing-slash or moved-path redirect) hands
// ?access_token= back to net/http, which builds the next hop, and any error on that hop (refused
// TLS, a CheckRedirect policy, the 10-redirect limit) is a *url.Error that prints the token. The
// response's Request.URL carries it too.
func TestRegression_NewClientRedirectErrorLeaksToken(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://"+r.Host+r.URL.RequestURI(), http.StatusMovedPermanently) // http -> https
	}))
	defer srv.Close()
	tok := &shoptoken.Token{AccessToken: testToken, Expiry: time.Now().Add(24 * time.Hour)}
	src, err := vipauth.NewSource(vipauth.Config{ClientID: "id"}, "OPEN1", shoptoken.WithToken(tok))
	require.NoError(t, err)
	defer src.Close()
	api := mustClient(t, vipauth.Config{ClientID: "id"}, src)

	resp, err := api.HTTPClient().Get(srv.URL + "/api/account/info")
	if resp != nil {
		resp.Body.Close()
	}
	require.Error(t, err, "the https hop fails against a plain-http server")
	var ue *url.Error
	require.ErrorAs(t, err, &ue)
	assertNoSecret(t, "*url.Error of a failed redirect hop", err.Error(), testToken)
}

// TestRegression_FleetSetIgnoredAfterFailure: NewSource promises that "every process sharing the key
// picks up the token another process Set after a new authorization, instead of reporting
// ErrReauthorize". A process that has already met ErrReauthorize keeps returning it without
// reading the store for the Cache's whole permanent-error backoff (5 minutes by default), although
// vip.com's refresher makes no platform call that the backoff could protect.
func TestRegression_FleetSetIgnoredAfterFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := shoptoken.NewMemoryStore()
	cfg := vipauth.Config{ClientID: "id"}
	a, err := vipauth.NewSource(cfg, "OPEN1", shoptoken.WithStore(store))
	require.NoError(t, err)
	defer a.Close()
	b, err := vipauth.NewSource(cfg, "OPEN1", shoptoken.WithStore(store))
	require.NoError(t, err)
	defer b.Close()

	_, err = a.Token(ctx)
	require.ErrorIs(t, err, shoptoken.ErrReauthorize, "nothing authorized yet")

	fresh := &shoptoken.Token{AccessToken: testToken, Subject: "OPEN1", Expiry: time.Now().Add(30 * 24 * time.Hour)}
	require.NoError(t, b.Set(ctx, fresh), "the user authorized again; process b stores the token")

	got, err := a.Token(ctx)
	require.NoError(t, err, "process a should load the token b stored, not repeat its old ErrReauthorize")
	assert.Equal(t, testToken, got.AccessToken)
}

// The token endpoint's answer was decoded with open_id a string and expires_in a number within a
// century, and anything else failed the whole answer: an issued token was thrown away although
// the code that bought it was spent, and the merchant had to authorize again. Now only
// access_token must have its type; open_id (and the other informative members) are read whatever
// their type, and an expires_in that cannot be believed (unreadable, not positive, more than ten
// years) becomes the documented 30 days, so the expiry always lies inside years 1 to 9999.
func TestRegression_issuedTokenDroppedForCosmeticField(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		wantSubject string
		wantLife    time.Duration
	}{
		{"open_id a number", `{"access_token":"` + testToken + `","expires_in":12340,"open_id":69123}`, "69123", 12340 * time.Second},
		{"open_id a boolean", `{"access_token":"` + testToken + `","expires_in":12340,"open_id":true}`, "true", 12340 * time.Second},
		{"open_id an object", `{"access_token":"` + testToken + `","expires_in":12340,"open_id":{"id":1}}`, "", 12340 * time.Second},
		{"open_id null", `{"access_token":"` + testToken + `","expires_in":12340,"open_id":null}`, "", 12340 * time.Second},
		{"token_type and request_id numbers", `{"access_token":"` + testToken + `","expires_in":12340,"open_id":"U","token_type":1,"request_id":7}`, "U", 12340 * time.Second},
		{"expires_in quoted", `{"access_token":"` + testToken + `","expires_in":"12340","open_id":"U"}`, "U", 12340 * time.Second},
		{"expires_in a word", `{"access_token":"` + testToken + `","expires_in":"soon","open_id":"U"}`, "U", vipauth.DefaultTokenLifetime},
		{"expires_in a boolean", `{"access_token":"` + testToken + `","expires_in":true,"open_id":"U"}`, "U", vipauth.DefaultTokenLifetime},
		{"expires_in 1e30", `{"access_token":"` + testToken + `","expires_in":1e30,"open_id":"U"}`, "U", vipauth.DefaultTokenLifetime},
		{"expires_in 20 years", `{"access_token":"` + testToken + `","expires_in":630720000,"open_id":"U"}`, "U", vipauth.DefaultTokenLifetime},
		{"expires_in negative", `{"access_token":"` + testToken + `","expires_in":-5,"open_id":"U"}`, "U", vipauth.DefaultTokenLifetime},
		{"expires_in zero", `{"access_token":"` + testToken + `","expires_in":0,"open_id":"U"}`, "U", vipauth.DefaultTokenLifetime},
		{"a code object next to the token", `{"access_token":"` + testToken + `","expires_in":12340,"open_id":"U","code":{"n":0}}`, "U", 12340 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, mock := mockConfig(t)
			log, logs := debugLogger()
			cfg.Logger = log
			mock.RegisterResponder(http.MethodPost, tokenURL, jsonResponder(200, []byte(tt.body)))
			tok, err := cfg.Exchange(context.Background(), testCode, "127.0.0.1")
			require.NoError(t, err, "the code is spent: the token it bought is kept")
			assert.Equal(t, testToken, tok.AccessToken)
			assert.Equal(t, tt.wantSubject, tok.Subject)
			assert.Equal(t, tt.wantLife, tok.Expiry.Sub(tok.IssuedAt))
			_, err = json.Marshal(tok)
			assert.NoError(t, err, "the token can be stored")
			if tt.wantLife == vipauth.DefaultTokenLifetime {
				assert.Contains(t, logs.String(), "the documented 30 days are assumed")
			}
			assertNoSecret(t, "log", logs.String())
		})
	}
}

// Error answers whose informative members have odd types are still classified by their code,
// not reported as answers that could not be read.
func TestConfig_oddTypesInErrorAnswers(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		exchange error
		info     error
		revoke   error
	}{
		{"msg a number", `{"code":30001,"msg":1}`, shoptoken.ErrReauthorize, shoptoken.ErrBadRequest, shoptoken.ErrBadRequest},
		{"code an object", `{"code":{"n":1},"msg":"x"}`, shoptoken.ErrReauthorize, shoptoken.ErrBadRequest, shoptoken.ErrBadRequest},
		{"30111 with msg an array", `{"code":30111,"msg":["access token invalid"]}`, shoptoken.ErrTokenInvalid, shoptoken.ErrTokenInvalid, shoptoken.ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, mock := mockConfig(t)
			for _, u := range []string{tokenURL, tokenInfoURL, revokeURL} {
				mock.RegisterResponder(http.MethodPost, u, jsonResponder(200, []byte(tt.body)))
			}
			_, err := cfg.Exchange(context.Background(), testCode, "127.0.0.1")
			requirePlatformError(t, err, tt.exchange)
			_, err = cfg.TokenInfo(context.Background(), testToken)
			requirePlatformError(t, err, tt.info)
			requirePlatformError(t, cfg.Revoke(context.Background(), testToken), tt.revoke)
		})
	}
}

// token_info: an expires_in that cannot be believed is left unknown (zero) rather than failing
// the answer, and a date outside years 1 to 9999 (UTC) is refused, so TokenInfo.Token never
// holds a time no Store can write.
func TestConfig_TokenInfo_boundedTimes(t *testing.T) {
	t.Parallel()
	cfg, mock := mockConfig(t)
	body := `{"access_token":"` + testToken + `","create_at":"2015-03-13 17:24:20","expires_in":1e30,"open_id":7}`
	mock.RegisterResponder(http.MethodPost, tokenInfoURL, jsonResponder(200, []byte(body)))
	info, err := cfg.TokenInfo(context.Background(), testToken)
	require.NoError(t, err)
	assert.Zero(t, info.ExpiresIn)
	assert.Equal(t, "7", info.OpenID)
	assert.True(t, info.Token().Expiry.IsZero(), "no expiry known")

	cfg, mock = mockConfig(t)
	body = `{"access_token":"` + testToken + `","create_at":"0001-01-01 00:00:00","expires_in":12340}`
	mock.RegisterResponder(http.MethodPost, tokenInfoURL, jsonResponder(200, []byte(body)))
	_, err = cfg.TokenInfo(context.Background(), testToken)
	requirePlatformError(t, err, shoptoken.ErrBadResponse)

	late := vipauth.TokenInfo{AccessToken: testToken, CreatedAt: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), ExpiresIn: 48 * time.Hour}
	tok := late.Token()
	assert.True(t, tok.Expiry.IsZero(), "a derived expiry past 9999 is left unknown")
	_, err = json.Marshal(tok)
	assert.NoError(t, err)
}

// A 401 from the token endpoint was ErrTokenInvalid with an HTML body (KindForStatus(401)) but
// ErrCredentials with a JSON one, and the code decided before the status. The only credentials
// an exchange presents are the app's: a 401 there is ErrCredentials, whatever the body.
// token_info and revoke_token present an access token, so their 401 stays about that token.
func TestRegression_tokenEndpoint401IsCredentials(t *testing.T) {
	for name, body := range map[string]string{
		"HTML":               `<html><head><title>401 Authorization Required</title></head><body>nginx</body></html>`,
		"text":               `Unauthorized`,
		"JSON, no envelope":  `{"message":"Unauthorized"}`,
		"JSON, 30111":        `{"code":30111,"msg":"access token invalid"}`,
		"JSON, invalid code": `{"code":30001,"msg":"invalid code"}`,
		"empty":              ``,
	} {
		t.Run(name, func(t *testing.T) {
			cfg, mock := mockConfig(t)
			mock.RegisterResponder(http.MethodPost, tokenURL, httpmock.NewStringResponder(401, body))
			_, err := cfg.Exchange(context.Background(), testCode, "127.0.0.1")
			e := requirePlatformError(t, err, shoptoken.ErrCredentials)
			assert.Equal(t, 401, e.StatusCode)
		})
	}
	cfg, mock := mockConfig(t)
	mock.RegisterResponder(http.MethodPost, revokeURL, httpmock.NewStringResponder(401, `<html>401</html>`))
	requirePlatformError(t, cfg.Revoke(context.Background(), testToken), shoptoken.ErrTokenInvalid)
}
