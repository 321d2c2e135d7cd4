package youzan

import (
	"strconv"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/check"
	"github.com/shoptoken/shoptoken/internal/httpx"
	"github.com/shoptoken/shoptoken/internal/redact"
)

// DefaultAuthorizeURL is the page where a merchant authorizes a tool app again and Youzan sends
// the browser back with a code and the state [public: Youzan cloud FAQ 33403, as quoted by third
// parties; unverified]. It is another host than the token endpoint's (DefaultBaseURL).
const DefaultAuthorizeURL = "https://diy.youzanyun.com/oauth/authorize"

// opAuthorize names AuthCodeURL in errors.
const opAuthorize = "authorize"

// AuthCodeOption adds a parameter to the authorization URL.
type AuthCodeOption func(q *httpx.AuthQuery)

// SetAuthURLParam sets any other parameter of the authorization URL (scope, say). It can also
// replace one that AuthCodeURL sets (client_id, response_type, state, redirect_uri).
func SetAuthURLParam(key, value string) AuthCodeOption {
	return func(q *httpx.AuthQuery) { q.Set(key, value) }
}

// AuthCodeURL returns the URL of the page where a merchant authorizes the tool app:
// {AuthorizeURL}?client_id=&response_type=code[&state=][&redirect_uri=]. Send the merchant's
// browser there; Youzan sends it back to the app's callback with ?code= and the state, and
// ExchangeCode turns the code into the shop's token (tool apps only: a self-use app never needs
// one).
//
// state binds the answer to this browser: keep it (in a cookie, say) and compare it with the
// callback's. An empty state is left out of the URL. redirectURI is the callback; empty leaves it
// out, and Youzan then uses the callback address registered in the console (it accepts no other,
// and no query on it) [public]. Pass the same value to ExchangeCode.
//
// The parameters are those of Youzan's OAuth 2.0 documentation (the open platform's, before
// Youzan cloud) and the FAQ's client_id and state [public]; which of them the cloud's page reads
// is [unverified].
//
// The error is a *shoptoken.Error, and no URL is returned, when ClientID is missing
// (ErrBadRequest), when AuthorizeURL breaks the rule BaseURL follows (ErrBadRequest), or when
// redirectURI, the given one or one set with SetAuthURLParam, is not an absolute http or https URL
// without user information or fragment (ErrBadRequest): a javascript: or data: URI there would
// have Youzan send the code to a script.
func (c Config) AuthCodeURL(state, redirectURI string, opts ...AuthCodeOption) (string, error) {
	if err := check.Required(platform, opAuthorize, shoptoken.ErrBadRequest, "Config.ClientID", c.ClientID); err != nil {
		return "", err
	}
	page, err := c.authorizeURL()
	if err != nil {
		return "", err
	}
	var q httpx.AuthQuery
	q.Set("client_id", c.ClientID)
	q.Set("response_type", "code")
	if state != "" {
		q.Set("state", state)
	}
	if redirectURI != "" {
		q.Set("redirect_uri", redirectURI)
	}
	for _, o := range opts {
		if o != nil {
			o(&q)
		}
	}
	if uri, ok := q.Get("redirect_uri"); ok {
		if err := checkRedirectURI(uri); err != nil {
			return "", err
		}
	}
	return q.URL(page), nil
}

// authorizeURL returns the validated AuthorizeURL, or the default.
func (c Config) authorizeURL() (string, error) {
	if c.AuthorizeURL == "" {
		return DefaultAuthorizeURL, nil
	}
	plain := httpx.HTTPLoopbackOnly
	if c.AllowHTTP {
		plain = httpx.HTTPAllowed
	}
	if err := httpx.CheckBaseURL(platform, opAuthorize, "Config.AuthorizeURL", c.AuthorizeURL, plain); err != nil {
		return "", err
	}
	return c.AuthorizeURL, nil
}

// checkRedirectURI accepts an absolute http or https URL with a host and without user information
// or fragment (RFC 6749 section 3.1.2): the only places a code may be sent to.
func checkRedirectURI(uri string) error {
	if !httpx.RedirectURIOK(uri) {
		return &shoptoken.Error{Platform: platform, Op: opAuthorize, Kind: shoptoken.ErrBadRequest,
			Message: "redirect_uri " + strconv.Quote(httpx.Short(redact.URL(uri))) + " is not an absolute http or https URL without user information or fragment"}
	}
	return nil
}
