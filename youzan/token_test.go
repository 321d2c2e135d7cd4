package youzan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/youzan"
)

func TestConfig_FetchToken_seedAnswer(t *testing.T) {
	t.Parallel()
	cfg, mock := mockConfig(t)
	rec := newRecorder(fixture(t, "token_ok_seed.json"))
	mock.RegisterResponder(http.MethodPost, tokenURL, rec.respond)
	issued := time.Date(2020, 3, 2, 2, 25, 18, 116e6, time.UTC) // 7 days before the seed's expires
	cfg.Clock = shoptokentest.NewClock(issued)

	tok, err := cfg.FetchToken(context.Background(), grant, false)
	require.NoError(t, err)
	assert.Equal(t, "774ae7b675f8db2aa65d38bf5de710b", tok.AccessToken)
	assert.Equal(t, "93fdf9ffac4cba63a7044b64d5w9603", tok.RefreshToken)
	assert.Equal(t, "42587152", tok.Subject)
	assert.True(t, tok.Expiry.Equal(time.UnixMilli(1583720718116)), "expiry %v", tok.Expiry)
	assert.Equal(t, "2020-03-09T02:25:18.116Z", tok.Expiry.UTC().Format(time.RFC3339Nano))
	assert.Equal(t, issued, tok.IssuedAt)
	assert.True(t, tok.RefreshExpiry.Equal(issued.Add(28*24*time.Hour)), "refresh expiry %v", tok.RefreshExpiry)
	assert.Len(t, tok.Scope, 52)
	assert.Equal(t, "beauty_appointment", tok.Scope[0])
	assert.Equal(t, "virtualticket", tok.Scope[len(tok.Scope)-1])
	assert.Contains(t, tok.Scope, "pay-customs-declaration")

	require.Equal(t, 1, rec.count())
	assert.Equal(t, "application/json", rec.ctypes[0])
	assert.JSONEq(t, `{"client_id":"id","client_secret":"`+secretClient+`","authorize_type":"silent","grant_id":"42587152","refresh":false}`, rec.raw[0])
}

func TestConfig_FetchToken_refreshIsJSONBoolean(t *testing.T) {
	t.Parallel()
	cfg, mock := mockConfig(t)
	rec := newRecorder(tokenAnswer(secretAccess, secretRefresh, time.Now().Add(7*24*time.Hour)))
	mock.RegisterResponder(http.MethodPost, tokenURL, rec.respond)

	_, err := cfg.FetchToken(context.Background(), grant, true)
	require.NoError(t, err)
	_, err = cfg.FetchToken(context.Background(), grant, false)
	require.NoError(t, err)
	assert.Contains(t, rec.raw[0], `"refresh":true`)
	assert.Contains(t, rec.raw[1], `"refresh":false`)
	assert.Equal(t, []any{true, false}, rec.refreshFlags())
}

func TestConfig_FetchToken_errors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fixture string
		code    string
		want    error
	}{
		{"token_1000.json", "1000", shoptoken.ErrCredentials},
		{"token_1004.json", "1004", shoptoken.ErrReauthorize},
		{"token_1005.json", "1005", shoptoken.ErrReauthorize},
		{"token_1103_client.json", "1103", shoptoken.ErrCredentials},
		{"token_1103_client_zh.json", "1103", shoptoken.ErrCredentials},
		{"token_1103_mismatch.json", "1103", shoptoken.ErrCredentials},
		{"token_1103_grant.json", "1103", shoptoken.ErrReauthorize},
		{"token_1103_grant_zh.json", "1103", shoptoken.ErrReauthorize},
		{"token_1103_unknown.json", "1103", shoptoken.ErrReauthorize},
		{"token_1105.json", "1105", shoptoken.ErrCredentials},
		{"token_unknown.json", "9999", shoptoken.ErrBadResponse},
		{"token_throttled.json", "1200", shoptoken.ErrRateLimited},
		{"token_no_access_token.json", "", shoptoken.ErrBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			t.Parallel()
			cfg, mock := mockConfig(t)
			mock.RegisterResponder(http.MethodPost, tokenURL, httpmock.NewBytesResponder(200, fixture(t, tt.fixture)))

			tok, err := cfg.FetchToken(context.Background(), grant, false)
			require.Error(t, err)
			assert.Nil(t, tok)
			require.ErrorIs(t, err, tt.want)
			var e *shoptoken.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "youzan", e.Platform)
			assert.Equal(t, "token", e.Op)
			assert.Equal(t, 200, e.StatusCode)
			assert.Equal(t, tt.code, e.Code)
			if tt.code != "" {
				var want struct{ Message string }
				require.NoError(t, json.Unmarshal(fixture(t, tt.fixture), &want))
				assert.Equal(t, want.Message, e.Message)
				assert.True(t, strings.HasPrefix(err.Error(), "youzan: token: "+tt.code+" "), err.Error())
			}
			assert.Equal(t, 1, mock.GetTotalCallCount(), "a token call is never repeated")
			requireNoSecret(t, errText(err))
		})
	}
}

