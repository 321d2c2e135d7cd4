package youzan_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/youzan"
)

// TestRegression_forcedGuardIsPerProcess: the gateway refuses every token (a persistent fault, e.g.
// a proxy that moves access_token out of the query). The package documentation promises that
// "a persistent fault never becomes a storm of destructive fetches": refresh:true is forced at
// most once. The guard used to live in one process's memory, so in a fleet sharing a Store each
// process forced once per token the *other* produced, and refresh:true calls (each killing the
// token every process holds) grew with every round of calls. It now travels with the token
// (Token.Extra[ExtraForced]).
func TestRegression_forcedGuardIsPerProcess(t *testing.T) {
	mock := httpmock.NewMockTransport()
	var (
		mu      sync.Mutex
		current string
		n       int
		forced  int
	)
	issue := func() { n++; current = fmt.Sprintf("AT%038d", n) }
	mock.RegisterResponder("POST", "https://yz.test/auth/token", func(req *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(req.Body)
		mu.Lock()
		defer mu.Unlock()
		if strings.Contains(string(b), `"refresh":true`) || current == "" {
			if current != "" {
				forced++
			}
			issue()
		}
		return httpmock.NewBytesResponse(200, tokenAnswer(current, "RT"+current[2:], time.Now().Add(7*24*time.Hour))), nil
	})
	mock.RegisterResponder("POST", `=~^https://yz\.test/api/`, httpmock.NewStringResponder(200,
		`{"gw_err_resp":{"trace_id":"t","err_code":4203,"err_msg":"access_token不存在"}}`))

	cfg := youzan.Config{ClientID: "id", ClientSecret: secretClient,
		BaseURL: "https://yz.test", HTTPClient: &http.Client{Transport: mock}}
	store := shoptoken.NewMemoryStore()
	var clients []*youzan.Client
	for range 2 { // two processes of one fleet, same Store and key
		src, err := youzan.NewSource(cfg, grant, shoptoken.WithStore(store),
			shoptoken.WithMinInterval(time.Millisecond))
		require.NoError(t, err)
		t.Cleanup(src.Close)
		clients = append(clients, mustClient(t, cfg, src))
	}
	ctx := context.Background()
	for round := range 4 {
		for _, cl := range clients {
			for range 2 {
				err := cl.Call(ctx, "youzan.shop.get", "3.0.0", nil, nil)
				require.Error(t, err, "round %d", round)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	assert.LessOrEqual(t, forced, 2, "refresh:true calls under a persistent fault (each kills every process's token)")
}

// TestRegression_tokenErrorSnippetLeaksEscapedData: a token answer whose data is a JSON string (a
// shape parseToken accepts, see object()) and whose envelope has a member of a type jsonx.Bool does
// not read ("success":[1]) fails to decode; the error's body snippet then shows the access and
// refresh tokens whole, because the snippet's redaction does not see member names inside an
// escaped JSON string.
func TestRegression_tokenErrorSnippetLeaksEscapedData(t *testing.T) {
	cfg, mock := mockConfig(t)
	mock.RegisterResponder("POST", tokenURL, httpmock.NewStringResponder(200,
		`{"success":[1],"code":200,"data":"{\"access_token\":\"`+secretAccess+`\",\"refresh_token\":\"`+secretRefresh+`\"}"}`))
	_, err := cfg.FetchToken(context.Background(), grant, false)
	require.Error(t, err)
	var e *shoptoken.Error
	require.True(t, errors.As(err, &e))
	requireNoSecret(t, errText(err))
}

// TestRegression_refreshAnswerDroppedOverExpiry: a refresh_token grant answer that succeeded (the
// old refresh token is dead from this moment [seed]) but whose expires is not an absolute ms
// epoch (here a relative lifetime, 604800 s, as Youzan's older OAuth answered) is read as a
// 1970 date, and parseToken then rejects the whole answer as "token expired on arrival"
// (ErrBadResponse). The new refresh token in it is thrown away: the chain is lost although the
// platform delivered it. An implausible expiry should fall back to the documented 7 days.
func TestRegression_refreshAnswerDroppedOverExpiry(t *testing.T) {
	cfg, mock := mockConfig(t)
	mock.RegisterResponder("POST", tokenURL, httpmock.NewStringResponder(200,
		`{"success":true,"code":200,"data":{"expires":604800,"scope":"shop","access_token":"`+secretAccess2+`","authority_id":"42587152","refresh_token":"`+secretRefresh+`"},"message":null}`))
	tok, err := cfg.Refresh(context.Background(), "RTold0000000000000000000000000000000000")
	require.NoError(t, err, "a delivered rotation must not be discarded")
	assert.Equal(t, secretRefresh, tok.RefreshToken)
}

// expires beyond year 9999 (or, in seconds, a lifetime past the horizon) was taken as the
// token's Expiry. Such a token cannot be JSON-encoded, so a Store could never save it: a tool
// app's rotated refresh token lived only in memory and was lost on restart. Every expiry an
// answer states is now bounded (after now, at most ten years ahead); outside that, the documented
// 7 days are assumed.
func TestRegression_expiresBeyondYear9999(t *testing.T) {
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		data string // members of data besides the tokens
	}{
		{"expires in year 10000", `"expires":253402300800000`},
		{"expires at the int64 limit", `"expires":9223372036854775807`},
		{"expires 20 years ahead", `"expires":` + fmt.Sprint(now.AddDate(20, 0, 0).UnixMilli())},
		{"expires as seconds past 9999", `"expires":99999999999`},
		{"expires_in past the horizon", `"expires_in":9223372036854775807`},
		{"expires_in as a huge float", `"expires_in":1e300`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, op := range []string{"token", "refresh"} {
				cfg, mock := mockConfig(t)
				cfg.Clock = shoptokentest.NewClock(now)
				mock.RegisterResponder("POST", tokenURL, httpmock.NewStringResponder(200,
					`{"success":true,"code":200,"data":{`+tt.data+`,"access_token":"`+secretAccess2+`","authority_id":"42587152","refresh_token":"`+secretRefresh+`"},"message":null}`))
				var (
					tok *shoptoken.Token
					err error
				)
				if op == "token" {
					tok, err = cfg.FetchToken(context.Background(), grant, true)
				} else {
					tok, err = cfg.Refresh(context.Background(), "RTold0000000000000000000000000000000000")
				}
				require.NoError(t, err, op)
				assert.Equal(t, now.Add(youzan.AccessTokenLifetime), tok.Expiry, op)
				assert.Equal(t, now.Add(youzan.RefreshTokenLifetime), tok.RefreshExpiry, op)
				_, err = json.Marshal(tok)
				assert.NoError(t, err, "%s: the token can be persisted", op)
			}
		})
	}
}

// Through a tool app's Cache with a Store: the rotation carried by an answer whose expires is past
// year 9999 is saved before use, and a restarted process continues the chain from the store.
func TestRegression_expiresBeyondYear9999_persisted(t *testing.T) {
	ctx := context.Background()
	cfg, mock := mockConfig(t)
	mock.RegisterResponder("POST", tokenURL, httpmock.NewStringResponder(200,
		`{"success":true,"code":200,"data":{"expires":253402300800000,"access_token":"`+secretAccess2+`","authority_id":"42587152","refresh_token":"`+secretRefresh+`"},"message":null}`))
	st, err := filestore.New(t.TempDir()) // a store that writes JSON, as every persistent one does
	require.NoError(t, err)
	var saveFailed atomic.Int32
	src, err := youzan.NewToolSource(cfg, grant, shoptoken.WithStore(st), shoptoken.WithMinInterval(0),
		shoptoken.WithToken(&shoptoken.Token{RefreshToken: "RTold0000000000000000000000000000000000"}),
		shoptoken.WithEvents(func(e shoptoken.Event) {
			if e.Kind == shoptoken.EventSaveFailed {
				saveFailed.Add(1)
			}
		}))
	require.NoError(t, err)
	defer src.Close()
	tok, err := src.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, secretRefresh, tok.RefreshToken)
	stored, _, err := st.Load(ctx, "youzan/id/42587152")
	require.NoError(t, err)
	require.NotNil(t, stored)
	assert.Equal(t, secretRefresh, stored.RefreshToken, "the rotated refresh token is in the store")
	assert.Zero(t, saveFailed.Load())

	// A restart: the chain goes on from the store, with the saved expiry.
	again, err := youzan.NewToolSource(cfg, grant, shoptoken.WithStore(st))
	require.NoError(t, err)
	defer again.Close()
	cur, err := again.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, secretRefresh, cur.RefreshToken)
	assert.Equal(t, 1, mock.GetTotalCallCount(), "the restarted process read the store, not the platform")
}

