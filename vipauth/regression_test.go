package vipauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

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
	src, err := vipauth.NewSource(vipauth.Config{ClientID: "id"}, shoptoken.WithToken(tok))
	require.NoError(t, err)
	defer src.Close()
	api := vipauth.NewClient(src, nil)

	resp, err := api.Get(srv.URL + "/api/account/info")
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
	const key = "vip/OPEN1"
	cfg := vipauth.Config{ClientID: "id"}
	a, err := vipauth.NewSource(cfg, shoptoken.WithStore(store, key))
	require.NoError(t, err)
	defer a.Close()
	b, err := vipauth.NewSource(cfg, shoptoken.WithStore(store, key))
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
