package youzan

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
)

// newSilent returns shop's silent Refresher for c.
func newSilent(t *testing.T, c Config, shop string) shoptoken.Refresher {
	t.Helper()
	st, err := newState(c, opToken, true, false)
	require.NoError(t, err)
	r, err := st.silent(shop)
	require.NoError(t, err)
	return r
}

// TestSilentRefresher_Refresh_reasons checks which refresh flag each reason sends.
func TestSilentRefresher_Refresh_reasons(t *testing.T) {
	t.Parallel()
	current := &shoptoken.Token{AccessToken: "current-token-000000000000000000", Expiry: time.Now().Add(time.Hour)}
	tests := []struct {
		name      string
		why       shoptoken.Reason
		current   *shoptoken.Token
		answers   []string // access tokens the platform hands out, in order
		wantFlags []bool
		wantToken string
	}{
		{"cold start", shoptoken.ReasonMissing, nil, []string{"a1"}, []bool{false}, "a1"},
		{"expired", shoptoken.ReasonExpired, current, []string{"a1"}, []bool{false}, "a1"},
		{"planned early refresh", shoptoken.ReasonEarly, current, []string{"a1"}, []bool{true}, "a1"},
		{"rejected, platform has a newer token", shoptoken.ReasonRejected, current, []string{"a1"}, []bool{false}, "a1"},
		{"rejected, platform returns the rejected token", shoptoken.ReasonRejected, current,
			[]string{current.AccessToken, "a2"}, []bool{false, true}, "a2"},
		{"rejected with no current token", shoptoken.ReasonRejected, nil, []string{"a1"}, []bool{false}, "a1"},
		{"expired, platform returns the same token", shoptoken.ReasonExpired, current,
			[]string{current.AccessToken, "a2"}, []bool{false, true}, "a2"},
		{"expired, refresh:true returns the same token too", shoptoken.ReasonExpired, current,
			[]string{current.AccessToken}, []bool{false, true}, current.AccessToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mock := httpmock.NewMockTransport()
			var (
				mu    sync.Mutex
				flags []bool
			)
			mock.RegisterResponder(http.MethodPost, "https://yz.test/auth/token", func(r *http.Request) (*http.Response, error) {
				var body struct {
					AuthorizeType string `json:"authorize_type"`
					Refresh       *bool  `json:"refresh"`
				}
				b, _ := io.ReadAll(r.Body)
				require.NoError(t, json.Unmarshal(b, &body))
				assert.Equal(t, "silent", body.AuthorizeType)
				require.NotNil(t, body.Refresh, "refresh is always sent")
				mu.Lock()
				defer mu.Unlock()
				flags = append(flags, *body.Refresh)
				at := tt.answers[min(len(flags), len(tt.answers))-1]
				return httpmock.NewStringResponse(200, fmt.Sprintf(
					`{"success":true,"code":200,"data":{"expires":%d,"scope":"shop","access_token":%q,"authority_id":"1","refresh_token":"r"},"message":null}`,
					time.Now().Add(7*24*time.Hour).UnixMilli(), at)), nil
			})
			r := newSilent(t, Config{ClientID: "id", ClientSecret: "secret", BaseURL: "https://yz.test",
				HTTPClient: &http.Client{Transport: mock}}, "1")
			tok, err := r.Refresh(context.Background(), tt.current, tt.why)
			require.NoError(t, err)
			assert.Equal(t, tt.wantToken, tok.AccessToken)
			assert.Equal(t, tt.wantFlags, flags)
		})
	}
}

// TestSilentRefresher_Refresh_forcesOnce: when the token that refresh:true produced is refused
// as well, the refresher does not force again (no storm of token kills), and asks only
// refresh:false, which is harmless.
func TestSilentRefresher_Refresh_forcesOnce(t *testing.T) {
	t.Parallel()
	mock := httpmock.NewMockTransport()
	var flags []bool
	answers := []string{"old-token", "forced-token", "forced-token", "forced-token"}
	mock.RegisterResponder(http.MethodPost, "https://yz.test/auth/token", func(r *http.Request) (*http.Response, error) {
		var body struct{ Refresh bool }
		b, _ := io.ReadAll(r.Body)
		require.NoError(t, json.Unmarshal(b, &body))
		flags = append(flags, body.Refresh)
		return httpmock.NewStringResponse(200, fmt.Sprintf(
			`{"success":true,"code":200,"data":{"expires":%d,"access_token":%q},"message":null}`,
			time.Now().Add(7*24*time.Hour).UnixMilli(), answers[len(flags)-1])), nil
	})
	r := newSilent(t, Config{ClientID: "id", ClientSecret: "secret", BaseURL: "https://yz.test", HTTPClient: &http.Client{Transport: mock}}, "1")
	ctx := context.Background()

	tok, err := r.Refresh(ctx, &shoptoken.Token{AccessToken: "old-token"}, shoptoken.ReasonRejected)
	require.NoError(t, err)
	assert.Equal(t, "forced-token", tok.AccessToken)
	tok, err = r.Refresh(ctx, tok, shoptoken.ReasonRejected)
	require.NoError(t, err)
	assert.Equal(t, "forced-token", tok.AccessToken)
	tok, err = r.Refresh(ctx, tok, shoptoken.ReasonRejected)
	require.NoError(t, err)
	assert.Equal(t, "forced-token", tok.AccessToken)
	assert.Equal(t, []bool{false, true, false, false}, flags)
}

