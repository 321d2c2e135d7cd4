package youzan

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/check"
	"github.com/shoptoken/shoptoken/internal/httpx"
	"github.com/shoptoken/shoptoken/internal/jsonx"
	"github.com/shoptoken/shoptoken/internal/lifetime"
	"github.com/shoptoken/shoptoken/internal/phrase"
)

// Operation names used in errors.
const (
	opToken    = "token"    // silent authorization
	opExchange = "exchange" // authorization_code
	opRefresh  = "refresh"  // refresh_token
	opCall     = "call"     // API gateway
)

// tokenRequest is the JSON body of POST /auth/token. Field names are the seed's for silent
// authorization, and those of Youzan's official PHP and Node SDKs for the tool-app grants
// (code, redirect_uri, refresh_token) [public].
type tokenRequest struct {
	ClientID      string `json:"client_id"`
	ClientSecret  string `json:"client_secret"`
	AuthorizeType string `json:"authorize_type"`
	GrantID       string `json:"grant_id,omitempty"`
	Refresh       *bool  `json:"refresh,omitempty"` // silent only; a JSON boolean
	Code          string `json:"code,omitempty"`
	RedirectURI   string `json:"redirect_uri,omitempty"`
	RefreshToken  string `json:"refresh_token,omitempty"`
}

// tokenAnswer is the token endpoint's envelope, success and failure alike.
type tokenAnswer struct {
	Success jsonx.Bool      `json:"success"`
	Code    jsonx.String    `json:"code"`
	Message jsonx.String    `json:"message"`
	Data    json.RawMessage `json:"data"`
	TraceID jsonx.String    `json:"trace_id"`
}

type tokenData struct {
	AccessToken  jsonx.String   `json:"access_token"`
	Expires      jsonx.MaybeInt `json:"expires"`    // absolute epoch, milliseconds [seed]
	ExpiresIn    jsonx.MaybeInt `json:"expires_in"` // seconds; not documented, read if ever sent
	Scope        jsonx.String   `json:"scope"`      // space separated
	AuthorityID  jsonx.String   `json:"authority_id"`
	RefreshToken jsonx.String   `json:"refresh_token"`
}

// FetchToken makes one silent-authorization call (authorize_type "silent") for shop, the kdt_id
// of a shop that authorized the app.
//
// With refresh false the platform returns the shop's current token while it is valid and issues
// one only when there is none, so it is safe to call from any number of processes. With refresh
// true it issues a new token, and the previous one stops working at once (API 4203) for every
// process that holds it: leave that to NewSource or NewApp, which do it once per shop under the
// fleet lease. The request is never retried once it may have reached the platform.
func (c Config) FetchToken(ctx context.Context, shop string, refresh bool) (*shoptoken.Token, error) {
	if err := c.check(opToken); err != nil {
		return nil, err
	}
	if err := checkShop(opToken, shop); err != nil {
		return nil, err
	}
	return c.silent(ctx, c.tokenHTTP(), shop, refresh)
}

// silent makes one silent-authorization call for shop through hc.
func (c Config) silent(ctx context.Context, hc *httpx.Client, shop string, refresh bool) (*shoptoken.Token, error) {
	return c.token(ctx, hc, opToken, tokenRequest{AuthorizeType: "silent", GrantID: shop, Refresh: &refresh})
}

// ExchangeCode turns the authorization code a merchant's browser brought back to redirectURI
// into a token (authorize_type "authorization_code", tool apps). The token carries a refresh
// token, and its Subject is the shop's kdt_id (authority_id): give it to the shop's tool-app
// Cache, App.Set(ctx, tok.Subject, tok) on a NewToolApp, or NewToolSource(c, tok.Subject,
// shoptoken.WithToken(tok)), with a Store so that the rotations survive restarts. An invalid or
// used code is ErrReauthorize (1005).
func (c Config) ExchangeCode(ctx context.Context, code, redirectURI string) (*shoptoken.Token, error) {
	if err := c.check(opExchange); err != nil {
		return nil, err
	}
	if err := check.Required(platform, opExchange, shoptoken.ErrBadRequest, "authorization code", code); err != nil {
		return nil, err
	}
	return c.token(ctx, c.tokenHTTP(), opExchange, tokenRequest{
		AuthorizeType: "authorization_code",
		Code:          code,
		RedirectURI:   redirectURI,
	}, code)
}