func TestConfig_FetchToken_missingField(t *testing.T) {
	t.Parallel()
	full := youzan.Config{ClientID: "id", ClientSecret: "secret", BaseURL: "http://127.0.0.1:1"}
	tests := []struct {
		name  string
		edit  func(*youzan.Config)
		field string
	}{
		{"no client id", func(c *youzan.Config) { c.ClientID = "" }, "ClientID"},
		{"no client secret", func(c *youzan.Config) { c.ClientSecret = "" }, "ClientSecret"},
		{"bad base url", func(c *youzan.Config) { c.BaseURL = "ftp://x" }, "BaseURL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := full
			tt.edit(&c)
			_, err := c.FetchToken(context.Background(), grant, false)
			require.ErrorIs(t, err, shoptoken.ErrBadRequest)
			assert.Contains(t, err.Error(), "Config."+tt.field)
			_, err = youzan.NewSource(c, grant)
			require.ErrorIs(t, err, shoptoken.ErrBadRequest)
			assert.Contains(t, err.Error(), "Config."+tt.field)
			_, err = youzan.NewToolSource(c, grant)
			require.ErrorIs(t, err, shoptoken.ErrBadRequest)
			assert.Contains(t, err.Error(), "Config."+tt.field)
			_, err = youzan.NewApp(c)
			require.ErrorIs(t, err, shoptoken.ErrBadRequest)
			assert.Contains(t, err.Error(), "Config."+tt.field)
			_, err = youzan.NewToolApp(c)
			require.ErrorIs(t, err, shoptoken.ErrBadRequest)
			assert.Contains(t, err.Error(), "Config."+tt.field)
			_, err = youzan.NewClient(c, shoptoken.StaticSource(&shoptoken.Token{AccessToken: "a"}))
			require.ErrorIs(t, err, shoptoken.ErrBadRequest)
			assert.Contains(t, err.Error(), "Config."+tt.field)
		})
	}
}

// TestConfig_FetchToken_badShop: a shop id that cannot be a kdt_id (decimal digits, at most 20)
// is refused by everything that takes one, before anything is sent.
func TestConfig_FetchToken_badShop(t *testing.T) {
	t.Parallel()
	srv := testkit.NewCounter(t, string(tokenAnswer(secretAccess, secretRefresh, time.Now().Add(time.Hour))))
	cfg := youzan.Config{ClientID: "id", ClientSecret: secretClient, BaseURL: srv.URL}
	app, err := youzan.NewApp(cfg)
	require.NoError(t, err)
	defer app.Close()
	ctx := context.Background()
	for _, shop := range []string{"", "abc", "4258715a", "-1", "1 2", "１２３", "123456789012345678901", "1/2", "42587152\n"} {
		_, err := cfg.FetchToken(ctx, shop, false)
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, "%q", shop)
		_, err = youzan.NewSource(cfg, shop)
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, "%q", shop)
		_, err = youzan.NewToolSource(cfg, shop)
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, "%q", shop)
		_, err = app.Token(ctx, shop)
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, "%q", shop)
		require.ErrorIs(t, app.Call(ctx, shop, "youzan.shop.get", "3.0.0", nil, nil), shoptoken.ErrBadRequest, "%q", shop)
	}
	assert.Zero(t, srv.Hits(), "nothing is sent")
	assert.Zero(t, app.Len(), "no Cache is made for a shop that cannot exist")
	_, err = cfg.FetchToken(ctx, "12345678901234567890", false)
	require.NoError(t, err, "20 digits is a kdt_id")
}

