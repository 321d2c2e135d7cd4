package vipauth_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/vipauth"
)

func TestConfig_Exchange(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		fixture  string
		wantKind error  // nil: success
		wantCode string // the platform's code, verbatim
	}{
		{"seed example", 200, "token.json", nil, ""},
		{"invalid code", 200, "invented_token_30001_invalid_code.json", shoptoken.ErrReauthorize, "30001"},
		{"invalid client", 200, "invented_token_30002_invalid_client.json", shoptoken.ErrCredentials, "30002"},
		{"redirect mismatch", 200, "invented_token_30003_redirect_mismatch.json", shoptoken.ErrBadRequest, "30003"},
		{"missing parameter", 200, "invented_token_30004_missing_parameter.json", shoptoken.ErrBadRequest, "30004"},
		{"unsupported grant", 200, "invented_token_30005_unsupported_grant.json", shoptoken.ErrBadRequest, "30005"},
		{"string code, chinese message", 200, "invented_token_string_code_chinese.json", shoptoken.ErrReauthorize, "40001"},
		{"unknown code is conservative", 200, "invented_token_unknown_code.json", shoptoken.ErrReauthorize, "39999"},
		{"system busy", 200, "invented_token_busy.json", shoptoken.ErrUnavailable, "50000"},
		{"rfc invalid_grant", 400, "invented_token_rfc_invalid_grant.json", shoptoken.ErrReauthorize, "invalid_grant"},
		{"rfc invalid_client", 401, "invented_token_rfc_invalid_client.json", shoptoken.ErrCredentials, "invalid_client"},
		{"platform envelope on HTTP 400", 400, "invented_token_30002_invalid_client.json", shoptoken.ErrCredentials, "30002"},
		{"30111", 200, "revoke_30111.json", shoptoken.ErrTokenInvalid, "30111"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, mock := mockConfig(t)
			mock.RegisterResponder(http.MethodPost, tokenURL, jsonResponder(tt.status, fixture(t, tt.fixture)))
			before := time.Now()
			tok, err := cfg.Exchange(context.Background(), testCode, "127.0.0.1")
			assert.Equal(t, 1, mock.GetTotalCallCount(), "a token request is never repeated")
			if tt.wantKind != nil {
				e := requirePlatformError(t, err, tt.wantKind)
				assert.Nil(t, tok)
				assert.Equal(t, "exchange", e.Op)
				assert.Equal(t, tt.wantCode, e.Code)
				assert.Equal(t, tt.status, e.StatusCode)
				assert.NotEmpty(t, e.Message)
				assertErrorClean(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "63945DC", tok.AccessToken)
			assert.Equal(t, "69BA0D4", tok.Subject)
			assert.Equal(t, "Bearer", tok.TokenType)
			assert.Empty(t, tok.RefreshToken)
			assert.False(t, tok.IssuedAt.Before(before.Round(0).Truncate(time.Second)))
			assert.Equal(t, 12340*time.Second, tok.Expiry.Sub(tok.IssuedAt))
		})
	}
}

// sent is what a mock endpoint received: the query, and the body with its media type.
type sent struct {
	method, ctype, body string
	query               url.Values
}

func readSent(r *http.Request) sent {
	s := sent{method: r.Method, query: r.URL.Query(), ctype: r.Header.Get("Content-Type")}
	if r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		s.body = string(b)
	}
	return s
}

// By default every parameter goes in the query string of a POST, as in every seed example; with
// FormBody they go in a urlencoded body and the URL carries none.
func TestConfig_Exchange_requestShape(t *testing.T) {
	t.Parallel()
	want := url.Values{
		"client_id":         {"0123456789"},
		"client_secret":     {testSecret},
		"grant_type":        {"authorization_code"},
		"redirect_uri":      {callbackURL},
		"request_client_ip": {"2001:db8::1"},
		"code":              {testCode},
	}
	for _, tt := range []struct {
		name string
		enc  vipauth.Encoding
	}{{"default: query, as documented", vipauth.Query}, {"FormBody option", vipauth.FormBody}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, mock := mockConfig(t)
			cfg.Encoding = tt.enc
			var got sent
			mock.RegisterResponder(http.MethodPost, tokenURL, func(r *http.Request) (*http.Response, error) {
				got = readSent(r)
				return httpmock.NewBytesResponse(200, fixture(t, "token.json")), nil
			})
			_, err := cfg.Exchange(context.Background(), testCode, "[2001:db8::1]:51234")
			require.NoError(t, err)
			assert.Equal(t, http.MethodPost, got.method)
			if tt.enc == vipauth.Query {
				assert.Equal(t, want, got.query)
				assert.Empty(t, got.body)
				assert.Empty(t, got.ctype)
				return
			}
			assert.Empty(t, got.query)
			assert.Equal(t, "application/x-www-form-urlencoded", got.ctype)
			form, err := url.ParseQuery(got.body)
			require.NoError(t, err)
			assert.Equal(t, want, form)
		})
	}
}

