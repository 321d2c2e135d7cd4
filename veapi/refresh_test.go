package veapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shoptokentest"
)

func TestConfig_Refresh_success(t *testing.T) {
	wantExpiry := time.UnixMilli(1681203493000)
	tests := []struct {
		name        string
		fixture     string
		wantExpiry  time.Time
		wantRefresh time.Time // zero: unknown
		wantIssued  time.Time
		wantExtra   map[string]string
	}{
		{"seed example", "refresh_ok.json", wantExpiry, time.UnixMilli(1689392370000), seedNow,
			map[string]string{"is_expired": "false", "status": "NORMAL", "request_id": "nGvWVHH"}},
		{"error as number 0", "refresh_ok_error_number.json", wantExpiry, time.UnixMilli(1689392370000), seedNow,
			map[string]string{"is_expired": "false", "status": "NORMAL", "request_id": "nGvWVHH"}},
		{"numbers and booleans as strings", "refresh_ok_wrong_types.json", wantExpiry, time.UnixMilli(1689392370000), seedNow,
			map[string]string{"is_expired": "false", "status": "NORMAL", "request_id": "nGvWVHH"}},
		{"no expires_time: create_at + expires_in", "refresh_ok_no_expires_time.json",
			seedNow.Add(7775999 * time.Second), time.UnixMilli(1689392370000), seedNow,
			map[string]string{"is_expired": "true", "status": "NORMAL", "request_id": "nGvWVHH"}},
		{"expires_time in seconds is skipped", "refresh_ok_expires_time_seconds.json",
			seedNow.Add(7775999 * time.Second), time.UnixMilli(1689392370000), seedNow,
			map[string]string{"is_expired": "false", "status": "NORMAL", "request_id": "nGvWVHH"}},
		{"tokens only: the documented 90 days", "refresh_ok_minimal.json", seedNow.Add(DefaultTokenLifetime), time.Time{}, time.Time{},
			map[string]string{"request_id": "nGvWVHH"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mock := httpmock.NewMockTransport()
			mock.RegisterResponder(http.MethodPost, refreshURL, httpmock.NewBytesResponder(200, fixture(t, tt.fixture)))
			log, logs := newLogger()

			tok, err := mockConfig(mock, log).Refresh(context.Background(), testRefresh)

			require.NoError(t, err)
			assert.Equal(t, 1, mock.GetTotalCallCount())
			assert.Equal(t, fixtureAccess, tok.AccessToken)
			assert.Equal(t, fixtureRefresh, tok.RefreshToken)
			assert.True(t, tt.wantExpiry.Equal(tok.Expiry), "expiry %v, want %v", tok.Expiry, tt.wantExpiry)
			assert.True(t, tt.wantRefresh.Equal(tok.RefreshExpiry), "refresh expiry %v, want %v", tok.RefreshExpiry, tt.wantRefresh)
			assert.True(t, tt.wantIssued.Equal(tok.IssuedAt), "issued %v, want %v", tok.IssuedAt, tt.wantIssued)
			assert.Equal(t, tt.wantExtra, tok.Extra)
			assert.Empty(t, tok.Subject)
			assertNoSecret(t, []string{testVEKey, testRefresh, fixtureAccess, fixtureRefresh},
				append(tokTexts(tok), logs.String())...)
		})
	}
}

func TestConfig_Refresh_implausibleTimes(t *testing.T) {
	// The seed's answer read in 2026: every timestamp is in the past. The expiry then comes from our
	// clock and expires_in, and the grant end is left unknown, so the Cache does not refresh (and
	// rotate) again at once.
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	mock := httpmock.NewMockTransport()
	mock.RegisterResponder(http.MethodPost, refreshURL, httpmock.NewBytesResponder(200, fixture(t, "refresh_ok.json")))
	log, logs := newLogger()
	c := mockConfig(mock, log)
	c.Clock = shoptokentest.NewClock(now)

	tok, err := c.Refresh(context.Background(), testRefresh)

	require.NoError(t, err)
	assert.True(t, now.Add(7775999*time.Second).Equal(tok.Expiry), "expiry %v", tok.Expiry)
	assert.True(t, tok.RefreshExpiry.IsZero())
	assert.Contains(t, logs.String(), "refresh_expires_time is implausible")
}

