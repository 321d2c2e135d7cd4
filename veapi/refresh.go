package veapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/check"
	"github.com/shoptoken/shoptoken/internal/httpx"
	"github.com/shoptoken/shoptoken/internal/jsonx"
	"github.com/shoptoken/shoptoken/internal/lifetime"
	"github.com/shoptoken/shoptoken/internal/redact"
)

// state is what every shop of one veapi account shares (an App, or the one shop of NewSource and
// NewClient): the Config, one HTTP client for the renewal endpoint, and the API clients' guard
// against rotating the chain for an API that refuses every token. A shop's Refresher and Client
// point to it; none copies it.
type state struct {
	c       Config
	hx      *httpx.Client
	log     *slog.Logger
	guard   refusals
	attach  func(*http.Request, *shoptoken.Token) // puts sessionkey and vekey on a sent request
	secrets []string                              // what attach adds besides the token: the vekey
}

func newState(c Config) *state {
	log := c.logger()
	s := &state{
		c: c,
		// Shared: Config.Refresh builds a state per call; the same HTTPClient and Logger get the
		// same client. c.Logger, not log, which is a new discarding Logger per call when nil.
		hx:      httpx.Shared(httpx.Config{Platform: platform, HTTPClient: c.HTTPClient, Logger: c.Logger}),
		log:     log,
		secrets: []string{c.VEKey},
	}
	s.attach = s.attachTo
	return s
}

// refresher renews one shop's authorization chain: the shared state and the shop id, nothing more,
// since an App holds one per shop.
type refresher struct {
	st   *state
	shop string
}

// Format prints the refresher as its shop: a Cache's Refresher may be printed, and the state it
// points to holds the vekey.
func (r *refresher) Format(f fmt.State, verb rune) {
	s := redact.NewView("veapi.refresher").Plain("Shop", "shop", r.shop).String()
	redact.Format(f, verb, s, s)
}

// errNoRefreshToken is returned, without a platform call, when there is nothing to refresh with.
func errNoRefreshToken() error {
	return &shoptoken.Error{Platform: platform, Op: "refresh", Kind: shoptoken.ErrReauthorize,
		Message: "no refresh token: authorize the shop first"}
}

// Refresh implements shoptoken.Refresher: it renews current's refresh token. The new token's
// Subject is current's, or the shop when current has none.
func (r *refresher) Refresh(ctx context.Context, current *shoptoken.Token, _ shoptoken.Reason) (*shoptoken.Token, error) {
	if current == nil || check.Blank(current.RefreshToken) {
		return nil, errNoRefreshToken()
	}
	tok, err := r.st.refresh(ctx, current.RefreshToken)
	if err != nil {
		return nil, err
	}
	tok.Subject = current.Subject
	if tok.Subject == "" {
		tok.Subject = r.shop
	}
	return tok, nil
}

// refresh makes the one platform call.
func (s *state) refresh(ctx context.Context, refreshToken string) (*shoptoken.Token, error) {
	if check.Blank(refreshToken) {
		return nil, errNoRefreshToken()
	}
	secrets := []string{s.c.VEKey, refreshToken}
	resp, err := s.hx.Do(ctx, httpx.Request{
		Op:     "refresh",
		Method: http.MethodPost,
		URL:    s.c.baseURL() + refreshPath,
		// A form body keeps both secrets out of the URL, and so out of proxy and server access
		// logs. POST also stops net/http from silently resending the request on a reused
		// connection that closed: a resent refresh would use a refresh token the first one may
		// already have rotated away.
		Form:       url.Values{"vekey": {s.c.VEKey}, "refresh_token": {refreshToken}},
		Idempotent: false,
		Secrets:    secrets,
	})
	if err != nil {
		return nil, err
	}
	tok, err := decodeRefresh(resp, s.c.now(), s.log, secrets)
	return tok, resp.TokenStatus(err) // a 401 here is about the vekey, not a token
}