func TestToolRefresher_Refresh_keepsRefreshTokenWhenNotRotated(t *testing.T) {
	t.Parallel()
	mock := httpmock.NewMockTransport()
	mock.RegisterResponder(http.MethodPost, "https://yz.test/auth/token", httpmock.NewStringResponder(200, fmt.Sprintf(
		`{"success":true,"code":200,"data":{"expires":%d,"access_token":"new-access-0000000000"},"message":null}`,
		time.Now().Add(7*24*time.Hour).UnixMilli())))
	st, err := newState(Config{ClientID: "id", ClientSecret: "secret", BaseURL: "https://yz.test", HTTPClient: &http.Client{Transport: mock}}, opRefresh, true, false)
	require.NoError(t, err)
	r := &toolRefresher{app: st, shop: "42"}
	rexp := time.Now().Add(20 * 24 * time.Hour)
	cur := &shoptoken.Token{AccessToken: "old", RefreshToken: "refresh-0000000000", RefreshExpiry: rexp, Subject: "42"}
	tok, err := r.Refresh(context.Background(), cur, shoptoken.ReasonEarly)
	require.NoError(t, err)
	assert.Equal(t, "new-access-0000000000", tok.AccessToken)
	assert.Equal(t, "refresh-0000000000", tok.RefreshToken)
	assert.Equal(t, rexp, tok.RefreshExpiry)
	assert.Equal(t, "42", tok.Subject)

	_, err = r.Refresh(context.Background(), nil, shoptoken.ReasonMissing)
	require.ErrorIs(t, err, shoptoken.ErrReauthorize)
	assert.Equal(t, 1, mock.GetTotalCallCount())
}

func TestTokenKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		op, code, msg string
		status        int
		want          error
	}{
		{opToken, "1103", "Client does not exist", 200, shoptoken.ErrCredentials},
		{opToken, "1103", "client 不存在", 200, shoptoken.ErrCredentials},
		{opToken, "1103", "client_id不存在", 200, shoptoken.ErrCredentials},
		{opToken, "1103", "app mismatch", 200, shoptoken.ErrCredentials},
		{opToken, "1103", "grant does not exist", 200, shoptoken.ErrReauthorize},
		{opToken, "1103", "授权关系不存在 (grant does not exist)", 200, shoptoken.ErrReauthorize},
		{opToken, "1103", "店铺未授权该应用", 200, shoptoken.ErrReauthorize},
		{opToken, "1103", "", 200, shoptoken.ErrReauthorize},
		{opToken, "500", "internal", 200, shoptoken.ErrUnavailable},
		{opToken, "1301", "系统繁忙", 200, shoptoken.ErrUnavailable},
		{opToken, "1301", "weird", 502, shoptoken.ErrUnavailable},
		{opToken, "1301", "Too many requests", 200, shoptoken.ErrRateLimited},
		{opToken, "1301", "refresh_token 无效", 200, shoptoken.ErrBadResponse},
		{opRefresh, "1301", "refresh_token 无效", 200, shoptoken.ErrReauthorize},
		{opRefresh, "1301", "Refresh Token expired", 200, shoptoken.ErrReauthorize},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tokenKind(tt.op, tt.code, tt.msg, tt.status), "%s %s %q", tt.op, tt.code, tt.msg)
	}
}

func TestGatewayKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code, msg string
		want      error
	}{
		{"4001", "", shoptoken.ErrBadRequest},
		{"4005", "", shoptoken.ErrBadRequest},
		{"4007", "content type multipart/form-data not supported", shoptoken.ErrBadRequest},
		{"4007", "请求IP不在白名单内", shoptoken.ErrPermission},
		{"4007", "source ip 1.2.3.4 not allowed", shoptoken.ErrPermission},
		{"4007", "ip whitelist", shoptoken.ErrPermission},
		{"4101", "", shoptoken.ErrRateLimited},
		{"4201", "", shoptoken.ErrTokenInvalid},
		{"4202", "", shoptoken.ErrTokenInvalid},
		{"4203", "", shoptoken.ErrTokenInvalid},
		{"4204", "", shoptoken.ErrPermission},
		{"4999", "", shoptoken.ErrBadRequest},
		{"5001", "", shoptoken.ErrUnavailable},
		{"5002", "", shoptoken.ErrBadRequest},
		{"5003", "", shoptoken.ErrUnavailable},
		{"5999", "", shoptoken.ErrUnavailable},
		{"abc", "", shoptoken.ErrBadResponse},
		{"7", "", shoptoken.ErrBadResponse},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, gatewayKind(tt.code, tt.msg), "%s %q", tt.code, tt.msg)
	}
}

func TestRefreshExpiry(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	// A fresh 7-day token: 28 days from now.
	assert.Equal(t, now.Add(28*24*time.Hour), refreshExpiry(now.Add(7*24*time.Hour), now))
	// A token handed back by refresh:false with 2 days left was issued 5 days ago.
	assert.Equal(t, now.Add(23*24*time.Hour), refreshExpiry(now.Add(2*24*time.Hour), now))
	// An expiry further than 7 days out: never later than 28 days from now.
	assert.Equal(t, now.Add(28*24*time.Hour), refreshExpiry(now.Add(30*24*time.Hour), now))
}