// TestConfig_FetchToken_malformed feeds the token endpoint's answer every way it can go wrong.
func TestConfig_FetchToken_malformed(t *testing.T) {
	t.Parallel()
	future := time.Now().Add(7 * 24 * time.Hour).UnixMilli()
	huge := append([]byte(`{"success":true,"code":200,"data":{"scope":"`), bytes.Repeat([]byte("a"), 1<<20+10)...)
	huge = append(huge, `"}}`...)
	tests := []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"html 502", 502, "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", shoptoken.ErrUnavailable},
		{"html 200", 200, "<!DOCTYPE html><html><body>请先登录 " + secretClient + "</body></html>", shoptoken.ErrBadResponse},
		{"empty 200", 200, "", shoptoken.ErrBadResponse},
		{"truncated", 200, `{"success":true,"code":200,"data":{"expires":1583720718116,"access_token":"` + secretAccess[:20], shoptoken.ErrBadResponse},
		{"null", 200, "null", shoptoken.ErrBadResponse},
		{"array", 200, `[{"success":true}]`, shoptoken.ErrBadResponse},
		{"access token is an object", 200, `{"success":true,"code":200,"data":{"expires":` + fmt.Sprint(future) + `,"access_token":{"v":"x"}}}`, shoptoken.ErrBadResponse},
		{"success is a word", 200, `{"success":"yes","code":200,"data":{"access_token":"` + secretAccess + `"}}`, shoptoken.ErrBadResponse},
		{"data is a string", 200, `{"success":true,"code":200,"data":"` + secretAccess + `"}`, shoptoken.ErrBadResponse},
		{"data is null", 200, `{"success":true,"code":200,"data":null,"message":null}`, shoptoken.ErrBadResponse},
		{"huge body", 200, string(huge), shoptoken.ErrBadResponse},
		{"unknown envelope", 200, `{"status":"ok","token":"` + secretAccess + `"}`, shoptoken.ErrBadResponse},
		{"error inside 200", 200, `{"success":false,"code":1000,"message":"client_secret ` + secretClient + ` 错误"}`, shoptoken.ErrCredentials},
		{"503 text", 503, "Service Unavailable", shoptoken.ErrUnavailable},
		{"500 unknown json", 500, `{"timestamp":1,"status":500,"error":"Internal Server Error"}`, shoptoken.ErrUnavailable},
		{"expired on arrival", 200, string(tokenAnswer(secretAccess, secretRefresh, time.Now().Add(-time.Minute))), shoptoken.ErrBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, mock := mockConfig(t)
			log, logs := newLogger()
			cfg.Logger = log
			mock.RegisterResponder(http.MethodPost, tokenURL, httpmock.NewStringResponder(tt.status, tt.body))
			tok, err := cfg.FetchToken(context.Background(), grant, true)
			require.Error(t, err)
			assert.Nil(t, tok)
			require.ErrorIs(t, err, tt.want, "%v", err)
			var e *shoptoken.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "youzan", e.Platform)
			requireNoSecret(t, errText(err))
			requireNoSecret(t, logs.String())
			assert.Equal(t, 1, mock.GetTotalCallCount())
		})
	}
}

// TestConfig_FetchToken_requestIDKept: a token answer that names a trace_id gives it to the
// error, also when the answer is not understood.
func TestConfig_FetchToken_requestIDKept(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"unknown JSON on 500", 500, `{"trace_id":"t-1","status":500}`, shoptoken.ErrUnavailable},
		{"unknown answer", 200, `{"trace_id":"t-1"}`, shoptoken.ErrBadResponse},
		{"envelope of the wrong types", 200, `{"trace_id":"t-1","success":"yes","code":200}`, shoptoken.ErrBadResponse},
		{"data of the wrong types", 200, `{"trace_id":"t-1","success":true,"code":200,"data":{"access_token":{"v":1}}}`, shoptoken.ErrBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, mock := mockConfig(t)
			mock.RegisterResponder(http.MethodPost, tokenURL, httpmock.NewStringResponder(tt.status, tt.body))
			_, err := cfg.FetchToken(context.Background(), grant, false)
			require.ErrorIs(t, err, tt.want, "%v", err)
			var e *shoptoken.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "t-1", e.RequestID)
			assert.Equal(t, tt.status, e.StatusCode)
		})
	}
}