func TestConfig_Refresh_request(t *testing.T) {
	mock := httpmock.NewMockTransport()
	var got *http.Request
	var body url.Values
	mock.RegisterResponder(http.MethodPost, refreshURL, func(r *http.Request) (*http.Response, error) {
		got = r
		b, _ := io.ReadAll(r.Body)
		body, _ = url.ParseQuery(string(b))
		return httpmock.NewBytesResponse(200, fixture(t, "refresh_ok.json")), nil
	})

	_, err := mockConfig(mock, nil).Refresh(context.Background(), testRefresh)

	require.NoError(t, err)
	require.NotNil(t, got)
	assert.Equal(t, http.MethodPost, got.Method)
	assert.Empty(t, got.URL.RawQuery, "no secret travels in the URL")
	assert.Equal(t, "application/x-www-form-urlencoded", got.Header.Get("Content-Type"))
	assert.Equal(t, url.Values{"vekey": {testVEKey}, "refresh_token": {testRefresh}}, body)
}

func TestConfig_Refresh_platformErrors(t *testing.T) {
	tests := []struct {
		fixture  string
		status   int
		wantKind error
		wantCode string
		wantMsg  string
		wantID   string
	}{
		{"refresh_err_vekey.json", 200, shoptoken.ErrCredentials, "10001", "vekey错误", "qWeRtYu"},
		{"refresh_err_refresh_dead.json", 200, shoptoken.ErrReauthorize, "10012", "refresh_token已失效", "aSdFgHj"},
		{"refresh_err_refresh_expired.json", 200, shoptoken.ErrReauthorize, "10013", "refresh_token已过期,请重新授权", "zXcVbNm"},
		{"refresh_err_refresh_unknown.json", 200, shoptoken.ErrReauthorize, "10011", "refresh_token不存在", "pOiUyTr"},
		{"refresh_err_refresh_missing.json", 200, shoptoken.ErrBadRequest, "10002", "refresh_token不能为空", "lKjHgFd"},
		{"refresh_err_rate_limited.json", 200, shoptoken.ErrRateLimited, "10030", "请求过于频繁,请稍后再试", "mNbVcXz"},
		{"refresh_err_busy.json", 200, shoptoken.ErrUnavailable, "500", "系统繁忙", "QwErTyU"},
		{"refresh_err_unrecognised.json", 200, shoptoken.ErrUnavailable, "-1", "操作失败", "AsDfGhJ"},
		{"refresh_err_membership.json", 200, shoptoken.ErrCredentials, "10040", "您的会员已到期,请续费后调用", "ZxCvBnM"},
		{"refresh_err_code_number.json", 200, shoptoken.ErrReauthorize, "10012", "refresh_token已失效", "PoIuYtR"},
		{"refresh_err_refresh_dead.json", 500, shoptoken.ErrReauthorize, "10012", "refresh_token已失效", "aSdFgHj"},
		{"refresh_err_unrecognised.json", 503, shoptoken.ErrUnavailable, "-1", "操作失败", "AsDfGhJ"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			t.Parallel()
			mock := httpmock.NewMockTransport()
			mock.RegisterResponder(http.MethodPost, refreshURL, httpmock.NewBytesResponder(tt.status, fixture(t, tt.fixture)))
			log, logs := newLogger()

			tok, err := mockConfig(mock, log).Refresh(context.Background(), testRefresh)

			require.Error(t, err)
			assert.Nil(t, tok)
			require.ErrorIs(t, err, tt.wantKind)
			var e *shoptoken.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "veapi", e.Platform)
			assert.Equal(t, "refresh", e.Op)
			assert.Equal(t, tt.status, e.StatusCode)
			assert.Equal(t, tt.wantCode, e.Code)
			assert.Equal(t, tt.wantMsg, e.Message)
			assert.Equal(t, tt.wantID, e.RequestID)
			assert.Equal(t, 1, mock.GetTotalCallCount(), "a refresh is never repeated")
			assertNoSecret(t, []string{testVEKey, testRefresh}, append(errTexts(err), logs.String())...)
		})
	}
}

