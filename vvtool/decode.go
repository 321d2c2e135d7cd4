package vvtool

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/httpx"
	"github.com/shoptoken/shoptoken/internal/jsonx"
	"github.com/shoptoken/shoptoken/internal/lifetime"
	"github.com/shoptoken/shoptoken/internal/phrase"
	"github.com/shoptoken/shoptoken/internal/redact"
)

// tokenFields is the token answer: at the top level on /oauth/token, under "data" on
// /api/proxy/oauth/token.
type tokenFields struct {
	AccessToken string         `json:"access_token"`
	ExpiresIn   jsonx.MaybeInt `json:"expires_in"`
	TokenType   text           `json:"token_type"`
	Scope       text           `json:"scope"`
}

// envelope is every answer shape the token endpoints are known or guessed to give: the classic
// token, the wrapped {"code","msg","data"} one, and OAuth-style errors {"error",
// "error_description","message"}.
type envelope struct {
	tokenFields
	Code             text     `json:"code"`
	Msg              text     `json:"msg"`
	Message          text     `json:"message"`
	Error            text     `json:"error"`
	ErrorDescription text     `json:"error_description"`
	RequestID        text     `json:"request_id"`
	Data             wrapData `json:"data"`
}

// wrapData is the "data" member of a wrapped answer. Only an object can hold a token; null, [] or
// "" (what PHP backends put in an error answer) mean "no data" rather than a broken answer, so
// that the error code and message next to them are not lost.
type wrapData struct {
	tokenFields
}

func (d *wrapData) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '{' {
		return nil
	}
	return json.Unmarshal(b, &d.tokenFields)
}

// text is a member that only informs (code, message, token type, scope): a string as it is, a
// number or boolean as its literal, an array as its string elements joined by spaces (a scope
// list), anything else as "". A member of an odd type must not cost the account an issued token,
// nor hide the status of an error answer.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	*t = ""
	switch {
	case len(b) == 0 || b[0] == '{' || string(b) == "null":
	case b[0] == '"':
		var s string
		if json.Unmarshal(b, &s) == nil {
			*t = text(s)
		}
	case b[0] == '[':
		var items []json.RawMessage
		if json.Unmarshal(b, &items) != nil {
			return nil
		}
		var parts []string
		for _, it := range items {
			var s string
			if json.Unmarshal(it, &s) == nil && s != "" {
				parts = append(parts, s)
			}
		}
		*t = text(strings.Join(parts, " "))
	default:
		*t = text(b)
	}
	return nil
}

// tokenLife returns expires_in (seconds) as a Duration when it is a lifetime to believe: positive
// and at most lifetime.Horizon. ok is false otherwise (absent, not a number, not positive, past
// the horizon), and the caller assumes DefaultTokenLifetime: the fetch has killed the previous
// token, so the one it brought is never thrown away over its lifetime. A quoted or float-spelled
// number counts (jsonx.Int).
func tokenLife(i jsonx.MaybeInt) (time.Duration, bool) {
	if !i.Set {
		return 0, false
	}
	return lifetime.Seconds(i.N)
}

// scopes splits the scope string on spaces and commas; nil when empty.
func scopes(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	if len(f) == 0 {
		return nil
	}
	return f
}

// parseToken reads a token answer of either shape, or turns the answer into a *shoptoken.Error.
func parseToken(resp *httpx.Response, secrets []string) (*tokenFields, error) {
	var env envelope
	if err := resp.DecodeJSON(platform, "token", &env, secrets...); err != nil {
		return nil, notJSONError(resp, err)
	}
	// An issued token has killed the previous one, so a 2xx answer that holds one is taken unless
	// it also names an OAuth error; an unexpected code next to it must not throw it away.
	if resp.StatusCode/100 == 2 && (env.Error == "" || env.Error == "false" || env.Error == "0") {
		switch {
		case env.AccessToken != "":
			return &env.tokenFields, nil
		case env.Data.AccessToken != "":
			return &env.Data.tokenFields, nil
		}
	}
	return nil, tokenError(resp, &env, secrets)
}