// TestConfig_FetchToken_tolerantTypes: numbers as strings and back are accepted, because losing
// an answer whose token was issued costs more than a lenient read.
func TestConfig_FetchToken_tolerantTypes(t *testing.T) {
	t.Parallel()
	now := time.Now().Truncate(time.Millisecond)
	exp := now.Add(7 * 24 * time.Hour)
	tests := []struct {
		name string
		body string
	}{
		{"expires as string", fmt.Sprintf(`{"success":"true","code":"200","data":{"expires":"%d","access_token":"abc123def456","authority_id":42587152,"scope":"shop"},"message":null}`, exp.UnixMilli())},
		{"data as JSON string", fmt.Sprintf(`{"success":true,"code":200,"data":"{\"expires\":%d,\"access_token\":\"abc123def456\",\"authority_id\":\"42587152\",\"scope\":\"shop\"}"}`, exp.UnixMilli())},
		{"expires in seconds", fmt.Sprintf(`{"success":true,"code":200,"data":{"expires":%d,"access_token":"abc123def456","authority_id":"42587152","scope":"shop"}}`, exp.Unix())},
		{"no success field", fmt.Sprintf(`{"code":200,"data":{"expires":%d,"access_token":"abc123def456","authority_id":"42587152","scope":"shop"}}`, exp.UnixMilli())},
		// An issued token is not dropped over its expiry: the documented 7 days are assumed.
		{"expires is a word", `{"success":true,"code":200,"data":{"expires":"soon","access_token":"abc123def456","authority_id":"42587152","scope":"shop"}}`},
		{"expires is an object", `{"success":true,"code":200,"data":{"expires":{"ms":1},"access_token":"abc123def456","authority_id":"42587152","scope":"shop"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, mock := mockConfig(t)
			cfg.Clock = shoptokentest.NewClock(now) // the 7 days assumed count from the same instant
			mock.RegisterResponder(http.MethodPost, tokenURL, httpmock.NewStringResponder(200, tt.body))
			tok, err := cfg.FetchToken(context.Background(), grant, false)
			require.NoError(t, err)
			assert.Equal(t, "abc123def456", tok.AccessToken)
			assert.Equal(t, "42587152", tok.Subject)
			assert.Equal(t, []string{"shop"}, tok.Scope)
			assert.WithinDuration(t, exp, tok.Expiry, time.Second) // "expires in seconds" loses the milliseconds
			assert.True(t, tok.RefreshExpiry.IsZero(), "no refresh token, no refresh expiry")
		})
	}
}

func TestConfig_FetchToken_emulatorFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fault shoptokentest.Fault
		want  error // nil: the answer is still understood
	}{
		{shoptokentest.FaultUnavailable, shoptoken.ErrUnavailable},
		{shoptokentest.FaultHTML, shoptoken.ErrUnavailable},
		{shoptokentest.FaultHTML200, shoptoken.ErrBadResponse},
		{shoptokentest.FaultTruncated, shoptoken.ErrBadResponse},
		{shoptokentest.FaultDrop, shoptoken.ErrUnavailable},
		{shoptokentest.FaultWrongTypes, nil},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			t.Parallel()
			yz := shoptokentest.NewYouzan(shoptokentest.WithCredentials("id", secretClient), shoptokentest.WithGrants("42587152"))
			defer yz.Close()
			cfg := youzan.Config{ClientID: "id", ClientSecret: secretClient, BaseURL: yz.URL}
			yz.FailNext(tt.fault, 1)
			tok, err := cfg.FetchToken(context.Background(), grant, false)
			assert.Equal(t, 1, yz.Stats().TokenRequests, "never resent")
			if tt.want == nil {
				require.NoError(t, err)
				assert.True(t, yz.Valid(tok.AccessToken))
				return
			}
			require.ErrorIs(t, err, tt.want, "%v", err)
			requireNoSecret(t, errText(err))
			// refresh:false is non-destructive: the next call gets a working token.
			tok, err = cfg.FetchToken(context.Background(), grant, false)
			require.NoError(t, err)
			assert.True(t, yz.Valid(tok.AccessToken))
		})
	}
}

func TestConfig_ExchangeCode_request(t *testing.T) {
	t.Parallel()
	cfg, mock := mockConfig(t)
	rec := newRecorder(tokenAnswer(secretAccess, secretRefresh, time.Now().Add(7*24*time.Hour)))
	mock.RegisterResponder(http.MethodPost, tokenURL, rec.respond)

	tok, err := cfg.ExchangeCode(context.Background(), secretCode, "https://isv.example/callback")
	require.NoError(t, err)
	assert.Equal(t, secretAccess, tok.AccessToken)
	assert.Equal(t, secretRefresh, tok.RefreshToken)
	assert.JSONEq(t, `{"client_id":"id","client_secret":"`+secretClient+`","authorize_type":"authorization_code","code":"`+secretCode+`","redirect_uri":"https://isv.example/callback"}`, rec.raw[0])

	_, err = cfg.ExchangeCode(context.Background(), "", "https://isv.example/callback")
	require.ErrorIs(t, err, shoptoken.ErrBadRequest)
	assert.Equal(t, 1, rec.count())
}

func TestConfig_ExchangeCode_usedCode(t *testing.T) {
	t.Parallel()
	cfg, mock := mockConfig(t)
	mock.RegisterResponder(http.MethodPost, tokenURL, httpmock.NewBytesResponder(200, fixture(t, "token_1005.json")))
	_, err := cfg.ExchangeCode(context.Background(), secretCode, "https://isv.example/callback")
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	var e *shoptoken.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "exchange", e.Op)
	requireNoSecret(t, errText(err))
}

func TestConfig_Refresh_request(t *testing.T) {
	t.Parallel()
	cfg, mock := mockConfig(t)
	rec := newRecorder(tokenAnswer(secretAccess2, "RT-next-0000000000000000000000000000000", time.Now().Add(7*24*time.Hour)))
	mock.RegisterResponder(http.MethodPost, tokenURL, rec.respond)

	tok, err := cfg.Refresh(context.Background(), secretRefresh)
	require.NoError(t, err)
	assert.Equal(t, secretAccess2, tok.AccessToken)
	assert.JSONEq(t, `{"client_id":"id","client_secret":"`+secretClient+`","authorize_type":"refresh_token","refresh_token":"`+secretRefresh+`"}`, rec.raw[0])

	_, err = cfg.Refresh(context.Background(), "")
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	assert.Equal(t, 1, rec.count(), "no call without a refresh token")
}

func TestConfig_Refresh_deadRefreshToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
	}{
		{"1004", `{"success":false,"code":1004,"message":"refresh_token 无效或已被刷新"}`},
		{"1103 grant", `{"success":false,"code":1103,"message":"grant does not exist"}`},
		{"unknown code naming the refresh token", `{"success":false,"code":1301,"message":"refresh_token已失效"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, mock := mockConfig(t)
			mock.RegisterResponder(http.MethodPost, tokenURL, httpmock.NewStringResponder(200, tt.body))
			_, err := cfg.Refresh(context.Background(), secretRefresh)
			require.ErrorIs(t, err, shoptoken.ErrReauthorize)
			assert.True(t, shoptoken.IsPermanent(err))
			var e *shoptoken.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "refresh", e.Op)
			requireNoSecret(t, errText(err))
		})
	}
}