// An Encoding that is neither Query nor FormBody is refused before anything is sent.
func TestConfig_Encoding_unknown(t *testing.T) {
	t.Parallel()
	cfg, mock := mockConfig(t)
	cfg.Encoding = vipauth.Encoding(9)
	_, err := cfg.Exchange(context.Background(), testCode, "127.0.0.1")
	requirePlatformError(t, err, shoptoken.ErrBadRequest)
	assert.Contains(t, err.Error(), "Config.Encoding")
	_, err = cfg.TokenInfo(context.Background(), testToken)
	requirePlatformError(t, err, shoptoken.ErrBadRequest)
	requirePlatformError(t, cfg.Revoke(context.Background(), testToken), shoptoken.ErrBadRequest)
	assert.Zero(t, mock.GetTotalCallCount())
}

func TestConfig_Exchange_arguments(t *testing.T) {
	full := vipauth.Config{ClientID: "id", ClientSecret: testSecret, RedirectURL: callbackURL}
	tests := []struct {
		name      string
		cfg       func(c *vipauth.Config)
		code, ip  string
		wantKind  error
		wantInMsg string
	}{
		{"no client id", func(c *vipauth.Config) { c.ClientID = "" }, testCode, "1.2.3.4", shoptoken.ErrCredentials, "Config.ClientID"},
		{"no client secret", func(c *vipauth.Config) { c.ClientSecret = "" }, testCode, "1.2.3.4", shoptoken.ErrCredentials, "Config.ClientSecret"},
		{"no redirect URL", func(c *vipauth.Config) { c.RedirectURL = "" }, testCode, "1.2.3.4", shoptoken.ErrBadRequest, "Config.RedirectURL"},
		{"no code", nil, "", "1.2.3.4", shoptoken.ErrBadRequest, "code is required"},
		{"no client IP", nil, testCode, "", shoptoken.ErrBadRequest, "clientIP is required"},
		{"client IP not an IP", nil, testCode, "localhost", shoptoken.ErrBadRequest, `clientIP "localhost"`},
		{"bad base URL", func(c *vipauth.Config) { c.BaseURL = "auth.vip.com/oauth2" }, testCode, "1.2.3.4", shoptoken.ErrBadRequest, "Config.BaseURL"},
		{"base URL with a query", func(c *vipauth.Config) { c.BaseURL = "https://auth.vip.com/oauth2?k=v" }, testCode, "1.2.3.4", shoptoken.ErrBadRequest, "must not carry a query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mock := httpmock.NewMockTransport()
			cfg := full
			cfg.HTTPClient = &http.Client{Transport: mock}
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			_, err := cfg.Exchange(context.Background(), tt.code, tt.ip)
			requirePlatformError(t, err, tt.wantKind)
			assert.Contains(t, err.Error(), tt.wantInMsg)
			assert.Zero(t, mock.GetTotalCallCount(), "nothing is sent")
			assertErrorClean(t, err)
		})
	}
}

