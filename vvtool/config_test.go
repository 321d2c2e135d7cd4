package vvtool_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/vvtool"
)

const (
	mockTokenURL = "http://vv.test/oauth/token"
	fixtureToken = "5d34d5197d131ae0dae4a63d219516b1a2b3c4d5"
	// A distinctive 40-character AccessKey: it must never show up in an error or a log.
	secretKey = "SK7fQ2LmZp9XwR4tVb8NcH3JdG6YsE1uKa5OxTiW"
)

// requestLog records what the mock token endpoint received.
type requestLog struct {
	mu    sync.Mutex
	forms []url.Values
	ctype []string
}

func (l *requestLog) responder(status int, body []byte, header ...string) httpmock.Responder {
	return func(r *http.Request) (*http.Response, error) {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		var form url.Values
		if mt == "multipart/form-data" {
			if err := r.ParseMultipartForm(1 << 20); err == nil {
				form = r.MultipartForm.Value
			}
		} else {
			b, _ := io.ReadAll(r.Body)
			form, _ = url.ParseQuery(string(b))
		}
		if r.URL.RawQuery != "" {
			form = url.Values{"query!": {r.URL.RawQuery}} // nothing belongs in the URL
		}
		l.mu.Lock()
		l.forms = append(l.forms, form)
		l.ctype = append(l.ctype, mt)
		l.mu.Unlock()
		resp := httpmock.NewBytesResponse(status, body)
		for i := 0; i+1 < len(header); i += 2 {
			resp.Header.Set(header[i], header[i+1])
		}
		return resp, nil
	}
}

// mockConfig returns a Config whose token endpoint answers status and body once per call.
func mockConfig(t *testing.T, status int, body []byte, header ...string) (vvtool.Config, *httpmock.MockTransport, *requestLog) {
	t.Helper()
	mock := httpmock.NewMockTransport()
	log := &requestLog{}
	mock.RegisterResponder(http.MethodPost, mockTokenURL, log.responder(status, body, header...))
	return vvtool.Config{Account: account, AccessKey: secretKey, TokenURL: mockTokenURL, HTTPClient: &http.Client{Transport: mock}}, mock, log
}

// assertNoSecret checks every rendering of err for the AccessKey and the given tokens.
func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	testkit.NoSecret(t, "error", append([]string{secretKey}, secrets...), testkit.ErrorTexts(err)...)
}

