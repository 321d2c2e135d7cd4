package veapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/filestore"
)

// TestRegression_clientErrorShowsVEKey: NewClient's documentation told the caller to add vekey to
// the request, and the only place veapi reads it is the query. Any transport failure then came
// back from the returned *http.Client as a *url.Error that prints the whole URL, vekey included
// (Go builds it from the caller's request, above the Transport). NewClient now adds vekey itself, on
// the copy that is sent, so the caller's URL never holds it.
func TestRegression_clientErrorShowsVEKey(t *testing.T) {
	src, err := NewSource(Config{VEKey: testVEKey, BaseURL: mockBase}, "shop-1",
		shoptoken.WithToken(&shoptoken.Token{AccessToken: fixtureAccess, RefreshToken: testRefresh,
			Expiry: time.Now().Add(30 * 24 * time.Hour)}))
	require.NoError(t, err)
	defer src.Close()
	down := httpmock.NewMockTransport() // no responder: every request fails in transport
	hc, err := NewClient(Config{VEKey: testVEKey, BaseURL: mockBase, HTTPClient: &http.Client{Transport: down}}, src)
	require.NoError(t, err)

	_, err = hc.HTTPClient().Get(mockBase + "/vip/goods?id=1")
	require.Error(t, err)
	assertNoSecret(t, []string{testVEKey, fixtureAccess}, errTexts(err)...)

	// And the request that is sent carries both secrets.
	var sent *http.Request
	up := httpmock.NewMockTransport()
	up.RegisterResponder("GET", `=~^http://veapi\.test/vip/goods`, func(r *http.Request) (*http.Response, error) {
		sent = r
		return httpmock.NewStringResponse(200, `{"error":"0","data":{}}`), nil
	})
	hc, err = NewClient(Config{VEKey: testVEKey, BaseURL: mockBase, HTTPClient: &http.Client{Transport: up}}, src)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodGet, mockBase+"/vip/goods?id=1", nil)
	require.NoError(t, err)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.NotNil(t, sent)
	assert.Equal(t, testVEKey, sent.URL.Query().Get("vekey"))
	assert.Equal(t, fixtureAccess, sent.URL.Query().Get("sessionkey"))
	assert.Equal(t, "1", sent.URL.Query().Get("id"))
	assert.NotContains(t, resp.Request.URL.String(), testVEKey, "Response.Request is the caller's request")

	_, err = NewClient(Config{}, src)
	assert.ErrorIs(t, err, shoptoken.ErrCredentials, "an empty VEKey is refused")
}

// TestRegression_rejectionRotatesChainEveryCall: an API keeps refusing the sessionkey for a reason
// a new token does not fix (the message says 授权无效 for this API, say). Every call then makes
// the Cache redeem the refresh token again: each call rotates the chain (the package's own
// words: "each rotation is a chance to lose it"), with no guard like youzan's "forced once".
// A token issued by a rejection-driven refresh and refused at once should not trigger another.
func TestRegression_rejectionRotatesChainEveryCall(t *testing.T) {
	mock := httpmock.NewMockTransport()
	var (
		mu        sync.Mutex
		refreshes int
	)
	mock.RegisterResponder("POST", refreshURL, func(*http.Request) (*http.Response, error) {
		mu.Lock()
		refreshes++
		n := refreshes
		mu.Unlock()
		now := time.Now()
		return httpmock.NewStringResponse(200, fmt.Sprintf(
			`{"error":"0","msg":"ok","data":{"access_token":"AT%038d","refresh_token":"RT%038d","create_at":%d,"expires_in":7775999,"expires_time":%d,"refresh_expires_time":%d},"request_id":"r"}`,
			n, n, now.UnixMilli(), now.Add(90*24*time.Hour).UnixMilli(), now.Add(180*24*time.Hour).UnixMilli())), nil
	})
	mock.RegisterResponder("GET", `=~^http://veapi\.test/vip/goods`, httpmock.NewStringResponder(200,
		`{"error":"10020","msg":"sessionkey无效","request_id":"x"}`))

	cfg := Config{VEKey: testVEKey, App: testApp, BaseURL: mockBase, HTTPClient: &http.Client{Transport: mock}}
	src, err := NewSource(cfg, "shop",
		shoptoken.WithToken(&shoptoken.Token{RefreshToken: testRefresh}),
		shoptoken.WithStore(shoptoken.NewMemoryStore()),
		shoptoken.WithMinInterval(time.Millisecond)) // the guard must not rest on the 15 s spacing alone
	require.NoError(t, err)
	defer src.Close()
	_, err = src.Token(context.Background())
	require.NoError(t, err)
	hc := mustClient(t, cfg, src).HTTPClient()
	for range 5 {
		resp, err := hc.Get(mockBase + "/vip/goods?id=1")
		if err == nil {
			resp.Body.Close()
		}
	}
	mu.Lock()
	defer mu.Unlock()
	assert.LessOrEqual(t, refreshes, 2, "chain rotations for 5 calls refused for a reason a new token does not fix")
}