func TestConfig_TokenInfo(t *testing.T) {
	tests := []struct {
		name     string
		fixture  string
		wantKind error
		wantCode string
	}{
		{"seed example", "token_info.json", nil, ""},
		{"revoked: code 0 is not success", "token_info_revoked.json", shoptoken.ErrReauthorize, "0"},
		{"invalid token", "invented_token_info_30111.json", shoptoken.ErrTokenInvalid, "30111"},
		{"unknown code", "invented_token_unknown_code.json", shoptoken.ErrBadRequest, "39999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, mock := mockConfig(t)
			var got sent
			mock.RegisterResponder(http.MethodPost, tokenInfoURL, func(r *http.Request) (*http.Response, error) {
				got = readSent(r)
				return httpmock.NewBytesResponse(200, fixture(t, tt.fixture)), nil
			})
			info, err := cfg.TokenInfo(context.Background(), testToken)
			assert.Equal(t, url.Values{"access_token": {testToken}}, got.query, "in the query, as documented")
			assert.Empty(t, got.body)
			if tt.wantKind != nil {
				e := requirePlatformError(t, err, tt.wantKind)
				assert.Equal(t, "token_info", e.Op)
				assert.Equal(t, tt.wantCode, e.Code)
				assertErrorClean(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "63945DC4F3A5AA8DF537833900713E8341EF430C", info.AccessToken)
			assert.Equal(t, "69BA0D43AF9E3821EE93F72D3BB14724", info.OpenID)
			assert.Equal(t, "Bearer", info.TokenType)
			assert.Equal(t, 12340*time.Second, info.ExpiresIn)
			// "2015-03-13 17:24:20" China time is 09:24:20 UTC.
			assert.True(t, info.CreatedAt.Equal(time.Date(2015, 3, 13, 9, 24, 20, 0, time.UTC)), "%v", info.CreatedAt)
			assert.True(t, info.ExpiresAt.Equal(time.Date(2015, 3, 13, 12, 50, 0, 0, time.UTC)), "%v", info.ExpiresAt)
			_, offset := info.CreatedAt.Zone()
			assert.Equal(t, 8*3600, offset)
			assert.Equal(t, info.ExpiresIn, info.ExpiresAt.Sub(info.CreatedAt), "the example's expires_in is the whole lifetime")

			tok := info.Token()
			assert.Equal(t, info.AccessToken, tok.AccessToken)
			assert.Equal(t, info.OpenID, tok.Subject)
			assert.True(t, tok.Expiry.Equal(info.ExpiresAt))
			assert.True(t, tok.IssuedAt.Equal(info.CreatedAt))
		})
	}
}

func TestTokenInfo_Token_noExpiresTime(t *testing.T) {
	t.Parallel()
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	info := vipauth.TokenInfo{AccessToken: testToken, CreatedAt: created, ExpiresIn: time.Hour}
	tok := info.Token()
	assert.True(t, tok.Expiry.Equal(created.Add(time.Hour)))
	assert.Equal(t, "Bearer", tok.TokenType)
}

func TestTokenInfo_String_redacts(t *testing.T) {
	t.Parallel()
	info := vipauth.TokenInfo{AccessToken: testToken, OpenID: "OPEN", TokenType: "Bearer", ExpiresIn: time.Hour,
		CreatedAt: time.Date(2015, 3, 13, 17, 24, 20, 0, time.UTC), ExpiresAt: time.Date(2015, 3, 13, 18, 24, 20, 0, time.UTC)}
	for _, out := range []string{fmtAll(info), fmtAll(&info), info.String(), info.GoString()} {
		assertNoSecret(t, "TokenInfo", out)
		assert.Contains(t, out, "Vx5T…(40)")
		assert.Contains(t, out, "OPEN")
	}
	log, buf := debugLogger()
	log.Info("info", "info", info, "ptr", &info)
	assertNoSecret(t, "slog", buf.String())
	assert.Contains(t, buf.String(), "OPEN")
}

func TestConfig_Revoke(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     []byte
		wantKind error
		wantCode string
	}{
		{"success", 200, fixture(t, "revoke.json"), nil, ""},
		{"success, code as string", 200, []byte(`{"code":"0","msg":"success"}`), nil, ""},
		{"invalid token", 200, fixture(t, "revoke_30111.json"), shoptoken.ErrTokenInvalid, "30111"},
		{"invalid token on 401", 401, fixture(t, "revoke_30111.json"), shoptoken.ErrTokenInvalid, "30111"},
		{"unknown code", 200, fixture(t, "invented_token_unknown_code.json"), shoptoken.ErrBadRequest, "39999"},
		{"no code at all", 200, []byte(`{"msg":"success"}`), shoptoken.ErrBadRequest, ""},
		{"empty object", 200, []byte(`{}`), shoptoken.ErrBadResponse, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, mock := mockConfig(t)
			var got sent
			mock.RegisterResponder(http.MethodPost, revokeURL, func(r *http.Request) (*http.Response, error) {
				got = readSent(r)
				return httpmock.NewBytesResponse(tt.status, tt.body), nil
			})
			err := cfg.Revoke(context.Background(), testToken)
			assert.Equal(t, 1, mock.GetTotalCallCount())
			assert.Equal(t, url.Values{"access_token": {testToken}}, got.query, "in the query, as documented")
			assert.Empty(t, got.body)
			if tt.wantKind == nil {
				require.NoError(t, err)
				return
			}
			e := requirePlatformError(t, err, tt.wantKind)
			assert.Equal(t, "revoke", e.Op)
			assert.Equal(t, tt.wantCode, e.Code)
			assertErrorClean(t, err)
		})
	}
}

