package vvtool

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shoptokentest"
)

// TestRefresher_Refresh_rejectWindow: a replacement token rejected within two minutes is not
// replaced; any other token is.
func TestRefresher_Refresh_rejectWindow(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tok := func(reason string, age time.Duration) *shoptoken.Token {
		return &shoptoken.Token{AccessToken: "old-token-0123456789", IssuedAt: now.Add(-age),
			Extra: map[string]string{ExtraFetchReason: reason, ExtraFetchedBy: "web-1", ExtraFetchedFrom: "10.0.0.5"}}
	}
	tests := []struct {
		name    string
		current *shoptoken.Token
		why     shoptoken.Reason
		fetch   bool
	}{
		{"cold start", nil, shoptoken.ReasonMissing, true},
		{"first token rejected at once", tok("missing", time.Second), shoptoken.ReasonRejected, true},
		{"replacement rejected at once", tok("rejected", time.Second), shoptoken.ReasonRejected, false},
		{"replacement rejected after 119 s", tok("rejected", 119*time.Second), shoptoken.ReasonRejected, false},
		{"replacement rejected after two minutes", tok("rejected", rejectWindow), shoptoken.ReasonRejected, true},
		{"replacement expired", tok("rejected", time.Second), shoptoken.ReasonExpired, true},
		{"token without history", &shoptoken.Token{AccessToken: "stored-by-v0-0123456789"}, shoptoken.ReasonRejected, true},
	}
	body, err := os.ReadFile(filepath.Join("testdata", "token_classic.json"))
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mock := httpmock.NewMockTransport()
			mock.RegisterResponder(http.MethodPost, "http://vv.test/oauth/token", httpmock.NewBytesResponder(200, body))
			cfg := Config{Account: "acct", AccessKey: "key-0123456789", TokenURL: "http://vv.test/oauth/token",
				HTTPClient: &http.Client{Transport: mock}, Clock: shoptokentest.NewClock(now)}
			r := &refresher{f: cfg.newFetcher()}
			got, err := r.Refresh(context.Background(), tt.current, tt.why)
			if tt.fetch {
				require.NoError(t, err)
				assert.Equal(t, 1, mock.GetTotalCallCount())
				assert.Equal(t, tt.why.String(), got.Extra[ExtraFetchReason])
				assert.Equal(t, now, got.IssuedAt)
				return
			}
			require.ErrorIs(t, err, shoptoken.ErrPermission)
			assert.Zero(t, mock.GetTotalCallCount())
			var e *shoptoken.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "token", e.Op)
			assert.Contains(t, e.Message, "by host web-1 (local address 10.0.0.5)")
			assert.Contains(t, e.Message, "binds a token to the IP address")
			assert.NotContains(t, e.Error(), "old-token-0123456789")
		})
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC) // the Config's clock, not the system's
	live := &shoptoken.Token{AccessToken: "live-token-0123456789", IssuedAt: now.Add(-3 * time.Second),
		Expiry: now.Add(time.Hour)}
	expired := &shoptoken.Token{AccessToken: "dead-token-0123456789", Expiry: now.Add(-time.Second)}
	old := &shoptoken.Token{AccessToken: "old-token-0123456789", IssuedAt: now.Add(-rejectWindow), Expiry: now.Add(time.Hour)}
	engine := &shoptoken.Error{Op: "refresh", Kind: shoptoken.ErrRateLimited, Message: "next platform call for this key is allowed in 57s (minimum interval)"}
	platformLimit := &shoptoken.Error{Platform: platform, Op: "token", Kind: shoptoken.ErrRateLimited, Code: "1001"}

	err := explain(live, engine, now)
	require.ErrorIs(t, err, shoptoken.ErrPermission)
	require.ErrorIs(t, err, shoptoken.ErrRateLimited, "the cause stays matchable")
	assert.Contains(t, err.Error(), "fetched 3s ago")
	assert.Contains(t, err.Error(), "allowed in 57s")

	assert.Same(t, platformLimit, explain(live, platformLimit, now), "the platform's own limit is not IP binding")
	assert.Same(t, engine, explain(expired, engine, now), "an expired token needs no explanation")
	assert.Same(t, engine, explain(old, engine, now), "a token fetched two minutes ago or more: an outage, not IP binding")
	assert.Same(t, engine, explain(nil, engine, now))
}
