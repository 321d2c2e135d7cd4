package xoauth2

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/oauth2"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/httpx"
	"github.com/shoptoken/shoptoken/internal/redact"
)

// kindOfCode maps the error codes of RFC 6749 section 5.2 (and the few others token endpoints
// answer) to kinds. A code not listed is judged by the HTTP status.
var kindOfCode = map[string]error{
	// The refresh token is dead, expired, revoked or was issued to another client: only a person
	// authorizing again brings the grant back.
	"invalid_grant": shoptoken.ErrReauthorize,
	// The resource owner or the platform withdrew the grant.
	"access_denied": shoptoken.ErrReauthorize,
	// The client's own credentials are wrong, or it may not use the refresh-token grant.
	"invalid_client":      shoptoken.ErrCredentials,
	"unauthorized_client": shoptoken.ErrCredentials,
	// The request itself is wrong: retrying the same request cannot help.
	"invalid_request":        shoptoken.ErrBadRequest,
	"unsupported_grant_type": shoptoken.ErrBadRequest,
	"invalid_scope":          shoptoken.ErrBadRequest,
	// Passing trouble at the platform.
	"server_error":            shoptoken.ErrUnavailable,
	"temporarily_unavailable": shoptoken.ErrUnavailable,
	"slow_down":               shoptoken.ErrRateLimited,
}

// kindOfStatus maps the status of an answer with no known error code to a kind. It differs from
// shoptoken.KindForStatus on 401, which a token endpoint answers when the client's own
// authentication failed (RFC 6749 section 5.2), not when a token was rejected.
func kindOfStatus(status int) error {
	switch {
	case status == http.StatusUnauthorized:
		return shoptoken.ErrCredentials
	case status >= 300 && status < 400:
		return shoptoken.ErrBadResponse
	case status >= 200 && status < 300:
		return shoptoken.ErrBadResponse // an error member in a 200 answer, with a code we do not know
	}
	return shoptoken.KindForStatus(status)
}

// requestIDHeaders are the response headers that carry a platform's request or trace id.
var requestIDHeaders = []string{"X-Request-Id", "Request-Id", "X-Tt-Logid", "X-Trace-Id"}

// classify turns an error of x/oauth2's token retrieval into a *shoptoken.Error whose text holds
// none of secrets and no token the answer carried.
//
// An *oauth2.RetrieveError is not wrapped: its Error() and Body show the answer as it came, which
// may echo the refresh token or carry new tokens. Its error code, description and status are
// copied into the *shoptoken.Error instead, shortened and scrubbed.
func (r *Refresher) classify(err error, got answer, secrets []string) error {
	platform := r.c.platform()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		// x/oauth2's own errors are plain text; the kind follows from what they say.
		kind, msg := shoptoken.KindOf(err), "token request failed"
		switch s := err.Error(); {
		case strings.Contains(s, "missing access_token"):
			kind, msg = shoptoken.ErrBadResponse, "answer has no access_token"
		case strings.Contains(s, "cannot parse"):
			kind, msg = shoptoken.ErrBadResponse, "answer could not be read"
		case strings.Contains(s, "cannot fetch token"):
			kind, msg = shoptoken.ErrUnavailable, "answer cut short"
		case kind == shoptoken.ErrUnavailable:
			msg = "token endpoint unreachable"
		}
		return &shoptoken.Error{Platform: platform, Op: "refresh", StatusCode: got.status, RequestID: requestID(got.header, secrets),
			Kind: kind, Message: msg, Err: redact.Err(err, secrets...)}
	}
	if re.Response != nil {
		got = answer{status: re.Response.StatusCode, header: re.Response.Header}
	}
	e := &shoptoken.Error{Platform: platform, Op: "refresh", StatusCode: got.status, RequestID: requestID(got.header, secrets)}
	code := strings.TrimSpace(re.ErrorCode)
	e.Code = httpx.Short(code, secrets...)
	e.Kind = kindOfCode[strings.ToLower(code)]
	if e.Kind == nil {
		e.Kind = kindOfStatus(e.StatusCode)
	}
	switch {
	case re.ErrorDescription != "":
		// The platform's own words, with any secret we sent shortened; a token it issued in the
		// same breath is not in them (it would be in another member).
		httpx.SetMessage(e, re.ErrorDescription, secrets...)
	case e.StatusCode >= 300 && e.StatusCode < 400:
		e.Message = "HTTP " + strconv.Itoa(e.StatusCode) + " redirect not followed: a token request carries secrets and goes to the TokenURL only"
	case code == "":
		// No RFC 6749 error: show the status and a snippet of the body, which redacts every
		// member named like a secret as well as secrets.
		msg := "HTTP " + strconv.Itoa(e.StatusCode)
		if t := http.StatusText(e.StatusCode); t != "" {
			msg += " " + t
		}
		if s := httpx.Snippet(re.Body, secrets...); s != "" {
			msg += ": " + s
		}
		e.Message = msg
	}
	return e
}

// requestID returns the first request id header of h, made safe to show; "" when there is none.
func requestID(h http.Header, secrets []string) string {
	for _, name := range requestIDHeaders {
		if v := h.Get(name); v != "" {
			return httpx.Short(v, secrets...)
		}
	}
	return ""
}