func TestConfig_TokenInfo_emptyToken(t *testing.T) {
	t.Parallel()
	cfg, mock := mockConfig(t)
	_, err := cfg.TokenInfo(context.Background(), "")
	requirePlatformError(t, err, shoptoken.ErrBadRequest)
	err = cfg.Revoke(context.Background(), "")
	requirePlatformError(t, err, shoptoken.ErrBadRequest)
	assert.Zero(t, mock.GetTotalCallCount())
}

// malformed lists answers that are broken in ways a real network produces, for every endpoint.
// echo is a secret of the request, which some answers repeat.
func malformed(echo string) []struct {
	name   string
	status int
	body   []byte
	kind   error
} {
	huge := append([]byte(`{"access_token":"`), bytes.Repeat([]byte("A"), 1<<20+10)...)
	huge = append(huge, `","expires_in":1,"open_id":"x"}`...)
	return []struct {
		name   string
		status int
		body   []byte
		kind   error
	}{
		{"HTML page with 200", 200, []byte("<!DOCTYPE html><html><body>请先登录 " + echo + "</body></html>"), shoptoken.ErrBadResponse},
		{"HTML 502 from the gateway", 502, []byte("<html><head><title>502 Bad Gateway</title></head></html>"), shoptoken.ErrUnavailable},
		{"503 text", 503, []byte("Service Unavailable"), shoptoken.ErrUnavailable},
		{"500 with an envelope", 500, []byte(`{"code":30002,"msg":"invalid client"}`), shoptoken.ErrUnavailable},
		{"empty body", 200, nil, shoptoken.ErrBadResponse},
		{"truncated JSON", 200, []byte(`{"access_token":"` + echo[:20]), shoptoken.ErrBadResponse},
		{"JSON null", 200, []byte(`null`), shoptoken.ErrBadResponse},
		{"JSON array", 200, []byte(`[{"access_token":"x"}]`), shoptoken.ErrBadResponse},
		{"access_token a number", 200, []byte(`{"access_token":63945,"expires_in":12340,"open_id":"69BA0D4"}`), shoptoken.ErrBadResponse},
		{"unknown envelope", 200, []byte(`{"result":"ok","data":{"token":"` + echo + `"}}`), shoptoken.ErrBadResponse},
		{"body over 1 MiB", 200, huge, shoptoken.ErrBadResponse},
		{"HTTP 200 with an error inside", 200, []byte(`{"code":30111,"msg":"access token invalid ` + echo + `"}`), shoptoken.ErrTokenInvalid},
	}
}

func TestConfig_Exchange_malformed(t *testing.T) {
	extra := []struct {
		name   string
		status int
		body   []byte
		kind   error
	}{
		{"empty access_token", 200, []byte(`{"access_token":"","expires_in":12340,"open_id":"x"}`), shoptoken.ErrBadResponse},
		{"code 0 without a token", 200, []byte(`{"code":0,"msg":"success"}`), shoptoken.ErrBadResponse},
		{"404 with a page", 404, []byte("<html>Not Found</html>"), shoptoken.ErrBadRequest},
	}
	for _, tt := range append(malformed(testCode), extra...) {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, mock := mockConfig(t)
			mock.RegisterResponder(http.MethodPost, tokenURL, httpmock.NewBytesResponder(tt.status, tt.body))
			tok, err := cfg.Exchange(context.Background(), testCode, "127.0.0.1")
			assert.Nil(t, tok)
			requirePlatformError(t, err, tt.kind)
			assertErrorClean(t, err)
			assert.Less(t, len(err.Error()), 600, "messages stay short")
		})
	}
}

func TestConfig_TokenInfo_malformed(t *testing.T) {
	extra := []struct {
		name   string
		status int
		body   []byte
		kind   error
	}{
		{"create_at not a date", 200, []byte(`{"access_token":"` + testToken + `","create_at":"yesterday","expires_in":1}`), shoptoken.ErrBadResponse},
		{"create_at a number", 200, []byte(`{"access_token":"` + testToken + `","create_at":1426238660000,"expires_in":1}`), shoptoken.ErrBadResponse},
		{"expires_time in another layout", 200, []byte(`{"access_token":"` + testToken + `","expires_time":"2015/03/13 20:50"}`), shoptoken.ErrBadResponse},
	}
	for _, tt := range append(malformed(testToken), extra...) {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, mock := mockConfig(t)
			mock.RegisterResponder(http.MethodPost, tokenInfoURL, httpmock.NewBytesResponder(tt.status, tt.body))
			info, err := cfg.TokenInfo(context.Background(), testToken)
			assert.Nil(t, info)
			requirePlatformError(t, err, tt.kind)
			assertErrorClean(t, err)
		})
	}
}

