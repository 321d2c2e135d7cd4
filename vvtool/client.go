package vvtool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/defaultclient"
)

// NewClient returns an *http.Client that calls vv-tool APIs with tokens from src: each request
// gets "Authorization: Bearer <token>" (on a copy: the caller's request never carries it). When an
// answer says the token was rejected (see Rejected), the client calls src.Invalidate, which
// fetches a new token only if the rejected one is still current, and sends the request once more
// with the new token, its body replayed through Request.GetBody (http.NewRequest sets it for
// bytes, strings and their readers). It never sends a request more than twice. Answers that are
// not rejections, whatever their status, are returned as they are.
//
// base supplies the transport, timeout, cookies and redirect policy; nil means a client with the
// SDK's timeouts (5 s to connect, 15 s to the response headers, 30 s in all). src must not be nil.
//
// IP binding: vv-tool invalidates a token used from an IP other than the one that fetched it. If
// the token that replaced a rejected one is rejected too, the client does not fetch token after
// token (each fetch kills a token and looks like theft): the request fails with a
// *shoptoken.Error of Kind ErrPermission whose message names the host that fetched the token and
// the likely causes, a different egress IP or another server fetching with the same Account. The
// same error comes back, without a platform call, until the Cache may fetch again:
// DefaultMinInterval after its last fetch, and two minutes after a replacement token was rejected.
// When the error comes from the minimum interval, errors.Is(err, shoptoken.ErrRateLimited) holds
// too.
func NewClient(src *shoptoken.Cache, base *http.Client) *http.Client {
	if src == nil {
		panic("vvtool: NewClient: nil source")
	}
	hc := *defaultclient.Shared()
	if base != nil {
		hc = *base
	}
	g := &guard{src: src}
	g.ref, _ = src.Refresher().(*refresher)
	hc.Transport = &shoptoken.Transport{Source: g, Base: hc.Transport, Rejected: Rejected, Settled: g.settled}
	return &hc
}

// guard is the client's Invalidator: the Cache, with the Cache's refusals to fetch again
// explained, and told about the tokens vv-tool accepted and about a retry's token rejected too.
type guard struct {
	src *shoptoken.Cache
	ref *refresher // src's refresher; nil when src was not made by NewSource
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
	cur := g.src.Current()
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
		// A current token that has not expired is not served only because it was rejected.
		return nil, explain(g.src.Current(), err)
	}
	return tok, nil
}

// Invalidate implements shoptoken.Invalidator.
func (g *guard) Invalidate(ctx context.Context, rejected *shoptoken.Token) (*shoptoken.Token, error) {
	tok, err := g.src.Invalidate(ctx, rejected)
	if err != nil {
		return nil, explain(rejected, err)
	}
	return tok, nil
}

// explain turns the engine's minimum-interval refusal (an ErrRateLimited *shoptoken.Error of no
// platform), met for a rejected token that has not expired and was fetched moments ago (within
// rejectWindow), into the IP-binding explanation. Other errors, among them the platform's own rate
// limiting and a refusal about an old token (its replacement fetch failed: an outage, not the IP
// binding), pass unchanged.
func explain(rejected *shoptoken.Token, err error) error {
	var e *shoptoken.Error
	if !errors.As(err, &e) || e.Platform != "" || !errors.Is(e.Kind, shoptoken.ErrRateLimited) || !rejected.Valid() ||
		rejected.IssuedAt.IsZero() || time.Since(rejected.IssuedAt) >= rejectWindow {
		return err
	}
	return ipBindingError("call", rejected, time.Now(), err)
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
