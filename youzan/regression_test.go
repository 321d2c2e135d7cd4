package youzan_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
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

	cfg := youzan.Config{ClientID: "id", ClientSecret: secretClient, GrantID: "42587152",
		BaseURL: "https://yz.test", HTTPClient: &http.Client{Transport: mock}}
	store := shoptoken.NewMemoryStore()
	var clients []*youzan.Client
	for range 2 { // two processes of one fleet, same Store and key
		src, err := youzan.NewSource(cfg, shoptoken.WithStore(store, "youzan/42587152"),
			shoptoken.WithMinInterval(time.Millisecond))
		require.NoError(t, err)
		t.Cleanup(src.Close)
		clients = append(clients, youzan.NewClient(cfg, src))
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
	_, err := cfg.FetchToken(context.Background(), false)
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
