package vipauth

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/check"
	"github.com/shoptoken/shoptoken/internal/httpx"
	"github.com/shoptoken/shoptoken/internal/redact"
)

// OOB is the redirect URI of vip.com's native-application flow: with it as Config.RedirectURL the
// authorization page shows the code to the user, who copies it into the application.
const OOB = "urn:ietf:wg:oauth:2.0:oob"

// DefaultBaseURL is where vip.com's OAuth2 endpoints live.
const DefaultBaseURL = "https://auth.vip.com/oauth2"

// platform names vip.com OAuth2 in every *shoptoken.Error.
const platform = "vipauth"

// Config holds what vip.com issues to your application. ClientID and ClientSecret are required
// for Exchange; ClientID and RedirectURL for AuthCodeURL. A value of white space only counts as
// missing, for these and for every code, IP and token passed to a method.
//
// A Config is a plain value: copy it freely. Its methods are safe for concurrent use. It prints
// and logs with ClientSecret shortened, in every fmt verb and slog.
type Config struct {
	// ClientID is the application's key on the vip.com open platform (vop.vip.com).
	ClientID string
	// ClientSecret is the application's secret. Exchange sends it where Encoding says (by default
	// in the query string of a POST, as vip.com documents); it never appears in an error or a log
	// line.
	ClientSecret string
	// RedirectURL is the registered callback the browser returns to with ?code=, or OOB for a
	// native application. Exchange sends the same value, as vip.com requires.
	RedirectURL string

	// Encoding is where Exchange, TokenInfo and Revoke put their parameters. The zero value,
	// Query, is what every example in vip.com's documentation does; FormBody is an option (see
	// the package documentation). Any other value is refused before anything is sent.
	Encoding Encoding

	// BaseURL overrides https://auth.vip.com/oauth2 (DefaultBaseURL), for tests and proxies; the
	// endpoints are BaseURL+"/authorize", "/token", "/token_info" and "/revoke_token". Empty means
	// DefaultBaseURL. It must be an absolute https URL without user information, query or
	// fragment; http is accepted for a loopback host (127.0.0.1, ::1, localhost: an emulator) or
	// with AllowHTTP.
	BaseURL string
	// AllowHTTP accepts a BaseURL with plain http to a host that is not loopback, e.g. a proxy on
	// a network you trust. The client secret, codes and tokens then travel unencrypted. false (the
	// default) refuses such a BaseURL before anything is sent.
	AllowHTTP bool
	// HTTPClient sends the requests. If nil, a client shared by the whole process, with a
	// 30-second overall timeout (5 s to connect, 15 s to the first response byte), is used.
	HTTPClient *http.Client
	// Logger receives a Debug record per request (method, redacted URL, status, duration) and,
	// through NewSource and NewApp, the events of every Cache and the Keeper's sweeps. If nil,
	// nothing is logged.
	Logger *slog.Logger
	// Clock is the source of time of everything built from the Config: the issue time Exchange
	// stamps on a token, every Cache of NewSource and NewApp (expiry, grant warning) and the
	// Keeper. nil means the system clock. Tests give the shoptokentest.Clock they give the
	// emulator.
	Clock shoptoken.Clock
}

// Encoding is where the OAuth2 endpoints' parameters travel.
type Encoding int

const (
	// Query puts every parameter in the query string of the POST, as every example in vip.com's
	// documentation does (token, token_info and revoke_token alike). It is the default: it is
	// the only placement the documentation shows.
	Query Encoding = iota
	// FormBody puts the parameters in an application/x-www-form-urlencoded POST body, as OAuth
	// 2.0 prescribes (RFC 6749 §4.1.3), so that the secret, the code and the token stay out of
	// URLs. Whether vip.com reads a body is not confirmed.
	FormBody
)

// String returns "query" or "form_body".
func (e Encoding) String() string {
	switch e {
	case Query:
		return "query"
	case FormBody:
		return "form_body"
	}
	return "Encoding(" + strconv.Itoa(int(e)) + ")"
}

// shown is e as a Config prints it: "" (left out) for the default, Query.
func (e Encoding) shown() string {
	if e == Query {
		return ""
	}
	return e.String()
}

// post returns the POST of op to the endpoint name, its params placed as c.Encoding says.
func (c Config) post(op, name string, params url.Values, idempotent bool, secrets []string) (httpx.Request, error) {
	req := httpx.Request{Op: op, Method: http.MethodPost, URL: c.endpoint(name), Idempotent: idempotent, Secrets: secrets}
	switch c.Encoding {
	case Query:
		req.Query = params
	case FormBody:
		req.Form = params
	default:
		return req, &shoptoken.Error{Platform: platform, Op: op, Kind: shoptoken.ErrBadRequest,
			Message: "Config.Encoding is neither Query nor FormBody: " + c.Encoding.String()}
	}
	return req, nil
}

// view is how c prints: ClientSecret shortened, URLs without secrets.
func (c Config) view() *redact.View {
	return redact.NewView("vipauth.Config").
		Plain("ClientID", "client_id", c.ClientID).
		Secret("ClientSecret", "client_secret", c.ClientSecret).
		URL("RedirectURL", "redirect_url", c.RedirectURL).
		Plain("Encoding", "encoding", c.Encoding.shown()).
		URL("BaseURL", "base_url", c.BaseURL).
		Flag("AllowHTTP", "allow_http", c.AllowHTTP)
}

// String describes c with ClientSecret redacted.
func (c Config) String() string { return c.view().String() }

// GoString is used by %#v; it redacts like String.
func (c Config) GoString() string { return c.String() }

// Format prints the redacted form for every verb, so that %v, %+v and %#v never show the secret.
func (c Config) Format(f fmt.State, verb rune) { c.view().Format(f, verb) }

// LogValue implements slog.LogValuer with ClientSecret redacted.
func (c Config) LogValue() slog.Value { return c.view().LogValue() }

func (c Config) client() *httpx.Client {
	// Token endpoints are never retried after the request may have arrived (a code is single
	// use); httpx retries only failures to connect for non-idempotent requests.
	// Shared: one client for every call with the same HTTPClient and Logger, not one per call.
	return httpx.Shared(httpx.Config{Platform: platform, HTTPClient: c.HTTPClient, Logger: c.Logger})
}

// now reads Clock, or the system clock when there is none.
func (c Config) now() time.Time {
	if c.Clock != nil {
		return c.Clock.Now()
	}
	return time.Now()
}

// endpoint returns BaseURL (or the default) joined with name.
func (c Config) endpoint(name string) string {
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	return strings.TrimRight(base, "/") + "/" + name
}

// needFields returns an error naming the first empty or blank field of fields (name, value pairs).
func needFields(op string, kind error, fields ...string) error {
	return check.Required(platform, op, kind, fields...)
}

// checkBaseURL applies httpx.CheckBaseURL to BaseURL: vip.com serves HTTPS, so plain http only
// to a loopback host or with AllowHTTP.
func (c Config) checkBaseURL(op string) error {
	plain := httpx.HTTPLoopbackOnly
	if c.AllowHTTP {
		plain = httpx.HTTPAllowed
	}
	return httpx.CheckBaseURL(platform, op, "Config.BaseURL", c.BaseURL, plain)
}