func TestConfig_FetchToken_secretsNeverShow(t *testing.T) {
	t.Parallel()
	cfg, mock := mockConfig(t)
	log, logs := newLogger()
	cfg.Logger = log
	answers := [][]byte{
		tokenAnswer(secretAccess, secretRefresh, time.Now().Add(time.Hour)),
		// Each failure echoes the secrets its request sent.
		[]byte(`{"success":false,"code":1000,"message":"client_secret ` + secretClient + ` wrong"}`),
		[]byte(`{"success":false,"code":1004,"message":"refresh_token ` + secretRefresh + ` expired"}`),
		[]byte(`<html>` + secretClient + ` ` + secretCode + `</html>`),
	}
	rec := newRecorder(answers...)
	mock.RegisterResponder(http.MethodPost, tokenURL, rec.respond)
	ctx := context.Background()

	tok, err := cfg.FetchToken(ctx, grant, false)
	require.NoError(t, err)
	out := fmt.Sprintf("%v %+v %#v %s %v %+v", tok, tok, tok, tok, *tok, cfg)
	out += fmt.Sprintf("%v %+v %#v %s %q", cfg, cfg, cfg, cfg, cfg)
	log.Info("token", "token", tok, "config", cfg)
	_, err1 := cfg.FetchToken(ctx, grant, true)
	_, err2 := cfg.Refresh(ctx, secretRefresh)
	_, err3 := cfg.ExchangeCode(ctx, secretCode, "https://isv.example/cb")
	for _, err := range []error{err1, err2, err3} {
		require.Error(t, err)
		out += errText(err)
		log.Error("failed", "err", err)
	}
	requireNoSecret(t, out)
	requireNoSecret(t, logs.String())
	assert.Contains(t, logs.String(), "httpx", "debug records were written")
	assert.True(t, errors.Is(err1, shoptoken.ErrCredentials))
}