func TestConfig_FetchToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		fixture   string
		wantKind  error
		wantCode  string
		wantMsg   string // substring of Message
		wantExp   time.Duration
		wantScope []string
		wantType  string
	}{
		{name: "classic", status: 200, fixture: "token_classic.json", wantExp: 3000 * 24 * time.Hour, wantType: "Bearer"},
		{name: "wrapped", status: 200, fixture: "token_wrapped.json", wantExp: 3000 * 24 * time.Hour, wantType: "Bearer"},
		{name: "quoted expires_in", status: 200, fixture: "token_quoted.json", wantExp: 3000 * 24 * time.Hour, wantType: "Bearer"},
		{name: "wrapped, quoted code and expires_in", status: 200, fixture: "token_wrapped_quoted.json", wantExp: 3000 * 24 * time.Hour, wantType: "Bearer"},
		{name: "no expires_in, scopes", status: 200, fixture: "token_no_expiry.json", wantExp: vvtool.DefaultTokenLifetime, wantScope: []string{"taobao", "tool"}, wantType: "bearer"},
		{name: "odd types in informative members", status: 200, fixture: "token_odd_types.json", wantExp: 3000 * 24 * time.Hour, wantScope: []string{"item", "trade"}, wantType: "Bearer"},
		{name: "invalid_client", status: 401, fixture: "error_invalid_client.json", wantKind: shoptoken.ErrCredentials, wantCode: "invalid_client", wantMsg: "Client authentication failed"},
		{name: "unsupported grant", status: 400, fixture: "error_unsupported_grant.json", wantKind: shoptoken.ErrBadRequest, wantCode: "unsupported_grant_type"},
		{name: "wrapped wrong credentials", status: 200, fixture: "error_wrapped_credentials.json", wantKind: shoptoken.ErrCredentials, wantCode: "400", wantMsg: "client_id或client_secret错误"},
		{name: "wrapped wrong credentials, data []", status: 200, fixture: "error_wrapped_credentials_array.json", wantKind: shoptoken.ErrCredentials, wantCode: "400"},
		{name: "wrapped bad grant_type", status: 200, fixture: "error_wrapped_grant_type.json", wantKind: shoptoken.ErrBadRequest, wantCode: "400", wantMsg: "grant_type错误"},
		{name: "wrapped too frequent", status: 200, fixture: "error_wrapped_frequent.json", wantKind: shoptoken.ErrRateLimited, wantCode: "1001"},
		{name: "身份凭证无效 JSON", status: 200, fixture: "error_identity_invalid.json", wantKind: shoptoken.ErrTokenInvalid, wantCode: "401", wantMsg: "身份凭证无效"},
		// At the token endpoint a 401 is about the Account and AccessKey, whatever the body says.
		{name: "身份凭证无效 text", status: 401, fixture: "error_identity_invalid.txt", wantKind: shoptoken.ErrCredentials},
		{name: "Laravel 500", status: 500, fixture: "error_laravel_500.json", wantKind: shoptoken.ErrUnavailable, wantMsg: "Server Error"},
		{name: "nginx 502", status: 502, fixture: "nginx_502.html", wantKind: shoptoken.ErrUnavailable, wantMsg: "502 Bad Gateway"},
		{name: "portal page 200", status: 200, fixture: "portal.html", wantKind: shoptoken.ErrBadResponse, wantMsg: "HTML"},
		{name: "success without token", status: 200, fixture: "error_success_without_token.json", wantKind: shoptoken.ErrBadResponse, wantCode: "0", wantMsg: "no access_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, mock, log := mockConfig(t, tt.status, readFixture(t, tt.fixture), "X-Request-Id", "rq-42")
			before := time.Now()
			tok, err := cfg.FetchToken(context.Background())
			assert.Equal(t, 1, mock.GetTotalCallCount(), "never sent twice")
			require.Len(t, log.forms, 1)
			assert.Equal(t, "multipart/form-data", log.ctype[0], "the seed's encoding by default")
			assert.Equal(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {account}, "client_secret": {secretKey}}, log.forms[0])
			if tt.wantKind != nil {
				require.ErrorIs(t, err, tt.wantKind)
				assert.Nil(t, tok)
				var e *shoptoken.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, "vvtool", e.Platform)
				assert.Equal(t, "token", e.Op)
				assert.Equal(t, tt.status, e.StatusCode)
				assert.Equal(t, tt.wantCode, e.Code)
				assert.Contains(t, e.Message, tt.wantMsg)
				assert.Equal(t, "rq-42", e.RequestID)
				assertNoSecret(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, fixtureToken, tok.AccessToken)
			assert.Equal(t, tt.wantType, tok.TokenType)
			assert.Equal(t, account, tok.Subject)
			assert.Equal(t, tt.wantScope, tok.Scope)
			assert.WithinRange(t, tok.IssuedAt, before, time.Now())
			if tt.wantExp == 0 {
				assert.True(t, tok.Expiry.IsZero())
			} else {
				assert.Equal(t, tt.wantExp, tok.Expiry.Sub(tok.IssuedAt))
			}
			if host, err := os.Hostname(); err == nil {
				assert.Equal(t, host, tok.Extra[vvtool.ExtraFetchedBy])
			}
			assert.NotContains(t, tok.Extra, vvtool.ExtraFetchReason)
			assert.NotContains(t, fmt.Sprintf("%v %+v %#v", tok, tok, *tok), fixtureToken)
		})
	}
}

