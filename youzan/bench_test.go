package youzan_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/youzan"
)

// BenchmarkFetchToken compares Config.FetchToken with the same silent-authorization request
// written by hand with one resty client: the JSON body marshalled by resty, the answer decoded by
// resty. Both go to the same emulator endpoint over loopback through the same *http.Client (with a
// Timeout, as the SDK's default has), so the difference is what the SDK adds per token fetch
// (validation, redaction, the typed answer, the Token).
//
//	go test -run '^$' -bench FetchToken -benchmem -count 6 ./youzan
func BenchmarkFetchToken(b *testing.B) {
	yz := shoptokentest.NewYouzan()
	b.Cleanup(yz.Close)
	ctx := context.Background()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}, Timeout: 30 * time.Second}
	cfg := youzan.Config{ClientID: "id", ClientSecret: "secret", BaseURL: yz.URL, HTTPClient: hc}

	type request struct {
		ClientID      string `json:"client_id"`
		ClientSecret  string `json:"client_secret"`
		AuthorizeType string `json:"authorize_type"`
		GrantID       string `json:"grant_id"`
		Refresh       bool   `json:"refresh"`
	}
	rc := resty.NewWithClient(hc)
	// raw resty: the request, and the access token and its expiry from the answer.
	b.Run("raw resty", func(b *testing.B) {
		type answer struct {
			Success bool `json:"success"`
			Data    struct {
				AccessToken string `json:"access_token"`
				Expires     int64  `json:"expires"`
			} `json:"data"`
		}
		b.ReportAllocs()
		for b.Loop() {
			var ans answer
			resp, err := rc.R().SetContext(ctx).
				SetBody(request{ClientID: "id", ClientSecret: "secret", AuthorizeType: "silent", GrantID: shoptokentest.YouzanGrantID}).
				SetResult(&ans).
				Post(yz.URL + "/auth/token")
			if err != nil || resp.StatusCode() != 200 || !ans.Success || ans.Data.AccessToken == "" {
				b.Fatalf("%v %v %+v", err, resp, ans)
			}
		}
	})
	// by hand: the same request with resty, and from the answer all that FetchToken's Token holds
	// (access and refresh token, expiry, scopes, shop).
	b.Run("by hand", func(b *testing.B) {
		type answer struct {
			Success bool `json:"success"`
			Data    struct {
				AccessToken  string `json:"access_token"`
				RefreshToken string `json:"refresh_token"`
				Expires      int64  `json:"expires"`
				Scope        string `json:"scope"`
				AuthorityID  string `json:"authority_id"`
			} `json:"data"`
		}
		b.ReportAllocs()
		for b.Loop() {
			var ans answer
			resp, err := rc.R().SetContext(ctx).
				SetBody(request{ClientID: "id", ClientSecret: "secret", AuthorizeType: "silent", GrantID: shoptokentest.YouzanGrantID}).
				SetResult(&ans).
				Post(yz.URL + "/auth/token")
			if err != nil || resp.StatusCode() != 200 || !ans.Success || ans.Data.AccessToken == "" {
				b.Fatalf("%v %v %+v", err, resp, ans)
			}
			tok := &shoptoken.Token{AccessToken: ans.Data.AccessToken, RefreshToken: ans.Data.RefreshToken,
				Expiry: time.UnixMilli(ans.Data.Expires), Scope: strings.Fields(ans.Data.Scope), Subject: ans.Data.AuthorityID}
			if tok.Subject != shoptokentest.YouzanGrantID {
				b.Fatal(tok.Subject)
			}
		}
	})
	b.Run("FetchToken", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tok, err := cfg.FetchToken(ctx, shoptokentest.YouzanGrantID, false)
			if err != nil || tok.AccessToken == "" {
				b.Fatal(err)
			}
		}
	})
}
