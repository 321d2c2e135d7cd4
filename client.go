package shoptoken

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/shoptoken/shoptoken/internal/defaultclient"
	"github.com/shoptoken/shoptoken/internal/redact"
)

// Invalidator is a TokenSource that can be told a token was rejected. *Cache is one.
type Invalidator interface {
	TokenSource
	Invalidate(ctx context.Context, rejected *Token) (*Token, error)
}

// Transport is an http.RoundTripper that authorizes each request with a token from Source. When
// the platform rejects the token it calls Source.Invalidate (compare-and-refresh, so a burst of
// rejections causes one refresh) and sends the request once more with the new token, replaying the
// body through Request.GetBody. It never retries twice.
//
// The token is attached to a clone of the request, so the caller's *http.Request, the returned
// Response.Request and the URL in any *url.Error never carry it. When the http.Client follows a
// redirect to another host (scheme, host name or port differ), that request goes out without the
// token, and a token the server echoed in a redirect's Location is removed from it, in every
// spelling (raw, URL- or JSON-escaped, escapes in either case). An error from Base is returned with
// the tokens and Secrets shortened wherever its text shows them, since a wrapping RoundTripper may
// quote the URL it was given, token and all.
type Transport struct {
	// Source supplies tokens. Required.
	Source Invalidator
	// Base sends the requests. nil means http.DefaultTransport.
	Base http.RoundTripper
	// Attach puts the token on the request. nil means AttachBearer.
	Attach func(r *http.Request, t *Token)
	// Rejected reports whether resp says the token was rejected. It may read the body with
	// PeekBody, which leaves it readable. nil means RejectedStatus(http.StatusUnauthorized).
	Rejected func(resp *http.Response) bool
	// Secrets are other secrets that Attach puts on the request (an app key, say). Like the
	// token, they are removed from a redirect's Location, so that neither the next hop's URL nor
	// a *url.Error about it shows them, and a Transport prints and logs them shortened.
	Secrets []string
	// Settled, when set, sees how each request ended: the final answer, the tokens it was sent
	// with in order (one, or two after a rejection and the retry), and whether Rejected matched
	// that final answer. It returns the answer to hand back, or an error that fails the request
	// (it then owns resp's body). A platform package uses it to learn which tokens the platform
	// accepted, or that the retry's fresh token was refused too. Not called for a redirect to
	// another host, which is sent without a token.
	Settled func(req *http.Request, resp *http.Response, sent []*Token, rejected bool) (*http.Response, error)
}

// NewClient returns an *http.Client that sends requests through a Transport over base's transport,
// with Bearer tokens and 401 as the rejection signal. A nil base means a client with the SDK's
// timeouts (5 s to connect, 15 s to the response headers, 30 s in all), never http.DefaultClient,
// which has none.
func NewClient(src Invalidator, base *http.Client) *http.Client {
	hc := *defaultclient.Shared()
	if base != nil {
		hc = *base
	}
	hc.Transport = &Transport{Source: src, Base: hc.Transport}
	return &hc
}

// view is how t prints: the types of Source and Base, and Secrets shortened.
func (t Transport) view() *redact.View {
	v := redact.NewView("shoptoken.Transport")
	if t.Source != nil {
		v.Plain("Source", "source", fmt.Sprintf("%T", t.Source))
	}
	if t.Base != nil {
		v.Plain("Base", "base", fmt.Sprintf("%T", t.Base))
	}
	if len(t.Secrets) > 0 {
		shown := make([]string, len(t.Secrets))
		for i, s := range t.Secrets {
			shown[i] = redact.Secret(s)
		}
		v.Plain("Secrets", "secrets", "["+strings.Join(shown, " ")+"]")
	}
	return v
}

// String describes t with Secrets redacted.
func (t Transport) String() string { return t.view().String() }

// GoString is used by %#v; it redacts like String.
func (t Transport) GoString() string { return t.String() }

// Format prints the redacted form for every verb, so that %v, %+v and %#v never show Secrets.
func (t Transport) Format(f fmt.State, verb rune) { t.view().Format(f, verb) }

// LogValue implements slog.LogValuer with Secrets redacted.
func (t Transport) LogValue() slog.Value { return t.view().LogValue() }

// AttachBearer sets "Authorization: Bearer <token>".
func AttachBearer(r *http.Request, t *Token) {
	r.Header.Set("Authorization", "Bearer "+t.AccessToken)
}

// AttachQuery returns an Attach function that puts the token in the query parameter param
// (Youzan's and vip.com's access_token), replacing any value the query already gives param. The
// rest of the query is kept as written.
func AttachQuery(param string) func(r *http.Request, t *Token) {
	name := url.QueryEscape(param)
	return func(r *http.Request, t *Token) {
		raw := r.URL.RawQuery
		if hasParam(raw, param) {
			// Rare: the caller's URL names param already. Parse, replace, encode.
			q := r.URL.Query()
			q.Set(param, t.AccessToken)
			r.URL.RawQuery = q.Encode()
			return
		}
		// One string built, no parse of the query: this runs on every request.
		if raw == "" {
			r.URL.RawQuery = name + "=" + url.QueryEscape(t.AccessToken)
		} else {
			r.URL.RawQuery = raw + "&" + name + "=" + url.QueryEscape(t.AccessToken)
		}
	}
}