// A 401 from the token endpoint was ErrTokenInvalid when its body was HTML (KindForStatus(401)),
// and whatever its code said otherwise. The only credentials a token request presents are the
// app's: a 401 there is ErrCredentials for every provider, whatever the body.
func TestRegression_tokenEndpoint401IsCredentials(t *testing.T) {
	for name, body := range map[string]string{
		"HTML":              `<html><head><title>401 Authorization Required</title></head><body>nginx</body></html>`,
		"text":              `Unauthorized`,
		"JSON, no envelope": `{"message":"Unauthorized"}`,
		"JSON, code 1004":   `{"success":false,"code":1004,"message":"授权已过期"}`,
		"gateway error":     `{"gw_err_resp":{"trace_id":"t","err_code":4201,"err_msg":"invalid"}}`,
		"empty":             ``,
	} {
		t.Run(name, func(t *testing.T) {
			cfg, mock := mockConfig(t)
			mock.RegisterResponder("POST", tokenURL, httpmock.NewStringResponder(401, body))
			_, err := cfg.FetchToken(context.Background(), grant, false)
			require.ErrorIs(t, err, shoptoken.ErrCredentials)
			_, err = cfg.Refresh(context.Background(), "RTold0000000000000000000000000000000000")
			require.ErrorIs(t, err, shoptoken.ErrCredentials)
			var e *shoptoken.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, 401, e.StatusCode)
		})
	}
}
