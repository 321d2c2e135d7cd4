package vipauth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/httpx"
	"github.com/shoptoken/shoptoken/internal/redact"
)

// AuthCodeOption adds a parameter to the authorization URL.
type AuthCodeOption func(q *httpx.AuthQuery)

// Mobile asks for vip.com's mobile login and consent pages (display=mobile).
func Mobile() AuthCodeOption {
	return func(q *httpx.AuthQuery) { q.Set("display", "mobile") }
}

// SetAuthURLParam sets any other parameter of the authorization URL. It can also replace one that
// AuthCodeURL sets (client_id, response_type, redirect_uri, state).
func SetAuthURLParam(key, value string) AuthCodeOption {
	return func(q *httpx.AuthQuery) { q.Set(key, value) }
}

// AuthCodeURL returns the URL of vip.com's login and consent page:
// {BaseURL}/authorize?client_id=&response_type=code&redirect_uri=[&state=][&display=mobile].
// Send the user's browser there (a redirect), or show it to the user of a native application
// (RedirectURL OOB).
//
// state binds the answer to this browser: pass NewState() and keep it (in a cookie, say) for
// ParseCallback. An empty state is left out of the URL, and ParseCallback will then refuse the
// callback.
//
// The error is a *shoptoken.Error, and no URL is returned, when ClientID is missing
// (ErrCredentials), when BaseURL breaks the rule Exchange applies to it (ErrBadRequest), or when
// the redirect_uri, RedirectURL or one set with SetAuthURLParam, is missing or is neither OOB
// nor an absolute http or https URL without user information or fragment (ErrBadRequest): a
// javascript: or data: URI there would have vip.com send the code to a script.
func (c Config) AuthCodeURL(state string, opts ...AuthCodeOption) (string, error) {
	const op = "authorize"
	if err := needFields(op, shoptoken.ErrCredentials, "Config.ClientID", c.ClientID); err != nil {
		return "", err
	}
	if err := c.checkBaseURL(op); err != nil {
		return "", err
	}
	var q httpx.AuthQuery
	q.Set("client_id", c.ClientID)
	q.Set("response_type", "code")
	if c.RedirectURL != "" {
		q.Set("redirect_uri", c.RedirectURL)
	}
	if state != "" {
		q.Set("state", state)
	}
	for _, o := range opts {
		if o != nil {
			o(&q)
		}
	}
	uri, _ := q.Get("redirect_uri")
	if err := checkRedirectURI(op, uri); err != nil {
		return "", err
	}
	return q.URL(c.endpoint("authorize")), nil
}

// checkRedirectURI accepts OOB or an absolute http or https URL with a host and without user
// information or fragment (RFC 6749 section 3.1.2), the only places vip.com may send a code to.
func checkRedirectURI(op, uri string) error {
	if err := needFields(op, shoptoken.ErrBadRequest, "Config.RedirectURL", uri); err != nil {
		return err
	}
	if uri == OOB {
		return nil
	}
	if !httpx.RedirectURIOK(uri) {
		return &shoptoken.Error{Platform: platform, Op: op, Kind: shoptoken.ErrBadRequest,
			Message: "redirect_uri " + strconv.Quote(httpx.Short(redact.URL(uri))) + " is neither vipauth.OOB nor an absolute http or https URL without user information or fragment"}
	}
	return nil
}

// NewState returns a fresh random state for AuthCodeURL: 256 bits from crypto/rand, encoded as
// 43 URL-safe characters.
func NewState() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (Go 1.24+): it crashes the program rather than return short
	return base64.RawURLEncoding.EncodeToString(b[:])
}

var (
	// ErrStateMismatch is the cause (Err) of the error ParseCallback returns when the callback's
	// state is missing or is not the one this browser was sent with: the request may be forged
	// (cross-site request forgery). Its Kind is shoptoken.ErrBadRequest; do not exchange the code,
	// start the authorization again.
	ErrStateMismatch = errors.New("state missing or does not match: possible cross-site request forgery, start the authorization again")
	// ErrDenied is the cause (Err) of the error ParseCallback returns when the user refused the
	// authorization (or vip.com reported an error it did not explain). Its Kind is
	// shoptoken.ErrReauthorize: only the user authorizing again helps.
	ErrDenied = errors.New("the user did not authorize the application")
)

// ParseCallback checks the query of the request that vip.com's redirect sent to RedirectURL and
// returns the authorization code, to pass to Exchange.
//
// wantState is the state given to AuthCodeURL for this browser. The query's state must equal it
// (compared in constant time); if either is empty or they differ, ParseCallback returns a
// *shoptoken.Error with Kind shoptoken.ErrBadRequest and Err ErrStateMismatch, and the code, if
// any, must not be used. The error never contains the code or the state.
//
// When vip.com sent error and error_description instead of a code (the user clicked cancel), the
// error has Code = error, Message = error_description and Kind shoptoken.ErrReauthorize with Err
// ErrDenied; the OAuth2 codes that mean something else are mapped to their kinds
// (unauthorized_client → ErrCredentials, server_error and temporarily_unavailable →
// ErrUnavailable, invalid_request, invalid_scope and unsupported_response_type → ErrBadRequest).
func ParseCallback(query url.Values, wantState string) (code string, err error) {
	got := query.Get("state")
	if wantState == "" || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(wantState)) != 1 {
		return "", &shoptoken.Error{Platform: platform, Op: "callback", Kind: shoptoken.ErrBadRequest, Err: ErrStateMismatch}
	}
	if e := query.Get("error"); e != "" {
		// The description is the platform's free text: shorten the state and any code it repeats.
		secrets := []string{got, query.Get("code")}
		cerr := httpx.SetMessage(&shoptoken.Error{Platform: platform, Op: "authorize", Code: httpx.Short(e, secrets...)},
			query.Get("error_description"), secrets...)
		switch e {
		case "unauthorized_client":
			cerr.Kind = shoptoken.ErrCredentials
		case "server_error", "temporarily_unavailable":
			cerr.Kind = shoptoken.ErrUnavailable
		case "invalid_request", "invalid_scope", "unsupported_response_type":
			cerr.Kind = shoptoken.ErrBadRequest
		default:
			// access_denied, or the platform's own code for "the user clicked cancel", which the
			// documentation does not name.
			cerr.Kind, cerr.Err = shoptoken.ErrReauthorize, ErrDenied
		}
		return "", cerr
	}
	code = query.Get("code")
	if code == "" {
		return "", &shoptoken.Error{Platform: platform, Op: "callback", Kind: shoptoken.ErrBadResponse,
			Message: "callback carries neither code nor error"}
	}
	return code, nil
}