func TestConfig_Refresh_malformed(t *testing.T) {
	huge := append([]byte(`{"error":"0","msg":"`), bytes.Repeat([]byte("x"), 1<<20+10)...)
	huge = append(huge, `"}`...)
	tests := []struct {
		name     string
		status   int
		body     []byte
		wantKind error
		wantText string // in the message
	}{
		{"HTML 502", 502, fixture(t, "bad_html_502.html"), shoptoken.ErrUnavailable, "HTML"},
		{"HTML 200 portal", 200, fixture(t, "bad_portal_200.html"), shoptoken.ErrBadResponse, "HTML"},
		{"empty 200", 200, nil, shoptoken.ErrBadResponse, "empty"},
		{"truncated", 200, fixture(t, "bad_truncated.json"), shoptoken.ErrBadResponse, "truncated"},
		{"JSON null", 200, []byte("null"), shoptoken.ErrBadResponse, "null"},
		{"top-level array", 200, fixture(t, "bad_top_array.json"), shoptoken.ErrBadResponse, "wrong JSON type"},
		{"no error field", 200, fixture(t, "bad_no_error_field.json"), shoptoken.ErrBadResponse, "no error field"},
		{"error is a boolean", 200, fixture(t, "bad_error_bool.json"), shoptoken.ErrBadResponse, "neither a string nor a number"},
		{"error is null", 200, fixture(t, "bad_error_null.json"), shoptoken.ErrBadResponse, "no error field"},
		{"data is an array", 200, fixture(t, "bad_data_array.json"), shoptoken.ErrBadResponse, "without a data object"},
		{"data is null", 200, fixture(t, "bad_data_null.json"), shoptoken.ErrBadResponse, "without a data object"},
		{"data missing", 200, fixture(t, "bad_data_missing.json"), shoptoken.ErrBadResponse, "without a data object"},
		{"empty access_token", 200, fixture(t, "bad_empty_access.json"), shoptoken.ErrBadResponse, "without an access_token"},
		{"access_token a number", 200, fixture(t, "bad_access_number.json"), shoptoken.ErrBadResponse, "without an access_token"},
		{"refresh_token missing", 200, fixture(t, "bad_missing_refresh.json"), shoptoken.ErrBadResponse, "chain cannot continue"},
		{"unknown envelope", 200, fixture(t, "bad_unknown_envelope.json"), shoptoken.ErrBadResponse, "no error field"},
		{"huge body", 200, huge, shoptoken.ErrBadResponse, "exceeds"},
		{"503 text", 503, []byte("Service Unavailable"), shoptoken.ErrUnavailable, "503"},
		{"500 Spring error JSON", 500, fixture(t, "bad_spring_500.json"), shoptoken.ErrUnavailable, "Internal Server Error"},
		{"404 JSON without envelope", 404, []byte(`{"message":"not found"}`), shoptoken.ErrBadRequest, "404"},
		{"429 empty", 429, nil, shoptoken.ErrRateLimited, "429"},
		{"echoed secret in message", 200,
			[]byte(`{"error":"10012","msg":"refresh_token ` + testRefresh + ` 已失效 (` + testVEKey + `)"}`),
			shoptoken.ErrReauthorize, "已失效"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mock := httpmock.NewMockTransport()
			mock.RegisterResponder(http.MethodPost, refreshURL, httpmock.NewBytesResponder(tt.status, tt.body))
			log, logs := newLogger()

			tok, err := mockConfig(mock, log).Refresh(context.Background(), testRefresh)

			require.Error(t, err)
			assert.Nil(t, tok)
			require.ErrorIs(t, err, tt.wantKind)
			var e *shoptoken.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "veapi", e.Platform)
			assert.Contains(t, err.Error(), tt.wantText)
			assert.Equal(t, 1, mock.GetTotalCallCount(), "a refresh is never repeated")
			assertNoSecret(t, []string{testVEKey, testRefresh, fixtureAccess, fixtureRefresh},
				append(errTexts(err), logs.String())...)
		})
	}
}

// TestConfig_Refresh_requestID: the answer's request_id reaches the error on every path, also a
// non-2xx answer without veapi's error member (a gateway's JSON), and never shows a secret.
func TestConfig_Refresh_requestID(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		wantKind error
		wantID   string
	}{
		{"gateway JSON without error member", 502, `{"msg":"upstream failed","request_id":"gw-42"}`, shoptoken.ErrUnavailable, "gw-42"},
		{"no error member on 200", 200, `{"msg":"?","request_id":"r-200"}`, shoptoken.ErrBadResponse, "r-200"},
		{"platform error", 200, `{"error":"10012","msg":"refresh_token已失效","request_id":"r-10012"}`, shoptoken.ErrReauthorize, "r-10012"},
		{"request_id echoing the refresh token", 200, `{"error":"10012","msg":"refresh_token已失效","request_id":"` + testRefresh + `"}`,
			shoptoken.ErrReauthorize, "RTOK…(40)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mock := httpmock.NewMockTransport()
			mock.RegisterResponder(http.MethodPost, refreshURL, httpmock.NewStringResponder(tt.status, tt.body))

			_, err := mockConfig(mock, nil).Refresh(context.Background(), testRefresh)

			require.ErrorIs(t, err, tt.wantKind)
			var e *shoptoken.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.wantID, e.RequestID)
			assertNoSecret(t, []string{testVEKey, testRefresh}, errTexts(err)...)
		})
	}
}