// tokenError classifies an answer that carries no token.
func tokenError(resp *httpx.Response, env *envelope, secrets []string) error {
	msg := firstNonEmpty(string(env.Msg), string(env.Message), string(env.ErrorDescription))
	code := firstNonEmpty(string(env.Code), string(env.Error))
	e := httpx.SetMessage(&shoptoken.Error{
		Platform:   platform,
		Op:         "token",
		StatusCode: resp.StatusCode,
		Code:       httpx.Short(code, secrets...),
		RequestID:  httpx.Short(firstNonEmpty(string(env.RequestID), resp.Header.Get("X-Request-Id")), secrets...),
	}, msg, secrets...)
	e.Kind = classify(resp.StatusCode, string(env.Code), string(env.Error), redact.Known(msg, secrets...))
	if e.Kind != nil && e.Message == "" {
		e.Message = httpx.Snippet(resp.Body, secrets...)
	}
	if e.Kind == nil {
		// Nothing says what went wrong: show what came back.
		e.Kind = shoptoken.ErrBadResponse
		if resp.StatusCode/100 != 2 {
			e.Kind = shoptoken.KindForStatus(resp.StatusCode)
		}
		e.Message = "no access_token in the answer"
		if s := httpx.Snippet(resp.Body, secrets...); s != "" {
			e.Message += ": " + s
		}
	}
	return e
}

// notJSONError adjusts the kind of an answer that is not JSON: a 401 from the token endpoint means
// the client credentials (not a token) were refused, and 身份凭证无效 in plain text is what it says.
func notJSONError(resp *httpx.Response, err error) error {
	var e *shoptoken.Error
	if !errors.As(err, &e) {
		return err
	}
	switch {
	case !isJSON(resp.Body) && rejectedText(string(resp.Body)):
		e.Kind = shoptoken.ErrTokenInvalid
	case errors.Is(e.Kind, shoptoken.ErrTokenInvalid): // KindForStatus(401)
		e.Kind = shoptoken.ErrCredentials
	}
	if e.RequestID == "" {
		e.RequestID = httpx.Short(resp.Header.Get("X-Request-Id"))
	}
	return e
}

// OAuth error codes (RFC 6749 §5.2) that mean the client credentials were refused.
var credentialErrors = map[string]bool{"invalid_client": true, "unauthorized_client": true, "invalid_grant": true}

// Phrases of a message about the Account or AccessKey ("client_id或client_secret错误", Passport's
// "Client authentication failed").
var credentialPhrases = []string{"client authentication", "invalid client", "client_id", "client_secret",
	"accesskey", "access key", "accessskey", "account", "账号", "帐号", "密钥", "秘钥"}

// classify returns the kind of a token-endpoint error, nil when nothing in it is recognisable.
func classify(status int, code, oauthErr, msg string) error {
	low := strings.ToLower(msg)
	switch {
	case rejectedText(msg):
		return shoptoken.ErrTokenInvalid
	case status < 500 && (credentialErrors[strings.ToLower(oauthErr)] || phrase.Any(low, credentialPhrases...)):
		return shoptoken.ErrCredentials
	case phrase.Any(low, "too many", "too frequent", "rate limit", "频繁", "限流"):
		return shoptoken.ErrRateLimited
	}
	// The wrapped endpoint answers HTTP 200 with an HTTP-like status in "code".
	if n, err := strconv.Atoi(code); err == nil && n >= 400 && n < 600 && status/100 == 2 {
		status = n
	}
	switch {
	case status == 401:
		return shoptoken.ErrCredentials // at the token endpoint, 401 is about the client
	case status >= 400:
		return shoptoken.KindForStatus(status)
	case oauthErr != "":
		return shoptoken.ErrBadRequest
	case code != "" && code != "0" && code != "200":
		return shoptoken.ErrBadRequest // the platform refused, with a code of its own
	}
	return nil
}

// rejectedText reports whether a platform message says the access token was rejected:
// 身份凭证无效 (or 已失效, 已过期) or its English forms. It matches phrases about the access token
// or credential only: a Taobao session expiring (淘宝授权过期) is not vv-tool rejecting our token.
func rejectedText(msg string) bool {
	if strings.Contains(msg, "身份凭证") && phrase.Any(msg, "无效", "失效", "过期") {
		return true
	}
	return phrase.Any(strings.ToLower(msg), "invalid credential", "credential is invalid",
		"credentials are invalid", "invalid access token", "access token is invalid", "access token invalid",
		"invalid token", "token invalid", "token is invalid")
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func isJSON(body []byte) bool {
	b := bytes.TrimSpace(bytes.TrimPrefix(body, utf8BOM))
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}
