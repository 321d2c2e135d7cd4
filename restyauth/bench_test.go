package restyauth_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/restyauth"
)

// BenchmarkUse is the cost of restyauth on a resty request, against a stub transport: the token set
// by hand (resty's SetAuthToken, or a query parameter), and restyauth with a Bearer and a query
// policy.
func BenchmarkUse(b *testing.B) {
	tok := &shoptoken.Token{AccessToken: "2F5A520D99AA3E70C37058A00C4B6F864BDC6704", Expiry: time.Now().Add(time.Hour)}
	stub := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
	})
	src := shoptoken.StaticSource(tok)
	cases := []struct {
		name  string
		setup func(c *resty.Client)
		req   func(c *resty.Client) *resty.Request
	}{
		{"by_hand_bearer", func(*resty.Client) {}, func(c *resty.Client) *resty.Request { return c.R().SetAuthToken(tok.AccessToken) }},
		{"restyauth_bearer", func(c *resty.Client) { _ = restyauth.Use(c, src, shoptoken.Policy{}) },
			func(c *resty.Client) *resty.Request { return c.R() }},
		{"by_hand_query", func(*resty.Client) {}, func(c *resty.Client) *resty.Request {
			return c.R().SetQueryParam("access_token", tok.AccessToken)
		}},
		{"restyauth_query", func(c *resty.Client) {
			_ = restyauth.Use(c, src, shoptoken.Policy{Attach: shoptoken.AttachQuery("access_token")})
		}, func(c *resty.Client) *resty.Request { return c.R() }},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			c := resty.New().SetTransport(stub)
			bc.setup(c)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.req(c).Get("http://api.test/x?a=1"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