func TestConfig_Refresh_networkFailure(t *testing.T) {
	t.Run("sent: not repeated", func(t *testing.T) {
		mock := httpmock.NewMockTransport()
		mock.RegisterResponder(http.MethodPost, refreshURL, httpmock.NewErrorResponder(io.ErrUnexpectedEOF))
		_, err := mockConfig(mock, nil).Refresh(context.Background(), testRefresh)
		require.ErrorIs(t, err, shoptoken.ErrUnavailable)
		assert.Equal(t, 1, mock.GetTotalCallCount())
	})
	t.Run("not connected: retried", func(t *testing.T) {
		mock := httpmock.NewMockTransport()
		mock.RegisterResponder(http.MethodPost, refreshURL, httpmock.NewErrorResponder(
			&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}))
		_, err := mockConfig(mock, nil).Refresh(context.Background(), testRefresh)
		require.ErrorIs(t, err, shoptoken.ErrUnavailable)
		assert.Equal(t, 3, mock.GetTotalCallCount(), "nothing was sent, so trying again is safe")
		assertNoSecret(t, []string{testVEKey, testRefresh}, errTexts(err)...)
	})
	t.Run("context cancelled", func(t *testing.T) {
		mock := httpmock.NewMockTransport()
		mock.RegisterResponder(http.MethodPost, refreshURL,
			httpmock.NewBytesResponder(200, fixture(t, "refresh_ok.json")).Delay(time.Second))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := mockConfig(mock, nil).Refresh(ctx, testRefresh)
		require.ErrorIs(t, err, shoptoken.ErrUnavailable)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

func TestConfig_Refresh_invalidConfig(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		refresh  string
		wantKind error
		wantText string
	}{
		{"no vekey", Config{BaseURL: mockBase}, testRefresh, shoptoken.ErrCredentials, "Config.VEKey"},
		{"blank vekey", Config{VEKey: "  ", BaseURL: mockBase}, testRefresh, shoptoken.ErrCredentials, "Config.VEKey"},
		{"relative base URL", Config{VEKey: testVEKey, BaseURL: "api.veapi.cn"}, testRefresh, shoptoken.ErrBadRequest, "Config.BaseURL"},
		{"base URL with a query", Config{VEKey: testVEKey, BaseURL: mockBase + "?vekey=" + testVEKey}, testRefresh, shoptoken.ErrBadRequest, "Config.BaseURL"},
		{"ftp base URL", Config{VEKey: testVEKey, BaseURL: "ftp://veapi.test"}, testRefresh, shoptoken.ErrBadRequest, "Config.BaseURL"},
		{"no refresh token", Config{VEKey: testVEKey, BaseURL: mockBase}, "", shoptoken.ErrReauthorize, "no refresh token: authorize the shop first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mock := httpmock.NewMockTransport()
			tt.cfg.HTTPClient = &http.Client{Transport: mock}
			_, err := tt.cfg.Refresh(context.Background(), tt.refresh)
			require.ErrorIs(t, err, tt.wantKind)
			assert.Contains(t, err.Error(), tt.wantText)
			assert.Equal(t, 0, mock.GetTotalCallCount())
			assertNoSecret(t, []string{testVEKey, testRefresh}, errTexts(err)...)
		})
	}
}

func TestConfig_Refresh_baseURLTrailingSlash(t *testing.T) {
	mock := httpmock.NewMockTransport()
	mock.RegisterResponder(http.MethodPost, refreshURL, httpmock.NewBytesResponder(200, fixture(t, "refresh_ok.json")))
	c := mockConfig(mock, nil)
	c.BaseURL = mockBase + "/"
	_, err := c.Refresh(context.Background(), testRefresh)
	require.NoError(t, err)
	assert.Equal(t, 1, mock.GetTotalCallCount())
}