// Refresh redeems refreshToken for a new pair (authorize_type "refresh_token", tool apps). The
// platform kills refreshToken at once [seed]: persist the returned token before using it, or use
// NewToolSource or NewToolApp, which do. A dead or expired refresh token is ErrReauthorize.
func (c Config) Refresh(ctx context.Context, refreshToken string) (*shoptoken.Token, error) {
	if err := c.check(opRefresh); err != nil {
		return nil, err
	}
	return c.refresh(ctx, c.tokenHTTP(), refreshToken)
}

func (c Config) refresh(ctx context.Context, hc *httpx.Client, refreshToken string) (*shoptoken.Token, error) {
	if check.Blank(refreshToken) {
		return nil, &shoptoken.Error{Platform: platform, Op: opRefresh, Kind: shoptoken.ErrReauthorize,
			Message: "no refresh token: authorize the shop again (ExchangeCode) and start from that token"}
	}
	return c.token(ctx, hc, opRefresh, tokenRequest{
		AuthorizeType: "refresh_token",
		RefreshToken:  refreshToken,
	}, refreshToken)
}

// token makes one POST /auth/token call and turns the answer into a Token or a *shoptoken.Error.
func (c Config) token(ctx context.Context, hc *httpx.Client, op string, req tokenRequest, secrets ...string) (*shoptoken.Token, error) {
	// Every caller has checked c (FetchToken, ExchangeCode and Refresh on each call, NewSource
	// and NewApp once): no second parse of BaseURL per token.
	base := c.baseURL()
	req.ClientID, req.ClientSecret = c.ClientID, c.ClientSecret
	// Room for the client secret and the two tokens parseToken adds: one allocation, not two.
	secrets = append(append(make([]string, 0, len(secrets)+3), secrets...), c.ClientSecret)
	resp, err := hc.Do(ctx, httpx.Request{
		Op:     op,
		Method: "POST",
		URL:    base + "/auth/token",
		// Sent as Content-Type application/json: form encoding fails with 1000 [seed].
		JSON: req,
		// A repeated refresh:true or refresh_token call would kill what the first one issued.
		Idempotent: false,
		Secrets:    secrets,
	})
	if err != nil {
		return nil, err
	}
	tok, err := c.parseToken(resp, op, secrets)
	return tok, resp.TokenStatus(err) // a 401 here is about the app's credentials
}

// decodeToken decodes the common token answer, an object whose data is an object, in one pass;
// ok is false for any other body, which parseToken decodes step by step.
func decodeToken(body []byte) (ans tokenAnswer, d tokenData, ok bool) {
	var a struct {
		tokenAnswer
		Data *tokenData `json:"data"` // shadows tokenAnswer.Data
	}
	if json.Unmarshal(body, &a) != nil || a.Data == nil {
		return tokenAnswer{}, tokenData{}, false
	}
	return a.tokenAnswer, *a.Data, true
}

