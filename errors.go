package shoptoken

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// The kinds of failure. Every *Error carries one of them in Kind, and errors.Is(err, kind) is true
// for it, however deeply the *Error is wrapped.
var (
	// ErrTokenInvalid: the platform rejected the access token (expired, superseded, revoked).
	// Refresh once and retry; Invalidate does that without storming the platform.
	ErrTokenInvalid = errors.New("access token rejected")
	// ErrReauthorize: the grant is gone (refresh token dead, grant revoked or expired). Only a person
	// authorizing again can fix it; retrying will not.
	ErrReauthorize = errors.New("authorization must be granted again")
	// ErrCredentials: the application's own credentials (key, secret, vekey) are wrong.
	ErrCredentials = errors.New("application credentials rejected")
	// ErrRateLimited: the platform asks the caller to slow down.
	ErrRateLimited = errors.New("rate limited")
	// ErrPermission: the token is fine but this call is not allowed (scope, IP allowlist).
	ErrPermission = errors.New("permission denied")
	// ErrUnavailable: network failure, timeout or a 5xx answer. Retryable.
	ErrUnavailable = errors.New("platform unavailable")
	// ErrBadResponse: the answer could not be understood (HTML page, truncated or malformed JSON).
	ErrBadResponse = errors.New("bad response")
	// ErrBadRequest: the platform refused the request itself (unknown API, bad parameters).
	ErrBadRequest = errors.New("bad request")
	// ErrNotFound: a Store holds no token under the key.
	ErrNotFound = errors.New("shoptoken: token not found")
	// ErrConflict: a Store's compare-and-swap lost: someone else saved first.
	ErrConflict = errors.New("shoptoken: version conflict")
	// ErrCorrupt: a Store holds something under the key that it cannot read as a token (damaged,
	// written by another program, a version out of range). Load returns it, wrapped, together
	// with the version to pass to Save as prev to replace the damaged value; a Cache does that
	// with its next token and reports the damage once (EventStoreCorrupt).
	ErrCorrupt = errors.New("shoptoken: stored token is damaged")
)

// Error describes a failed platform call. Its fields never hold a secret the SDK knows of.
type Error struct {
	Platform   string // "veapi", "vvtool", "vipauth", "youzan"; empty for the engine itself
	Op         string // "token", "refresh", "exchange", "token_info", "revoke", "call"
	StatusCode int    // HTTP status; 0 when no answer arrived
	Code       string // the platform's own code: one printable line of at most 64 characters
	Message    string // the platform's message as one printable line of at most 200 characters, or the SDK's own words
	RequestID  string // the platform's request or trace id: one printable line of at most 64 characters
	Kind       error  // one of the sentinels above; errors.Is(e, e.Kind) is true
	Err        error  // the cause, when there is one (network, decode)

	// RawMessage is the platform's message in full, as it arrived except that known secrets are
	// shortened (as in Code, Message and RequestID); empty when the platform sent none. It is raw:
	// it may be long (up to the answer's size limit) and hold line breaks, terminal escapes or
	// other control characters, which Message never does. Error() does not show it; escape it
	// before printing it anywhere.
	RawMessage string
}

// Error reads like "youzan: token: 1000 应用信息错误 (request_id 5f2c…)".
func (e *Error) Error() string {
	var b strings.Builder
	if e.Platform != "" {
		b.WriteString(e.Platform)
		b.WriteString(": ")
	}
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	detail := strings.TrimSpace(e.Code + " " + e.Message)
	switch {
	case detail != "":
		b.WriteString(detail)
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	case e.StatusCode != 0:
		b.WriteString("HTTP " + strconv.Itoa(e.StatusCode))
	case e.Kind != nil:
		b.WriteString(e.Kind.Error())
	default:
		b.WriteString("error")
	}
	if detail != "" && e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if e.RequestID != "" {
		b.WriteString(" (request_id " + e.RequestID + ")")
	}
	return b.String()
}

// Is reports whether target is e's Kind, so errors.Is(err, ErrTokenInvalid) works.
func (e *Error) Is(target error) bool { return e.Kind != nil && target == e.Kind }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// IsPermanent reports whether err is a failure that retrying cannot fix: ErrReauthorize or
// ErrCredentials. The Cache reports such errors at once instead of retrying them in a loop.
func IsPermanent(err error) bool {
	return errors.Is(err, ErrReauthorize) || errors.Is(err, ErrCredentials)
}

// KindOf returns the kind of err: the Kind of the *Error it wraps, ErrUnavailable for network
// failures and timeouts, ErrBadResponse otherwise. It returns nil for a nil err.
func KindOf(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) && e.Kind != nil {
		return e.Kind
	}
	for _, k := range []error{ErrTokenInvalid, ErrReauthorize, ErrCredentials, ErrRateLimited,
		ErrPermission, ErrUnavailable, ErrBadResponse, ErrBadRequest, ErrNotFound, ErrConflict, ErrCorrupt} {
		if errors.Is(err, k) {
			return k
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return ErrUnavailable
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return ErrUnavailable
	}
	return ErrBadResponse
}

// KindForStatus maps an HTTP status with no better information to a kind: 401 → ErrTokenInvalid,
// 403 → ErrPermission, 429 → ErrRateLimited, 5xx and 408 → ErrUnavailable, other 4xx →
// ErrBadRequest, anything else → ErrBadResponse.
func KindForStatus(status int) error {
	switch {
	case status == http.StatusUnauthorized:
		return ErrTokenInvalid
	case status == http.StatusForbidden:
		return ErrPermission
	case status == http.StatusTooManyRequests:
		return ErrRateLimited
	case status == http.StatusRequestTimeout || status >= 500:
		return ErrUnavailable
	case status >= 400:
		return ErrBadRequest
	}
	return ErrBadResponse
}
