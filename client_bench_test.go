package shoptoken

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// stubBase answers every request at once with the same 200, so that a benchmark measures the
// RoundTripper in front of it, not a network.
type stubBase struct{ resp *http.Response }

func (s stubBase) RoundTrip(*http.Request) (*http.Response, error) { return s.resp, nil }

// handHeader is what a careful user writes by hand to put a token in a header: a copy of the
// request (a RoundTripper must not modify the caller's) with Authorization set.
type handHeader struct {
	src  TokenSource
	base http.RoundTripper
}

func (h handHeader) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := h.src.Token(req.Context())
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	return h.base.RoundTrip(r)
}

// handQuery is the same for a token in the access_token query parameter.
type handQuery struct {
	src  TokenSource
	base http.RoundTripper
}

func (h handQuery) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := h.src.Token(req.Context())
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	if r.URL.RawQuery == "" {
		r.URL.RawQuery = "access_token=" + url.QueryEscape(tok.AccessToken)
	} else {
		r.URL.RawQuery += "&access_token=" + url.QueryEscape(tok.AccessToken)
	}
	return h.base.RoundTrip(r)
}

// BenchmarkTransport compares a Transport with the hand-written RoundTripper doing the same
// attachment, both over a stub base and a warm Cache: the difference is what Transport costs per
// request (rejection check, redirect scrubbing, Settled).
//
//	go test -run '^$' -bench Transport -benchmem -count 6 .
func BenchmarkTransport(b *testing.B) {
	const access = "AT9q2Wm7Xz4Nv8Pb3Kj7Lr1Hc5Gs9Fd2Ea6Ty0Uz"
	src := newTestCache(b, RefresherFunc(func(context.Context, *Token, Reason) (*Token, error) {
		return &Token{AccessToken: access, Expiry: time.Now().Add(time.Hour)}, nil
	}))
	b.Cleanup(func() { src.Close() })
	if _, err := src.Token(context.Background()); err != nil {
		b.Fatal(err)
	}
	base := stubBase{&http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody}}
	req, err := http.NewRequest(http.MethodGet, "https://api.example.test/orders?page=1&size=50", nil)
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name string
		rt   http.RoundTripper
	}{
		{"header/hand", handHeader{src, base}},
		{"header/Transport", &Transport{Source: src, Base: base}},
		{"query/hand", handQuery{src, base}},
		{"query/Transport", &Transport{Source: src, Base: base, Attach: AttachQuery("access_token")}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := tc.rt.RoundTrip(req)
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatal(err)
				}
				_ = resp.Body.(io.Closer)
			}
		})
	}
}