// parseToken reads a token answer. Errors come with HTTP 200 and success false [public].
func (c Config) parseToken(resp *httpx.Response, op string, secrets []string) (*shoptoken.Token, error) {
	ans, d, hasData := decodeToken(resp.Body)
	if !hasData {
		// Not the common shape: the envelope first, then what its data holds, each with its
		// own error.
		if err := resp.DecodeJSON(platform, op, &ans, secrets...); err != nil {
			return nil, withRequestID(err, traceID(resp.Body))
		}
		var data json.RawMessage
		if data, hasData = object(ans.Data); hasData {
			if err := (&httpx.Response{StatusCode: resp.StatusCode, Body: data}).DecodeJSON(platform, op, &d, secrets...); err != nil {
				return nil, withRequestID(err, httpx.Short(string(ans.TraceID)))
			}
		}
	}
	if hasData {
		secrets = append(secrets, string(d.AccessToken), string(d.RefreshToken))
	}
	ok := ans.Success.V || (!ans.Success.Set && string(ans.Code) == "200" && hasData)
	if !ok {
		if !ans.Success.Set && ans.Code == "" {
			if err := resp.StatusError(platform, op, secrets...); err != nil {
				return nil, withRequestID(err, httpx.Short(string(ans.TraceID)))
			}
			// No snippet: an unknown token answer may hold a secret under a name we do not know.
			return nil, &shoptoken.Error{Platform: platform, Op: op, StatusCode: resp.StatusCode, Kind: shoptoken.ErrBadResponse,
				RequestID: httpx.Short(string(ans.TraceID)), Message: "unknown answer: no success, code or data"}
		}
		e := httpx.SetMessage(&shoptoken.Error{
			Platform:   platform,
			Op:         op,
			StatusCode: resp.StatusCode,
			Code:       httpx.Short(string(ans.Code), secrets...),
			RequestID:  httpx.Short(string(ans.TraceID), secrets...),
		}, string(ans.Message), secrets...)
		e.Kind = tokenKind(op, string(ans.Code), e.RawMessage, resp.StatusCode)
		return nil, e
	}
	if d.AccessToken == "" {
		return nil, &shoptoken.Error{Platform: platform, Op: op, StatusCode: resp.StatusCode, Kind: shoptoken.ErrBadResponse,
			RequestID: httpx.Short(string(ans.TraceID)), Message: "success without an access_token"}
	}
	now := c.now()
	tok := &shoptoken.Token{
		AccessToken:  string(d.AccessToken),
		RefreshToken: string(d.RefreshToken),
		IssuedAt:     now,
		Scope:        strings.Fields(string(d.Scope)),
		Subject:      string(d.AuthorityID),
	}
	exp, said := answerExpiry(d, now)
	rotated := tok.RefreshToken != "" && (op == opRefresh || op == opExchange)
	switch {
	case said && lifetime.Plausible(exp, now):
		tok.Expiry = exp
	case said && !exp.After(now) && !rotated:
		return nil, &shoptoken.Error{Platform: platform, Op: op, StatusCode: resp.StatusCode, Kind: shoptoken.ErrBadResponse,
			RequestID: httpx.Short(string(ans.TraceID), secrets...), Message: "token expired on arrival (expires " + exp.UTC().Format(time.RFC3339) + ")"}
	default:
		// No expiry, one past the horizon (or past year 9999, which no store could write), or an
		// expired one on an answer that carries the grant's new refresh token (the old one, or
		// the one-time code, is spent now: the answer must not be dropped over its expiry).
		// Assume the documented lifetime; a rejection (4202) corrects it.
		if said || d.Expires.Invalid || d.ExpiresIn.Invalid {
			c.logger().Warn("youzan: expires is not plausible; the documented 7-day lifetime is assumed",
				slog.String("op", op), slog.Int64("expires", d.Expires.N), slog.Int64("expires_in", d.ExpiresIn.N),
				slog.String("trace_id", httpx.Short(string(ans.TraceID), secrets...)))
		}
		tok.Expiry = now.Add(AccessTokenLifetime)
	}
	if tok.RefreshToken != "" {
		tok.RefreshExpiry = refreshExpiry(tok.Expiry, now)
	}
	return tok, nil
}

// maxRelativeExpires: an expires below it (about 3 years in seconds) is a lifetime, not an epoch.
const maxRelativeExpires = 100_000_000

// answerExpiry is the expiry an answer states, and whether it states one: expires in milliseconds
// since the epoch [seed]; a value far too small for that, as a lifetime in seconds (Youzan's older
// OAuth) or seconds since the epoch; else expires_in in seconds. Zero and negative values state
// nothing. The time is not yet judged (see lifetime.Plausible), but it is always one a Token can
// hold: a value past year 9999, or a lifetime past the horizon, comes back as a time just past
// the horizon, which lifetime.Plausible refuses.
func answerExpiry(d tokenData, now time.Time) (time.Time, bool) {
	beyond := now.Add(lifetime.Horizon + time.Second) // stated, but not believable
	switch {
	case d.Expires.Set && d.Expires.N > 0 && d.Expires.N < maxRelativeExpires:
		return now.Add(time.Duration(d.Expires.N) * time.Second), true
	case d.Expires.Set && d.Expires.N > 0 && d.Expires.N < 100_000_000_000: // before 1973 in ms, after 5138 in s
		if t, ok := lifetime.Millis(d.Expires.N * 1000); ok {
			return t, true
		}
		return beyond, true
	case d.Expires.Set && d.Expires.N > 0:
		if t, ok := lifetime.Millis(d.Expires.N); ok {
			return t, true
		}
		return beyond, true
	case d.ExpiresIn.Set && d.ExpiresIn.N > 0:
		if life, ok := lifetime.Seconds(d.ExpiresIn.N); ok {
			return now.Add(life), true
		}
		return beyond, true
	}
	return time.Time{}, false // none, or only zero or negative values: nothing stated
}