// hasParam reports whether the raw query names param, in any spelling url.ParseQuery decodes to
// param. It allocates only for a name that carries escapes.
func hasParam(raw, param string) bool {
	if !strings.Contains(raw, param) && !strings.ContainsAny(raw, "%+") {
		return false // the common case, told by two scans
	}
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		key, _, _ := strings.Cut(pair, "=")
		if key == param {
			return true
		}
		if strings.ContainsAny(key, "%+") {
			if k, err := url.QueryUnescape(key); err == nil && k == param {
				return true
			}
		}
	}
	return false
}

// RejectedStatus returns a Rejected function that matches any of the given HTTP statuses.
func RejectedStatus(statuses ...int) func(*http.Response) bool {
	return func(resp *http.Response) bool {
		for _, s := range statuses {
			if resp.StatusCode == s {
				return true
			}
		}
		return false
	}
}

// PeekBody returns up to n bytes of resp's body and leaves the body readable from the start.
func PeekBody(resp *http.Response, n int64) ([]byte, error) {
	if resp.Body == nil || resp.Body == http.NoBody {
		return nil, nil
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, n))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	return head, err
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	attach := t.Attach
	if attach == nil {
		attach = AttachBearer
	}
	rejected := t.Rejected
	if rejected == nil {
		rejected = rejected401 // a function value, not a closure built per request
	}
	if redirectedAway(req) {
		return base.RoundTrip(req)
	}
	ctx := req.Context()
	tok, err := t.Source.Token(ctx)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	first := req.Clone(ctx)
	attach(first, tok)
	resp, err := base.RoundTrip(first)
	if err != nil {
		return nil, t.scrubErr(err, tok)
	}
	if !rejected(resp) {
		return t.settle(req, resp, false, tok, nil)
	}
	// Rejected. Replaying needs a fresh body; without GetBody the first send consumed it.
	canReplay := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	fresh, ierr := t.Source.Invalidate(ctx, tok)
	if ierr != nil {
		// The refresh failed: its error (ErrReauthorize, say) tells the caller more than the 401.
		drain(resp)
		return nil, ierr
	}
	if !canReplay || same(fresh, tok) {
		return t.settle(req, resp, true, tok, nil) // the caller sees the platform's own rejection
	}
	drain(resp)
	second := req.Clone(ctx)
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		second.Body = body
	}
	attach(second, fresh)
	resp, err = base.RoundTrip(second)
	if err != nil {
		return nil, t.scrubErr(err, fresh, tok)
	}
	return t.settle(req, resp, t.Settled != nil && rejected(resp), tok, fresh)
}

// rejected401 is the default Rejected: RejectedStatus(http.StatusUnauthorized).
func rejected401(resp *http.Response) bool { return resp.StatusCode == http.StatusUnauthorized }

// settle scrubs the final answer (see scrub) and hands it to Settled. first is the token the
// request was sent with, retried the one of the retry after a rejection (nil if none). The slice
// Settled sees is built only when there is a Settled, so that the common path does not allocate.
func (t *Transport) settle(req *http.Request, resp *http.Response, rejected bool, first, retried *Token) (*http.Response, error) {
	last := first
	if retried != nil {
		last = retried
	}
	resp = t.scrub(resp, req, last)
	if t.Settled == nil {
		return resp, nil
	}
	sent := []*Token{first}
	if retried != nil {
		sent = append(sent, retried)
	}
	return t.Settled(req, resp, sent, rejected)
}

// redirectedAway reports whether req is a redirect the http.Client follows to another origin than
// the request it started from: the token is not sent there.
func redirectedAway(req *http.Request) bool {
	first := req
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	return first != req && (first.URL.Scheme != req.URL.Scheme || first.URL.Host != req.URL.Host)
}

// scrub hands resp back pointing at the caller's request (not the clone that carries the token)
// and removes the token from a redirect's Location, so that neither the next hop's URL nor a
// *url.Error about it shows the token.
func (t *Transport) scrub(resp *http.Response, req *http.Request, tok *Token) *http.Response {
	resp.Request = req
	if resp.StatusCode/100 != 3 {
		return resp
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		if clean := redact.Remove(loc, t.secrets(tok)...); clean != loc {
			resp.Header.Set("Location", clean)
		}
	}
	return resp
}

// scrubErr returns the base RoundTripper's err with the tokens and Secrets shortened wherever its
// text shows them: a wrapping transport may put the URL it was given, token and all, in its error.
func (t *Transport) scrubErr(err error, toks ...*Token) error {
	return redact.Err(err, t.secrets(toks...)...)
}

// secrets lists what Attach may have put on a request: the tokens' access tokens and Secrets.
func (t *Transport) secrets(toks ...*Token) []string {
	out := make([]string, 0, len(toks)+len(t.Secrets))
	for _, tok := range toks {
		out = append(out, tok.AccessToken)
	}
	return append(out, t.Secrets...)
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

func closeBody(r *http.Request) {
	if r.Body != nil {
		r.Body.Close()
	}
}