func TestConfig_Revoke_malformed(t *testing.T) {
	for _, tt := range malformed(testToken) {
		if tt.name == "access_token a number" {
			continue // token fields mean nothing to revoke_token
		}
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, mock := mockConfig(t)
			mock.RegisterResponder(http.MethodPost, revokeURL, httpmock.NewBytesResponder(tt.status, tt.body))
			err := cfg.Revoke(context.Background(), testToken)
			requirePlatformError(t, err, tt.kind)
			assertErrorClean(t, err)
		})
	}
}

// The answer's request_id (or the X-Request-Id header) reaches the error on every path: a
// platform error, JSON without an envelope on a non-2xx status, and an answer that makes no sense.
func TestConfig_Exchange_requestID(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		header   string // X-Request-Id
		body     string
		wantKind error
		wantID   string
	}{
		{"platform error", 200, "", `{"code":30001,"msg":"invalid code","request_id":"r-30001"}`, shoptoken.ErrReauthorize, "r-30001"},
		{"header when the body has none", 200, "h-1", `{"code":30001,"msg":"invalid code"}`, shoptoken.ErrReauthorize, "h-1"},
		{"gateway JSON on 502", 502, "gw-7", `{"message":"bad gateway"}`, shoptoken.ErrUnavailable, "gw-7"},
		{"no envelope on 200", 200, "", `{"request_id":"r-empty"}`, shoptoken.ErrBadResponse, "r-empty"},
		{"request_id echoing the code", 200, "", `{"code":30001,"msg":"invalid code","request_id":"` + testCode + `"}`, shoptoken.ErrReauthorize, "Kw3C…(41)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, mock := mockConfig(t)
			mock.RegisterResponder(http.MethodPost, tokenURL, func(*http.Request) (*http.Response, error) {
				resp := httpmock.NewStringResponse(tt.status, tt.body)
				if tt.header != "" {
					resp.Header.Set("X-Request-Id", tt.header)
				}
				return resp, nil
			})
			_, err := cfg.Exchange(context.Background(), testCode, "127.0.0.1")
			e := requirePlatformError(t, err, tt.wantKind)
			assert.Equal(t, tt.wantID, e.RequestID)
			assertErrorClean(t, err)
		})
	}
}

func TestConfig_Exchange_networkFailure(t *testing.T) {
	t.Parallel()
	cfg, mock := mockConfig(t)
	mock.RegisterResponder(http.MethodPost, tokenURL, httpmock.ConnectionFailure)
	_, err := cfg.Exchange(context.Background(), testCode, "127.0.0.1")
	requirePlatformError(t, err, shoptoken.ErrUnavailable)
	assertErrorClean(t, err)
}

func TestConfig_Exchange_canceled(t *testing.T) {
	t.Parallel()
	cfg, mock := mockConfig(t)
	mock.RegisterResponder(http.MethodPost, tokenURL, httpmock.NewBytesResponder(200, fixture(t, "token.json")).Delay(5*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := cfg.Exchange(ctx, testCode, "127.0.0.1")
	requirePlatformError(t, err, shoptoken.ErrUnavailable)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second)
}

// With the parameters in the query (the default), a request that gets no answer (refused
// connection, timeout) fails with an error that shows neither the secret nor the code nor the
// token, and a Debug log that shows none either.
func TestConfig_queryParams_neverLeak(t *testing.T) {
	t.Parallel()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	for _, base := range []string{hang.URL, closedURL} {
		log, logs := testkit.TextLogger()
		cfg := vipauth.Config{ClientID: "id", ClientSecret: testSecret, RedirectURL: callbackURL, BaseURL: base, Logger: log}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err := cfg.Exchange(ctx, testCode, "127.0.0.1")
		require.Error(t, err)
		_, err2 := cfg.TokenInfo(ctx, testToken)
		require.Error(t, err2)
		err3 := cfg.Revoke(ctx, testToken)
		require.Error(t, err3)
		cancel()
		secrets := []string{testSecret, testCode, testToken}
		for _, e := range []error{err, err2, err3} {
			testkit.NoSecret(t, "error", secrets, testkit.ErrorTexts(e)...)
		}
		testkit.NoSecret(t, "debug log", secrets, logs.String())
	}
}