// TestConfig_FetchToken_malformed: answers that cannot be understood become typed errors, never a
// panic, and never show the AccessKey.
func TestConfig_FetchToken_malformed(t *testing.T) {
	t.Parallel()
	huge := `{"access_token":"` + fixtureToken + `","pad":"` + strings.Repeat("x", 1<<20) + `"}`
	tests := []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"empty 200", 200, "", shoptoken.ErrBadResponse},
		{"HTML 200", 200, "<html><body>维护中</body></html>", shoptoken.ErrBadResponse},
		{"truncated", 200, `{"access_token":"` + fixtureToken[:10], shoptoken.ErrBadResponse},
		{"null", 200, "null", shoptoken.ErrBadResponse},
		{"top-level array", 200, `[{"access_token":"x"}]`, shoptoken.ErrBadResponse},
		{"access_token a number", 200, `{"access_token":12345678901234567890,"expires_in":259200000}`, shoptoken.ErrBadResponse},
		{"msg an object", 200, `{"code":1,"msg":{"zh":"错误"}}`, shoptoken.ErrBadRequest},
		{"error an object", 401, `{"error":{"code":"E1","message":"denied"}}`, shoptoken.ErrCredentials},
		{"data a string", 200, `{"code":0,"msg":"成功","data":"` + fixtureToken + `"}`, shoptoken.ErrBadResponse},
		{"unknown envelope", 200, `{"result":{"token":"` + fixtureToken + `"}}`, shoptoken.ErrBadResponse},
		{"huge body", 200, huge, shoptoken.ErrBadResponse},
		{"error inside 200", 200, `{"error":"server_error","message":"boom"}`, shoptoken.ErrBadRequest},
		{"unknown code inside 200", 200, `{"code":9999,"msg":"系统繁忙"}`, shoptoken.ErrBadRequest},
		{"HTTP-like code inside 200", 200, `{"code":503,"msg":"服务维护"}`, shoptoken.ErrUnavailable},
		{"503 text", 503, "Service Unavailable", shoptoken.ErrUnavailable},
		{"429", 429, `{"message":"Too Many Attempts."}`, shoptoken.ErrRateLimited},
		{"401 HTML", 401, "<html><body>Unauthorized</body></html>", shoptoken.ErrCredentials},
		{"401 truncated JSON", 401, `{"error":"invalid_cli`, shoptoken.ErrCredentials},
		{"500 mentioning the account", 500, `{"message":"account service unavailable"}`, shoptoken.ErrUnavailable},
		{"403 JSON", 403, `{"message":"This action is unauthorized."}`, shoptoken.ErrPermission},
		{"secret echoed in message", 401, `{"error":"invalid_client","message":"bad client_secret ` + secretKey + `"}`, shoptoken.ErrCredentials},
		{"secret echoed in HTML", 200, `<html><body>client_secret=` + secretKey + `</body></html>`, shoptoken.ErrBadResponse},
		{"secret echoed in code", 200, `{"code":"` + secretKey + `","msg":"x"}`, shoptoken.ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, mock, _ := mockConfig(t, tt.status, []byte(tt.body))
			tok, err := cfg.FetchToken(context.Background())
			require.ErrorIs(t, err, tt.want, "%v", err)
			assert.Nil(t, tok)
			var e *shoptoken.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "vvtool", e.Platform)
			assert.Equal(t, 1, mock.GetTotalCallCount())
			assertNoSecret(t, err)
			assert.Less(t, len(err.Error()), 600)
		})
	}
}

