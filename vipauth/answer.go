package vipauth

import (
	"strings"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/httpx"
	"github.com/shoptoken/shoptoken/internal/jsonx"
)

// answer is every shape the OAuth2 endpoints answer with: a token, token information, the
// platform's {"code","msg"} envelope, and (in case the real server speaks plain OAuth2, which
// nobody could confirm) RFC 6749's {"error","error_description"}.
//
// Only access_token must have its documented type. Every other member is read whatever its JSON
// type (jsonx.Text, jsonx.MaybeInt): the code that bought a token is spent, so the token must
// never be thrown away because open_id came as a number or expires_in as a word.
type answer struct {
	AccessToken *string        `json:"access_token"`
	ExpiresIn   jsonx.MaybeInt `json:"expires_in"`
	OpenID      jsonx.Text     `json:"open_id"`
	TokenType   jsonx.Text     `json:"token_type"`
	CreateAt    jsonx.Text     `json:"create_at"`
	ExpiresTime jsonx.Text     `json:"expires_time"`

	Code             *jsonx.Text `json:"code"` // nil when absent or null
	Msg              jsonx.Text  `json:"msg"`
	Error            jsonx.Text  `json:"error"`
	ErrorDescription jsonx.Text  `json:"error_description"`
	RequestID        jsonx.Text  `json:"request_id"`
}

// code is the platform's code verbatim ("" when there is none).
func (a *answer) code() string {
	if a.Code == nil {
		return ""
	}
	return string(*a.Code)
}

// decode reads resp into an answer; a body that is not JSON of that shape is an error.
func decode(resp *httpx.Response, op string, secrets []string) (*answer, error) {
	var a answer
	if err := resp.DecodeJSON(platform, op, &a, secrets...); err != nil {
		return nil, err
	}
	return &a, nil
}

// failure turns an answer that is not a success into an error, keeping the platform's code and
// message (less any secret they echo; see httpx.SetMessage).
func (a *answer) failure(resp *httpx.Response, op string, secrets []string) error {
	e := &shoptoken.Error{
		Platform:   platform,
		Op:         op,
		StatusCode: resp.StatusCode,
		RequestID:  a.requestID(resp, secrets),
	}
	var code, msg string
	switch {
	case a.code() != "":
		code, msg = a.code(), string(a.Msg)
	case a.Error != "":
		code, msg = string(a.Error), string(a.ErrorDescription)
	case a.Msg != "":
		msg = string(a.Msg)
	default:
		// JSON, but no envelope we know. The request id, if any, still helps the operator.
		if err := resp.StatusError(platform, op, secrets...); err != nil {
			if se, ok := err.(*shoptoken.Error); ok {
				se.RequestID = e.RequestID
			}
			return err
		}
		what := "answer has neither access_token nor an error code"
		if a.AccessToken != nil {
			what = "answer has an empty access_token"
		}
		return a.bad(resp, op, what, secrets)
	}
	e.Code = httpx.Short(code, secrets...)
	httpx.SetMessage(e, msg, secrets...)
	e.Kind = classify(op, resp.StatusCode, e.Code, e.RawMessage)
	return e
}

// bad reports an answer that parsed but makes no sense.
func (a *answer) bad(resp *httpx.Response, op, what string, secrets []string) error {
	msg := what
	if s := httpx.Snippet(resp.Body, secrets...); s != "" {
		msg += ": " + s
	}
	return &shoptoken.Error{Platform: platform, Op: op, StatusCode: resp.StatusCode,
		RequestID: a.requestID(resp, secrets), Kind: shoptoken.ErrBadResponse, Message: msg}
}

// requestID is the answer's request_id, else the X-Request-Id header, made short and safe to show
// (httpx.Short).
func (a *answer) requestID(resp *httpx.Response, secrets []string) string {
	id := string(a.RequestID)
	if id == "" {
		id = resp.Header.Get("X-Request-Id")
	}
	return httpx.Short(id, secrets...)
}

// classify maps a platform error to a kind. Only 30111 (access token invalid) and the revoked
// answer ({"code":0,"msg":"token revoked"}) are documented; vip.com's code table is not public,
// so other answers are read by their RFC 6749 error name or their message, and what stays
// unknown gets the op's conservative kind.
func classify(op string, status int, code, msg string) error {
	if status >= 500 {
		return shoptoken.ErrUnavailable
	}
	switch code {
	case "30111":
		return shoptoken.ErrTokenInvalid
	case "0":
		// Not a success: the answer has no token. token_info documents this shape for a
		// revoked token; to an exchange it is an answer that claims success and carries nothing.
		if op == "token_info" {
			return shoptoken.ErrReauthorize
		}
		if op == "exchange" {
			return shoptoken.ErrBadResponse
		}
	// RFC 6749 section 5.2 and RFC 6750 names, should the server speak plain OAuth2.
	case "invalid_grant", "access_denied":
		return shoptoken.ErrReauthorize
	case "invalid_client", "unauthorized_client":
		return shoptoken.ErrCredentials
	case "invalid_request", "unsupported_grant_type", "invalid_scope", "unsupported_response_type":
		return shoptoken.ErrBadRequest
	case "invalid_token":
		return shoptoken.ErrTokenInvalid
	case "server_error", "temporarily_unavailable":
		return shoptoken.ErrUnavailable
	}
	if k := kindFromMessage(msg); k != nil {
		return k
	}
	switch {
	case status == 401 && op == "exchange":
		return shoptoken.ErrCredentials // an OAuth2 token endpoint's 401 is client authentication
	case status == 401 || status == 403 || status == 429:
		return shoptoken.KindForStatus(status)
	case op == "exchange":
		// The code is spent or useless whatever went wrong: a new authorization is the way on.
		return shoptoken.ErrReauthorize
	}
	return shoptoken.ErrBadRequest
}

// messageKinds are read in order: the first rule with a word in msg wins. "missing parameter:
// client_id" is a bad request, not bad credentials, so parameter words come first.
var messageKinds = []struct {
	words []string
	kind  error
}{
	{[]string{"revoked", "回收", "撤销", "取消授权", "冻结", "frozen", "重新授权", "reauthor"}, shoptoken.ErrReauthorize},
	{[]string{"missing", "parameter", "参数", "grant_type", "response_type", "redirect", "回调"}, shoptoken.ErrBadRequest},
	{[]string{"access token", "access_token", "令牌"}, shoptoken.ErrTokenInvalid},
	{[]string{"client", "secret", "appkey", "app key", "应用", "密钥"}, shoptoken.ErrCredentials},
	{[]string{"code", "授权码"}, shoptoken.ErrReauthorize},
	{[]string{"too many", "frequen", "rate limit", "频繁", "限流"}, shoptoken.ErrRateLimited},
	{[]string{"busy", "try again later", "繁忙", "稍后"}, shoptoken.ErrUnavailable},
}

func kindFromMessage(msg string) error {
	m := strings.ToLower(msg)
	for _, r := range messageKinds {
		for _, w := range r.words {
			if strings.Contains(m, w) {
				return r.kind
			}
		}
	}
	return nil
}

func is2xx(status int) bool { return status >= 200 && status < 300 }