// envelope is veapi's answer. Every member is kept raw: the platform documents "error" as a
// string, but which types it really sends is not something to bet a refresh token on.
type envelope struct {
	Error     json.RawMessage `json:"error"`
	Msg       json.RawMessage `json:"msg"`
	Data      json.RawMessage `json:"data"`
	RequestID json.RawMessage `json:"request_id"`
}

// maxIssueSkew is how far ahead of our clock a create_at may lie and still be taken as the
// token's issue time: clocks disagree, but not by more than a day.
const maxIssueSkew = 24 * time.Hour

// decodeRefresh turns a refresh answer into a token or a *shoptoken.Error. It is strict about
// whether the answer is a success (error "0" or 0, data an object with non-empty string
// access_token and refresh_token) and lenient about the rest (times as numbers or numeric strings),
// because discarding an answer that did rotate the chain loses the chain.
func decodeRefresh(resp *httpx.Response, now time.Time, log *slog.Logger, secrets []string) (*shoptoken.Token, error) {
	var env envelope
	if err := resp.DecodeJSON(platform, "refresh", &env, secrets...); err != nil {
		return nil, err
	}
	// The request id is shown like the platform's other strings: one short line, less any secret
	// it echoes.
	rawID := scalar(env.RequestID)
	requestID := httpx.Short(rawID, secrets...)
	bad := func(what string) error {
		msg := what
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			msg = "HTTP " + strconv.Itoa(resp.StatusCode) + ": " + what
		}
		if s := httpx.Snippet(resp.Body, secrets...); s != "" {
			msg += ": " + s
		}
		return &shoptoken.Error{Platform: platform, Op: "refresh", StatusCode: resp.StatusCode,
			RequestID: requestID, Kind: shoptoken.ErrBadResponse, Message: msg}
	}
	code, ok := errorCode(env.Error)
	if !ok {
		if err := resp.StatusError(platform, "refresh", secrets...); err != nil {
			// E.g. a gateway's 5xx JSON of its own; it may still carry veapi's request_id.
			if e, ok := err.(*shoptoken.Error); ok {
				e.RequestID = requestID
			}
			return nil, err
		}
		if len(env.Error) == 0 || isNull(env.Error) {
			return nil, bad("answer has no error field")
		}
		return nil, bad("error field is neither a string nor a number")
	}
	if code != "0" {
		e := httpx.SetMessage(&shoptoken.Error{
			Platform:   platform,
			Op:         "refresh",
			StatusCode: resp.StatusCode,
			Code:       httpx.Short(code, secrets...),
			RequestID:  requestID,
		}, scalar(env.Msg), secrets...)
		// Classified on the whole message (a keyword past the shown part counts), secrets
		// shortened (a secret's letters are not the platform's words).
		e.Kind = classify(e.RawMessage, resp.StatusCode)
		return nil, e
	}

	// Success. A success answer is accepted whatever the HTTP status: it carries the only copy of
	// the rotated refresh token.
	var data map[string]json.RawMessage
	if d := bytes.TrimSpace(env.Data); len(d) == 0 || d[0] != '{' || json.Unmarshal(d, &data) != nil {
		return nil, bad("success answer without a data object")
	}
	access, aok := str(data["access_token"])
	refresh, rok := str(data["refresh_token"])
	switch {
	case !aok || access == "":
		return nil, bad("success answer without an access_token")
	case !rok || refresh == "":
		// The old refresh token was most likely rotated away by this very call: the chain cannot
		// go on from here, and saying so now beats a dead-token error weeks later.
		return nil, bad("success answer without a refresh_token: the authorization chain cannot continue")
	}
	secrets = append(secrets[:len(secrets):len(secrets)], access, refresh)
	requestID = httpx.Short(rawID, secrets...)

	tok := &shoptoken.Token{AccessToken: access, RefreshToken: refresh, Extra: map[string]string{}}
	createAt, hasCreate := millis(data["create_at"])
	if hasCreate && (createAt.After(now.Add(maxIssueSkew)) || createAt.Before(now.Add(-lifetime.Horizon))) {
		// An issue time far from our clock (seconds read as milliseconds, a clock years off) is
		// not the issue time; the Cache stamps the time of the call instead.
		hasCreate = false
	}
	if hasCreate {
		tok.IssuedAt = createAt
	}
	expiresIn, hasIn := seconds(data["expires_in"])
	expiresTime, hasTime := millis(data["expires_time"])
	// Prefer the platform's absolute expiry; then its issue time plus the lifetime; then our clock
	// plus the lifetime. A candidate in the past or absurdly far ahead (seconds read as
	// milliseconds, a clock years off) is skipped: an expiry in the past would make the Cache
	// refresh, and so rotate the chain, again at once.
	var candidates []time.Time
	if hasTime {
		candidates = append(candidates, expiresTime)
	}
	if hasCreate && hasIn {
		candidates = append(candidates, createAt.Add(expiresIn))
	}
	if hasIn {
		candidates = append(candidates, now.Add(expiresIn))
	}
	for i, t := range candidates {
		if lifetime.Plausible(t, now) {
			tok.Expiry = t
			if i > 0 || !hasTime {
				log.Warn("veapi: expires_time missing or implausible; expiry derived from expires_in",
					slog.Time("expiry", t), slog.String("request_id", requestID))
			}
			break
		}
	}
	if tok.Expiry.IsZero() {
		// The answer carries the chain's next refresh token: it is never dropped over its expiry.
		tok.Expiry = now.Add(DefaultTokenLifetime)
		log.Warn("veapi: answer gives no usable expiry; the documented 90 days are assumed",
			slog.Time("expiry", tok.Expiry), slog.String("request_id", requestID))
	}
	if t, ok := millis(data["refresh_expires_time"]); ok {
		if lifetime.Plausible(t, now) {
			tok.RefreshExpiry = t
		} else {
			// A grant end in the past would make the Cache refresh again at once, rotating the chain
			// in a loop; leave it unknown instead.
			log.Warn("veapi: refresh_expires_time is implausible; ignored",
				slog.Time("refresh_expires_time", t), slog.String("request_id", requestID))
		}
	}
	if b, ok := boolean(data["is_expired"]); ok {
		tok.Extra["is_expired"] = strconv.FormatBool(b)
	}
	if s := scalar(data["status"]); s != "" {
		tok.Extra["status"] = httpx.Short(s, secrets...)
	}
	if requestID != "" {
		tok.Extra["request_id"] = requestID
	}
	return tok, nil
}