func TestConfig_FetchToken_invalidConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  vvtool.Config
		want error
		msg  string
	}{
		{"no account", vvtool.Config{AccessKey: secretKey}, shoptoken.ErrCredentials, "Config.Account"},
		{"no access key", vvtool.Config{Account: account}, shoptoken.ErrCredentials, "Config.AccessKey"},
		{"relative URL", vvtool.Config{Account: account, AccessKey: secretKey, TokenURL: "/oauth/token"}, shoptoken.ErrBadRequest, "Config.TokenURL"},
		{"ftp URL", vvtool.Config{Account: account, AccessKey: secretKey, TokenURL: "ftp://vv.test/oauth/token?client_secret=" + secretKey}, shoptoken.ErrBadRequest, "Config.TokenURL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mock := httpmock.NewMockTransport()
			tt.cfg.HTTPClient = &http.Client{Transport: mock}
			_, err := tt.cfg.FetchToken(context.Background())
			require.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), tt.msg)
			assertNoSecret(t, err)
			src, err := vvtool.NewSource(tt.cfg)
			require.ErrorIs(t, err, tt.want)
			assert.Nil(t, src)
			assert.Zero(t, mock.GetTotalCallCount())
		})
	}
}

func TestConfig_FetchToken_networkFailureIsNotRetried(t *testing.T) {
	t.Parallel()
	mock := httpmock.NewMockTransport()
	mock.RegisterResponder(http.MethodPost, mockTokenURL, httpmock.NewErrorResponder(errors.New("connection reset by peer")))
	cfg := vvtool.Config{Account: account, AccessKey: secretKey, TokenURL: mockTokenURL, HTTPClient: &http.Client{Transport: mock}}
	_, err := cfg.FetchToken(context.Background())
	require.ErrorIs(t, err, shoptoken.ErrUnavailable)
	assert.Equal(t, 1, mock.GetTotalCallCount(), "the request may have arrived: a second one would kill the first token")

	cfg, mock, _ = mockConfig(t, 503, []byte("Service Unavailable"), "Retry-After", "1")
	_, err = cfg.FetchToken(context.Background())
	require.ErrorIs(t, err, shoptoken.ErrUnavailable)
	assert.Equal(t, 1, mock.GetTotalCallCount())
}

func TestConfig_FetchToken_recordsLocalAddress(t *testing.T) {
	t.Parallel()
	body := readFixture(t, "token_classic.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	cfg := vvtool.Config{Account: account, AccessKey: secretKey, TokenURL: srv.URL + "/oauth/token", HTTPClient: srv.Client()}
	tok, err := cfg.FetchToken(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", tok.Extra[vvtool.ExtraFetchedFrom])
}

func TestConfig_FetchToken_emulator(t *testing.T) {
	t.Parallel()
	emu := shoptokentest.NewVVTool(shoptokentest.WithCredentials(account, secretKey))
	defer emu.Close()
	for _, path := range []string{"/oauth/token", "/api/proxy/oauth/token"} {
		t.Run(path, func(t *testing.T) {
			cfg := vvtool.Config{Account: account, AccessKey: secretKey, TokenURL: emu.URL + path, HTTPClient: emu.Client()}
			tok, err := cfg.FetchToken(context.Background())
			require.NoError(t, err)
			assert.True(t, emu.Valid(tok.AccessToken))
			assert.InDelta(t, float64(3000*24*time.Hour), float64(tok.Expiry.Sub(tok.IssuedAt)), float64(time.Second))
			assert.Equal(t, "127.0.0.1", tok.Extra[vvtool.ExtraFetchedFrom])

			cfg.AccessKey = strings.ToLower(secretKey)
			_, err = cfg.FetchToken(context.Background())
			require.ErrorIs(t, err, shoptoken.ErrCredentials)
			assert.True(t, emu.Valid(tok.AccessToken), "a refused fetch kills nothing")
			assertNoSecret(t, err, tok.AccessToken, cfg.AccessKey)
		})
	}
}

// TestConfig_FetchToken_faults: the emulator's injected faults become typed errors. A token lost
// to a damaged answer is gone (the fetch killed the old one), which is why fetches are rare.
func TestConfig_FetchToken_faults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fault shoptokentest.Fault
		want  error // nil: the token is accepted
	}{
		{shoptokentest.FaultUnavailable, shoptoken.ErrUnavailable},
		{shoptokentest.FaultHTML, shoptoken.ErrUnavailable},
		{shoptokentest.FaultHTML200, shoptoken.ErrBadResponse},
		{shoptokentest.FaultTruncated, shoptoken.ErrBadResponse},
		{shoptokentest.FaultDrop, shoptoken.ErrUnavailable},
		// Numbers as strings: expires_in "259200000" is accepted rather than lose an issued token.
		{shoptokentest.FaultWrongTypes, nil},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			t.Parallel()
			emu := shoptokentest.NewVVTool()
			defer emu.Close()
			emu.FailNext(tt.fault, 1)
			tok, err := emuConfig(emu, nil).FetchToken(context.Background())
			assert.Equal(t, 1, emu.Stats().TokenRequests)
			if tt.want == nil {
				require.NoError(t, err)
				assert.True(t, emu.Valid(tok.AccessToken))
				assert.Equal(t, 3000*24*time.Hour, tok.Expiry.Sub(tok.IssuedAt))
				return
			}
			require.ErrorIs(t, err, tt.want)
			assertNoSecret(t, err)
		})
	}
}

