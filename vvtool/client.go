package vvtool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/defaultclient"
	"github.com/shoptoken/shoptoken/internal/redact"
)

// Client calls vv-tool APIs with tokens from a TokenSource: Do sends a request, HTTPClient
// returns an *http.Client for a library that takes one. It is safe for concurrent use.
type Client struct {
	cfg Config
	hc  *http.Client // its Transport attaches the token
}

// NewClient returns a Client that calls vv-tool APIs with tokens from src: the Cache from
// NewSource, a shoptoken.StaticSource, or any TokenSource. Each request gets
// "Authorization: Bearer <token>" (on a copy: the caller's request never carries it). When an
// answer says the token was rejected (see Rejected) and src is a shoptoken.Invalidator (a Cache
// is), the client calls src.Invalidate, which fetches a new token only if the rejected one is
// still current, and sends the request once more with the new token, its body replayed through
// Request.GetBody (http.NewRequest sets it for bytes, strings and their readers). It never sends
// a request more than twice. With any other src, and for answers that are not rejections,
// whatever their status, the answer is returned as it is.
//
// c.HTTPClient supplies the transport, timeout, cookies and redirect policy, as for the token
// requests, so that API calls leave from the address the token was fetched from; nil means the
// SDK's default client (5 s to connect, 15 s to the response headers, 30 s in all). NewClient
// fails, before anything is sent, for a Config NewSource would refuse or a nil src.
//
// IP binding: vv-tool invalidates a token used from an IP other than the one that fetched it. If
// the token that replaced a rejected one is rejected too, the client does not fetch token after
// token (each fetch kills a token and looks like theft): the request fails with a
// *shoptoken.Error of Kind ErrPermission whose message names the host that fetched the token and
// the likely causes, a different egress IP or another server fetching with the same Account. The
// same error comes back, without a platform call, until the Cache may fetch again:
// DefaultMinInterval after its last fetch, and two minutes after a replacement token was rejected.
// When the error comes from the minimum interval, errors.Is(err, shoptoken.ErrRateLimited) holds
// too. Do returns every error inside net/http's *url.Error: match with errors.Is and errors.As.
func NewClient(c Config, src shoptoken.TokenSource) (*Client, error) {
	if isNil(src) {
		return nil, &shoptoken.Error{Platform: platform, Op: "call", Kind: shoptoken.ErrBadRequest,
			Message: "NewClient was given no token source"}
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	hc := *defaultclient.Shared()
	if c.HTTPClient != nil {
		hc = *c.HTTPClient
	}
	g := &guard{src: src, now: c.now}
	g.inv, _ = src.(shoptoken.Invalidator)
	if g.cache, _ = src.(*shoptoken.Cache); g.cache != nil {
		g.ref, _ = g.cache.Refresher().(*refresher)
	}
	hc.Transport = &shoptoken.Transport{Source: g, Base: hc.Transport, Rejected: Rejected, Settled: g.settled}
	return &Client{cfg: c, hc: &hc}, nil
}

// isNil reports whether src is nil or a nil pointer, func or map in an interface.
func isNil(src shoptoken.TokenSource) bool {
	if src == nil {
		return true
	}
	switch v := reflect.ValueOf(src); v.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Chan, reflect.Slice, reflect.Interface:
		return v.IsNil()
	}
	return false
}

// Do sends req with the Account's token and returns the answer (see NewClient).
func (cl *Client) Do(req *http.Request) (*http.Response, error) { return cl.hc.Do(req) }

// HTTPClient returns an *http.Client that sends every request as Do does, for a library that
// takes one. Each call returns a new copy: changing it does not change the Client.
func (cl *Client) HTTPClient() *http.Client {
	hc := *cl.hc
	return &hc
}

func (cl *Client) view() *redact.View { return cl.cfg.viewAs("vvtool.Client") }

// String describes the Client by its Config, with AccessKey redacted.
func (cl *Client) String() string { return cl.view().String() }

// GoString is used by %#v; it redacts like String.
func (cl *Client) GoString() string { return cl.String() }

// Format prints the redacted form for every verb.
func (cl *Client) Format(f fmt.State, verb rune) { cl.view().Format(f, verb) }

// LogValue implements slog.LogValuer with AccessKey redacted.
func (cl *Client) LogValue() slog.Value { return cl.view().LogValue() }

// guard is the client's Invalidator: the source, with the Cache's refusals to fetch again
// explained, and, when the source is NewSource's Cache, told about the tokens vv-tool accepted
// and about a retry's token rejected too.
type guard struct {
	src   shoptoken.TokenSource
	inv   shoptoken.Invalidator // src, when it is one
	cache *shoptoken.Cache      // src, when it is a Cache
	ref   *refresher            // the Cache's refresher; nil when it was not made by NewSource
	now   func() time.Time
}