// errorCode reads the error member: a string (as documented) or a number, verbatim. Anything else,
// including a missing member or null, is not a code.
func errorCode(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch {
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return "", false
		}
		return n.String(), true // only the literal 0 is "0"; 0.0 or -0 are codes, not success
	}
	return "", false
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// str reads a JSON string.
func str(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// scalar reads a string, number or boolean as text; "" for anything else (jsonx.Text).
func scalar(raw json.RawMessage) string {
	var t jsonx.Text
	_ = t.UnmarshalJSON(raw) // never fails
	return string(t)
}

// number reads an integer given as a JSON number or a numeric string (jsonx.Int).
func number(raw json.RawMessage) (int64, bool) {
	var n jsonx.Int
	if len(bytes.TrimSpace(raw)) == 0 || json.Unmarshal(raw, &n) != nil || !n.Set {
		return 0, false
	}
	return n.N, true
}

// millis reads a positive millisecond epoch within years 1 to 9999.
func millis(raw json.RawMessage) (time.Time, bool) {
	n, ok := number(raw)
	if !ok || n <= 0 {
		return time.Time{}, false
	}
	return lifetime.Millis(n)
}

// seconds reads a positive lifetime in seconds, at most lifetime.Horizon.
func seconds(raw json.RawMessage) (time.Duration, bool) {
	n, ok := number(raw)
	if !ok {
		return 0, false
	}
	return lifetime.Seconds(n)
}

// boolean reads a JSON boolean or the strings "true"/"false" (and 1/0): jsonx.Bool.
func boolean(raw json.RawMessage) (bool, bool) {
	var v jsonx.Bool
	if len(bytes.TrimSpace(raw)) == 0 || json.Unmarshal(raw, &v) != nil || !v.Set {
		return false, false
	}
	return v.V, true
}