func TestConfig_FetchToken_encoding(t *testing.T) {
	t.Parallel()
	want := url.Values{"grant_type": {"client_credentials"}, "client_id": {account}, "client_secret": {secretKey}}
	tests := []struct {
		name      string
		enc       vvtool.Encoding
		wantCtype string
	}{
		{"zero value is the seed's multipart", 0, "multipart/form-data"},
		{"Multipart", vvtool.Multipart, "multipart/form-data"},
		{"URLEncoded option", vvtool.URLEncoded, "application/x-www-form-urlencoded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, mock, log := mockConfig(t, 200, readFixture(t, "token_classic.json"))
			cfg.Encoding = tt.enc
			_, err := cfg.FetchToken(context.Background())
			require.NoError(t, err)
			assert.Equal(t, 1, mock.GetTotalCallCount())
			require.Len(t, log.forms, 1)
			assert.Equal(t, tt.wantCtype, log.ctype[0])
			assert.Equal(t, want, log.forms[0], "the same fields, none in the URL")
		})
	}

	t.Run("unknown encoding is refused before anything is sent", func(t *testing.T) {
		t.Parallel()
		cfg, mock, _ := mockConfig(t, 200, readFixture(t, "token_classic.json"))
		cfg.Encoding = vvtool.Encoding(7)
		_, err := cfg.FetchToken(context.Background())
		require.ErrorIs(t, err, shoptoken.ErrBadRequest)
		assert.Contains(t, err.Error(), "Config.Encoding")
		assert.Equal(t, 0, mock.GetTotalCallCount())
		_, err = vvtool.NewSource(cfg)
		require.ErrorIs(t, err, shoptoken.ErrBadRequest)
	})
}

// The SDK's own tests run against strict emulators, which accept only the documented multipart
// body: the default passes; the URLEncoded option is refused there (the platform is not
// confirmed to take it) and works against a lenient emulator.
func TestConfig_FetchToken_strictEmulator(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		enc     vvtool.Encoding
		lenient bool
		ok      bool
	}{
		{vvtool.Multipart, false, true},
		{vvtool.URLEncoded, false, false},
		{vvtool.URLEncoded, true, true},
		{vvtool.Multipart, true, true},
	} {
		var opts []shoptokentest.Option
		if tt.lenient {
			opts = append(opts, shoptokentest.Lenient())
		}
		emu := shoptokentest.NewVVTool(opts...)
		cfg := emuConfig(emu, nil)
		cfg.Encoding = tt.enc
		tok, err := cfg.FetchToken(context.Background())
		if tt.ok {
			require.NoError(t, err, "%v lenient=%v", tt.enc, tt.lenient)
			assert.True(t, emu.Valid(tok.AccessToken))
		} else {
			require.ErrorIs(t, err, shoptoken.ErrBadRequest, "%v lenient=%v", tt.enc, tt.lenient)
			assert.Zero(t, emu.Stats().Issued)
		}
		emu.Close()
	}
}