// TestRegression_guardStillAdoptsFromStore: while the client does not rotate again for a token an
// API refused right after a rotation, a newer token another process stored is still adopted (a
// store read, no platform call).
func TestRegression_guardStillAdoptsFromStore(t *testing.T) {
	ctx := context.Background()
	var live atomic.Value
	live.Store("T0")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sk := r.URL.Query().Get("sessionkey")
		if r.URL.Path == "/perm" || sk != live.Load().(string) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"error":"0"}`)
	}))
	defer srv.Close()
	st := shoptoken.NewMemoryStore()
	var n, calls atomic.Int32
	src, err := shoptoken.NewCache(shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
		calls.Add(1)
		a := fmt.Sprintf("P%d", n.Add(1))
		live.Store(a)
		return &shoptoken.Token{AccessToken: a, RefreshToken: "r" + a, Expiry: time.Now().Add(time.Hour)}, nil
	}), shoptoken.WithStore(st), shoptoken.WithKey(shoptoken.Key{Platform: "veapi", App: testApp, Shop: "k"}), shoptoken.WithMinInterval(0),
		shoptoken.WithToken(&shoptoken.Token{AccessToken: "T0", RefreshToken: "rT0", Expiry: time.Now().Add(time.Hour)}))
	require.NoError(t, err)
	defer src.Close()
	hc := mustClient(t, Config{VEKey: testVEKey}, src).HTTPClient()
	resp, err := hc.Get(srv.URL + "/perm") // T0 refused, rotate to P1, P1 refused: guard notes P1
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Another process of the fleet rotates P1 away and stores P2.
	_, ver, _ := st.Load(ctx, "veapi/"+testApp+"/k")
	live.Store("P2")
	if _, err := st.Save(ctx, "veapi/"+testApp+"/k", &shoptoken.Token{AccessToken: "P2", RefreshToken: "rP2", Expiry: time.Now().Add(time.Hour)}, ver); err != nil {
		t.Fatal(err)
	}
	resp, err = hc.Get(srv.URL + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	t.Logf("status %d, platform calls %d, current %s", resp.StatusCode, calls.Load(), src.Current().AccessToken)
	if calls.Load() != 1 {
		t.Errorf("platform calls: %d, want 1 (the one rotation)", calls.Load())
	}
	if resp.StatusCode != 200 {
		t.Errorf("a working token P2 is in the store, but the request failed with %d", resp.StatusCode)
	}
}

const reviewVEKey = "VEKEY-SECRET-0123456789abcdef"

// TestRegression_NewClient_vekeyInRedirect: an API host that answers with a redirect echoing
// the query (an http->https or trailing-slash redirect does this), to a host that is down: the
// *url.Error must show neither vekey nor sessionkey.
func TestRegression_NewClient_vekeyInRedirect(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+dead+r.URL.Path+"?"+r.URL.RawQuery, http.StatusMovedPermanently)
	}))
	defer srv.Close()
	src, err := shoptoken.NewCache(shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
		return nil, nil
	}), shoptoken.WithToken(&shoptoken.Token{AccessToken: "SESSION-SECRET-0123456789", Expiry: time.Now().Add(time.Hour)}))
	require.NoError(t, err)
	hc, err := NewClient(Config{VEKey: reviewVEKey}, src)
	if err != nil {
		t.Fatal(err)
	}
	_, err = hc.HTTPClient().Get(srv.URL + "/vip/goods?page=1")
	if err == nil {
		t.Fatal("the hop to a closed port must fail")
	}
	if err != nil && strings.Contains(err.Error(), reviewVEKey) {
		t.Errorf("vekey in the error string")
	}
	if err != nil && strings.Contains(err.Error(), "SESSION-SECRET") {
		t.Errorf("sessionkey in the error string")
	}
}

// Timestamps past year 9999 (or past the ten-year horizon) in a renewal answer used to reach the
// token: create_at became IssuedAt unchecked, and an answer whose expiry candidates were all
// implausible left Expiry zero. A token holding a time past 9999 cannot be JSON-encoded, so no
// Store could save the rotated refresh token. Now every time is bounded: IssuedAt is dropped when
// far from our clock, and the expiry falls back to the documented 90 days.
func TestRegression_timesBeyondYear9999(t *testing.T) {
	now := seedNow
	tests := []struct {
		name string
		data string
	}{
		{"every time in year 10000", `"create_at":253402300800000,"expires_time":253402300800000,"refresh_expires_time":253402300800000,"expires_in":7775999`},
		{"create_at at the int64 limit", `"create_at":9223372036854775807,"expires_in":7775999`},
		{"expires_in past the horizon", `"create_at":1673427493000,"expires_in":9000000000`},
		{"nothing usable", `"expires_time":-1,"expires_in":"soon","refresh_expires_time":1e300`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mock := httpmock.NewMockTransport()
			mock.RegisterResponder(http.MethodPost, refreshURL, httpmock.NewStringResponder(200,
				`{"error":"0","msg":"ok","data":{"access_token":"`+fixtureAccess+`","refresh_token":"`+fixtureRefresh+`",`+tt.data+`},"request_id":"r"}`))
			log, _ := newLogger()
			tok, err := mockConfig(mock, log).Refresh(context.Background(), testRefresh)
			require.NoError(t, err, "the answer carries the next refresh token: never dropped")
			assert.Equal(t, fixtureRefresh, tok.RefreshToken)
			assert.True(t, tok.Expiry.After(now) && !tok.Expiry.After(now.AddDate(10, 0, 1)), "expiry %v", tok.Expiry)
			for _, tm := range []time.Time{tok.Expiry, tok.RefreshExpiry, tok.IssuedAt} {
				assert.True(t, tm.IsZero() || (tm.Year() >= 2000 && tm.Year() <= 9999), "%v", tm)
			}
			_, err = json.Marshal(tok)
			assert.NoError(t, err, "the token can be persisted")
		})
	}
}

// Through a Cache with a Store that writes JSON: the rotation is saved, and a restarted process
// goes on from it.
func TestRegression_timesBeyondYear9999_persisted(t *testing.T) {
	ctx := context.Background()
	mock := httpmock.NewMockTransport()
	mock.RegisterResponder(http.MethodPost, refreshURL, httpmock.NewStringResponder(200,
		`{"error":"0","msg":"ok","data":{"access_token":"`+fixtureAccess+`","refresh_token":"`+fixtureRefresh+`","create_at":253402300800000,"expires_time":253402300800000},"request_id":"r"}`))
	st, err := filestore.New(t.TempDir())
	require.NoError(t, err)
	cfg := mockConfig(mock, nil)
	cfg.Clock = nil // the Cache's clock and veapi's are one: real time
	src, err := NewSource(cfg, "shop", shoptoken.WithStore(st), shoptoken.WithToken(&shoptoken.Token{RefreshToken: testRefresh}))
	require.NoError(t, err)
	defer src.Close()
	_, err = src.Token(ctx)
	require.NoError(t, err)
	stored, _, err := st.Load(ctx, "veapi/"+testApp+"/shop")
	require.NoError(t, err)
	require.NotNil(t, stored)
	assert.Equal(t, fixtureRefresh, stored.RefreshToken, "the rotated refresh token is in the store")

	again, err := NewSource(cfg, "shop", shoptoken.WithStore(st))
	require.NoError(t, err)
	defer again.Close()
	cur, err := again.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, fixtureRefresh, cur.RefreshToken)
	assert.Equal(t, 1, mock.GetTotalCallCount(), "the restart read the store")
}

// A 401 from the renewal endpoint was ErrTokenInvalid when its body was HTML, and classified by
// its message otherwise. The only credential the app presents there is the vekey: a 401 is
// ErrCredentials for every provider's token endpoint, whatever the body.
func TestRegression_tokenEndpoint401IsCredentials(t *testing.T) {
	for name, body := range map[string]string{
		"HTML":                     `<html><head><title>401 Authorization Required</title></head><body>nginx</body></html>`,
		"text":                     `Unauthorized`,
		"JSON, no envelope":        `{"message":"Unauthorized"}`,
		"JSON, refresh token dead": `{"error":"10012","msg":"refresh_token已失效","request_id":"r"}`,
		"empty":                    ``,
	} {
		t.Run(name, func(t *testing.T) {
			mock := httpmock.NewMockTransport()
			mock.RegisterResponder(http.MethodPost, refreshURL, httpmock.NewStringResponder(401, body))
			_, err := mockConfig(mock, nil).Refresh(context.Background(), testRefresh)
			require.ErrorIs(t, err, shoptoken.ErrCredentials)
			var e *shoptoken.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, 401, e.StatusCode)
		})
	}
}