// refreshExpiry estimates when the refresh token issued with an access token that expires at
// expiry lapses: 28 days after issue [seed]. The answer gives no issue time, and refresh:false
// may hand back a pair issued days ago, so the issue time is taken as the earlier of now and
// expiry minus the 7-day access lifetime: an early estimate only makes the refresh come sooner.
func refreshExpiry(expiry, now time.Time) time.Time {
	issued := expiry.Add(-AccessTokenLifetime)
	if now.Before(issued) {
		issued = now
	}
	return issued.Add(RefreshTokenLifetime)
}

// tokenKind maps a token endpoint error code to a kind (PLATFORMS.md):
//
//	1000 app secret wrong, or body not JSON    ErrCredentials
//	1004 authorization expired                 ErrReauthorize
//	1005 authorization code invalid or used    ErrReauthorize
//	1103 client does not exist / app mismatch  ErrCredentials
//	1103 grant does not exist (or unclear)     ErrReauthorize
//	1105 unsupported app type                  ErrCredentials
//
// Unknown codes: a throttling message is ErrRateLimited, a system error (5xx code or "系统") is
// ErrUnavailable, a refresh_token grant whose message names the refresh token is ErrReauthorize
// (the token is dead either way), anything else ErrBadResponse (retried with backoff).
func tokenKind(op, code, msg string, status int) error {
	switch code {
	case "1000", "1105":
		return shoptoken.ErrCredentials
	case "1004", "1005":
		return shoptoken.ErrReauthorize
	case "1103":
		if clientProblem(msg) {
			return shoptoken.ErrCredentials
		}
		// "grant does not exist", and any wording we do not know: both are permanent, and
		// asking the merchant to authorize again is the cheaper mistake to make than telling
		// the developer the app's credentials are wrong when they work for other shops.
		return shoptoken.ErrReauthorize
	}
	m := normalize(msg)
	switch {
	case phrase.Any(m, "频繁", "toomany", "toofrequent", "frequently", "ratelimit", "限流"):
		return shoptoken.ErrRateLimited
	case isSystemCode(code) || status >= 500 || phrase.Any(m, "系统", "繁忙", "busy", "systemerror", "timeout", "超时", "稍后"):
		return shoptoken.ErrUnavailable
	case op == opRefresh && phrase.Any(m, "refresh_token", "refreshtoken", "刷新令牌"):
		return shoptoken.ErrReauthorize
	}
	return shoptoken.ErrBadResponse
}

// clientProblem reports whether a 1103 message is about the app (client does not exist, app
// mismatch) rather than the shop's grant. Chinese and English wordings are both matched.
func clientProblem(msg string) bool {
	return phrase.Any(normalize(msg),
		"clientdoesnotexist", "clientnotexist", "clientnotfound", "clientisnotexist", "unknownclient",
		"invalidclient", "client不存在", "client_id不存在", "clientid不存在", "应用不存在", "应用不匹配", "app不匹配",
		"mismatch", "不匹配", "notmatch")
}

// normalize lowercases s and drops spaces, so "Client does not exist" and "client 不存在" match
// one spelling.
func normalize(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r', '\u3000':
			return -1
		}
		return r
	}, strings.ToLower(s))
}

func isSystemCode(code string) bool {
	return len(code) == 3 && code[0] == '5'
}

// traceID digs the trace id out of an answer that could not be decoded as a whole, so that the
// error still carries it: the trace_id of its gw_err_resp object, else its own. "" when there is
// none or body is not a JSON object.
func traceID(body []byte) string {
	var a struct {
		TraceID json.RawMessage `json:"trace_id"`
		Gw      json.RawMessage `json:"gw_err_resp"`
	}
	if json.Unmarshal(body, &a) != nil {
		return ""
	}
	var own, gw jsonx.String
	_ = json.Unmarshal(a.TraceID, &own)
	if obj, ok := object(a.Gw); ok {
		var g struct {
			TraceID jsonx.String `json:"trace_id"`
		}
		_ = json.Unmarshal(obj, &g)
		gw = g.TraceID
	}
	return httpx.Short(string(cmp.Or(gw, own)))
}

// withRequestID fills in the request id of an error made without one (decoding, HTTP status).
func withRequestID(err error, id string) error {
	if e, ok := err.(*shoptoken.Error); ok && e.RequestID == "" && id != "" {
		cp := *e
		cp.RequestID = id
		return &cp
	}
	return err
}