func TestClassify(t *testing.T) {
	tests := []struct {
		msg    string
		status int
		want   error
	}{
		{"vekey错误", 200, shoptoken.ErrCredentials},
		{"vekey不能为空", 200, shoptoken.ErrCredentials},
		{"接口秘钥无效", 200, shoptoken.ErrCredentials},
		{"invalid key", 200, shoptoken.ErrCredentials},
		{"refresh_token已失效", 200, shoptoken.ErrReauthorize},
		{"refresh_token已过期,请重新授权", 200, shoptoken.ErrReauthorize},
		{"refresh_token不存在", 200, shoptoken.ErrReauthorize},
		{"Refresh token is invalid", 200, shoptoken.ErrReauthorize},
		{"用户未授权", 200, shoptoken.ErrReauthorize},
		{"授权已取消", 200, shoptoken.ErrReauthorize},
		{"请求过于频繁", 200, shoptoken.ErrRateLimited},
		{"vekey调用太频繁", 200, shoptoken.ErrRateLimited},
		{"今日调用次数已用完", 200, shoptoken.ErrRateLimited},
		{"rate limit exceeded", 200, shoptoken.ErrRateLimited},
		{"系统繁忙,请稍后再试", 200, shoptoken.ErrUnavailable},
		{"获取token错误,请稍后再试", 200, shoptoken.ErrUnavailable},
		{"没有接口调用权限", 200, shoptoken.ErrCredentials},
		{"您的会员已到期", 200, shoptoken.ErrCredentials},
		{"refresh_token不能为空", 200, shoptoken.ErrBadRequest},
		{"参数错误", 200, shoptoken.ErrBadRequest},
		{"操作失败", 200, shoptoken.ErrUnavailable},
		{"", 200, shoptoken.ErrUnavailable},
		{"", 429, shoptoken.ErrRateLimited},
		{"", 502, shoptoken.ErrUnavailable},
		{"something odd", 404, shoptoken.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			assert.Equal(t, tt.want, classify(tt.msg, tt.status))
		})
	}
}

func TestErrorCode(t *testing.T) {
	tests := []struct {
		raw    string
		want   string
		wantOK bool
	}{
		{`"0"`, "0", true},
		{`0`, "0", true},
		{`"10012"`, "10012", true},
		{`10012`, "10012", true},
		{`0.0`, "0.0", true},
		{`-0`, "-0", true},
		{`" 0"`, " 0", true},
		{`""`, "", true},
		{`false`, "", false},
		{`null`, "", false},
		{`{}`, "", false},
		{``, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, ok := errorCode([]byte(tt.raw))
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.raw == `"0"` || tt.raw == `0`, ok && got == "0", "only 0 is success")
		})
	}
}

func TestConfig_String_redacts(t *testing.T) {
	c := Config{VEKey: testVEKey, BaseURL: mockBase}
	log, logs := newLogger()
	log.Info("config", "cfg", c)
	texts := []string{c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c),
		fmt.Sprintf("%s", c), fmt.Sprintf("%q", c), fmt.Sprint(&c), logs.String()}
	assertNoSecret(t, []string{testVEKey}, texts...)
	assert.Equal(t, "veapi.Config{VEKey: VEKE…(40), BaseURL: "+mockBase+"}", c.String())
	assert.Contains(t, logs.String(), `"vekey":"VEKE…(40)"`)
}

// Both shapes of a renewal answer, against the emulator: a new refresh token (the old one dies),
// or the one that was sent (the platform's example answer), which keeps working.
func TestConfig_Refresh_refreshShapes(t *testing.T) {
	for _, same := range []bool{false, true} {
		var opts []shoptokentest.Option
		if same {
			opts = append(opts, shoptokentest.WithSameRefreshToken())
		}
		emu := newEmu(t, opts...)
		cfg := emuConfig(emu)
		rt := emu.NewGrant("u")
		tok, err := cfg.Refresh(context.Background(), rt)
		require.NoError(t, err)
		assert.Equal(t, same, tok.RefreshToken == rt, "same=%v", same)
		next, err := cfg.Refresh(context.Background(), tok.RefreshToken)
		require.NoError(t, err, "same=%v: the answer's refresh token continues the chain", same)
		assert.True(t, emu.Valid(next.AccessToken))
		assert.False(t, emu.Valid(tok.AccessToken))
		_, err = cfg.Refresh(context.Background(), rt)
		if same {
			require.NoError(t, err, "an unrotated refresh token stays good")
		} else {
			require.ErrorIs(t, err, shoptoken.ErrReauthorize, "a rotated refresh token is dead")
		}
	}
}