// settled is the Transport's Settled hook. An accepted answer tells the refresher that the
// token worked (a replacement that worked was not killed by the IP binding). A rejection that
// still names the current token, typically the retry's fresh token rejected too, is reported to
// the Cache, so that it does not hand the token out again; it fetches another only if that is not
// what just failed (see refresher.Refresh), and its refusal says why.
func (g *guard) settled(req *http.Request, resp *http.Response, sent []*shoptoken.Token, rejected bool) (*http.Response, error) {
	last := sent[len(sent)-1]
	if !rejected {
		if g.ref != nil && resp.StatusCode/100 == 2 {
			g.ref.accept(last)
		}
		return resp, nil
	}
	if g.cache == nil {
		return resp, nil
	}
	cur := g.cache.Current()
	if cur == nil || last.AccessToken != cur.AccessToken {
		return resp, nil
	}
	if _, err := g.Invalidate(req.Context(), cur); err != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

// Token implements shoptoken.Invalidator.
func (g *guard) Token(ctx context.Context) (*shoptoken.Token, error) {
	tok, err := g.src.Token(ctx)
	if err != nil {
		if g.cache == nil {
			return nil, err
		}
		// A current token that has not expired is not served only because it was rejected.
		return nil, explain(g.cache.Current(), err, g.now())
	}
	return tok, nil
}

// Invalidate implements shoptoken.Invalidator. A source that cannot be told hands back the
// rejected token, so the Transport returns the platform's own answer.
func (g *guard) Invalidate(ctx context.Context, rejected *shoptoken.Token) (*shoptoken.Token, error) {
	if g.inv == nil {
		return rejected, nil
	}
	tok, err := g.inv.Invalidate(ctx, rejected)
	if err != nil {
		return nil, explain(rejected, err, g.now())
	}
	return tok, nil
}

// explain turns the engine's minimum-interval refusal (an ErrRateLimited *shoptoken.Error of no
// platform), met at now for a rejected token that has not expired and was fetched moments ago
// (within rejectWindow), into the IP-binding explanation. Other errors, among them the platform's
// own rate limiting and a refusal about an old token (its replacement fetch failed: an outage,
// not the IP binding), pass unchanged.
func explain(rejected *shoptoken.Token, err error, now time.Time) error {
	var e *shoptoken.Error
	if !errors.As(err, &e) || e.Platform != "" || !errors.Is(e.Kind, shoptoken.ErrRateLimited) || !validAt(rejected, now) ||
		rejected.IssuedAt.IsZero() || now.Sub(rejected.IssuedAt) >= rejectWindow {
		return err
	}
	return ipBindingError("call", rejected, now, err)
}

// validAt reports whether t has an access token that has not expired at now.
func validAt(t *shoptoken.Token, now time.Time) bool {
	return t != nil && t.AccessToken != "" && (t.Expiry.IsZero() || now.Before(t.Expiry))
}

// peekLimit is how much of an answer Rejected reads: a rejection is a short message.
const peekLimit = 4 << 10

// Rejected reports whether resp says vv-tool rejected the access token (身份凭证无效: expired,
// superseded by another fetch, or used from another IP). The platform's status and code for it are
// unverified, so every shape counts:
//   - HTTP 401, whatever the body;
//   - a JSON object of any status whose message member (msg, message, error, error_description,
//     errmsg, err_msg, error_msg; also one level down under a member named like "error") says
//     身份凭证无效 / 已失效 / 已过期, "invalid credential", "invalid token" or "token invalid", or
//     whose error is "invalid_token";
//   - a short non-JSON body (plain text, an HTML page) of at most 4 KiB containing 身份凭证无效.
//
// Text elsewhere in a JSON answer (its data) does not count, nor do messages about other tokens,
// such as a Taobao session expiring. Rejected reads at most 4 KiB of the body and leaves it
// readable from the start. It does not read bodies declared longer than that, nor event streams.
func Rejected(resp *http.Response) bool {
	if resp.StatusCode == http.StatusUnauthorized {
		return true
	}
	if resp.ContentLength > peekLimit || strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return false
	}
	head, err := shoptoken.PeekBody(resp, peekLimit+1)
	if err != nil {
		return false
	}
	return rejectedBody(head, len(head) > peekLimit)
}

// rejectedBody reports whether the start of an answer is a rejection; cut says the body is longer.
func rejectedBody(head []byte, cut bool) bool {
	b := bytes.TrimSpace(bytes.TrimPrefix(head, utf8BOM))
	if len(b) == 0 {
		return false
	}
	if b[0] == '{' || b[0] == '[' {
		var obj map[string]json.RawMessage
		if json.Unmarshal(b, &obj) != nil {
			return false // an array, or a cut or broken document: not a rejection message
		}
		return rejectedObject(obj, true)
	}
	return !cut && strings.Contains(string(b), "身份凭证无效")
}

// messageMembers are the members in which the API answers are known or guessed to carry their
// message.
var messageMembers = map[string]bool{"msg": true, "message": true, "error": true, "error_description": true,
	"errmsg": true, "err_msg": true, "error_msg": true}

func rejectedObject(obj map[string]json.RawMessage, nested bool) bool {
	for k, raw := range obj {
		k = strings.ToLower(k)
		switch {
		case len(raw) > 0 && raw[0] == '"' && messageMembers[k]:
			var s string
			if json.Unmarshal(raw, &s) == nil && (rejectedText(s) || k == "error" && s == "invalid_token") {
				return true
			}
		case nested && len(raw) > 0 && raw[0] == '{' && strings.Contains(k, "err"):
			var inner map[string]json.RawMessage
			if json.Unmarshal(raw, &inner) == nil && rejectedObject(inner, false) {
				return true
			}
		}
	}
	return false
}
