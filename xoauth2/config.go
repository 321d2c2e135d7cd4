package xoauth2

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/check"
	"github.com/shoptoken/shoptoken/internal/httpx"
	"github.com/shoptoken/shoptoken/internal/redact"
)

// DefaultPlatform names the platform in Keys and errors when Config.Platform is empty.
const DefaultPlatform = "oauth2"

// Config describes one OAuth2 client of a platform whose token endpoint speaks RFC 6749 (a JSON or
// form answer with access_token, token_type, expires_in, refresh_token; errors as error and
// error_description) and renews grants with the refresh-token grant. Config is a value: copy it
// freely; the *oauth2.Config it points to is copied by NewRefresher, so later changes to it do not
// reach a Refresher already made. Config prints and logs with the client secret shortened, in
// every fmt verb and slog.
type Config struct {
	// OAuth2 is the client's registration. ClientID and Endpoint.TokenURL are required;
	// ClientSecret is sent when it is not empty. Endpoint.AuthStyle must be oauth2.AuthStyleInParams
	// or oauth2.AuthStyleInHeader: with oauth2.AuthStyleAutoDetect (the zero value) x/oauth2 sends
	// a refused token request a second time the other way, and a refresh token is never sent
	// twice. Scopes and RedirectURL are not used: a refresh keeps the scope granted.
	//
	// TokenURL must be an absolute https URL without user information or fragment; http is
	// accepted for a loopback host (a test server) or with AllowHTTP. A query is kept (some
	// platforms want a fixed parameter there) and shown redacted in errors.
	OAuth2 *oauth2.Config
	// Platform names the platform in Keys, errors and events: a lower-case name such as "acme" or
	// "acme-open". Empty means DefaultPlatform ("oauth2").
	Platform string
	// AllowHTTP accepts a TokenURL with plain http to a host that is not loopback, e.g. a proxy on
	// a network you trust. The client secret and the refresh tokens then travel unencrypted. false
	// (the default) refuses such a URL before anything is sent.
	AllowHTTP bool
	// HTTPClient sends the token requests. If nil, the *http.Client that the refresh's context
	// carries under oauth2.HTTPClient is used (a Cache's refresh runs on the values of the context
	// of the caller that started it; a planned refresh ahead of expiry on none), and when there is
	// none a client shared by the whole process with a 30-second overall timeout (5 s to connect,
	// 15 s to the response headers). Whichever is used, a redirect is never followed: the request
	// carries the client secret and a refresh token.
	HTTPClient *http.Client
	// SubjectField names the member of the token answer that says whose grant it is ("open_id",
	// "uid", "user_id"); its value becomes Token.Subject. Empty, or a member the answer lacks,
	// keeps the Subject of the token being refreshed.
	SubjectField string
	// ExtraFields names members of the token answer to keep, as text, in Token.Extra ("union_id",
	// "open_id", ...). A name that marks a secret (it ends in "token" or "secret", or is "code",
	// "sign" and the like) is never kept: Extra holds no secrets.
	ExtraFields []string
	// Logger receives, through NewSource and NewApp, the events of every Cache and the Keeper's
	// sweeps. If nil, nothing is logged.
	Logger *slog.Logger
	// Clock is the source of time of everything built from the Config: the expiry computed from
	// expires_in, every Cache of NewSource and NewApp, the Keeper. nil means the system clock.
	Clock shoptoken.Clock
}

// validate checks c before anything is sent; op names the operation in the error.
func (c Config) validate(op string) error {
	platform := c.platform()
	if err := (shoptoken.Key{Platform: platform, App: "app"}).Check(); err != nil {
		return &shoptoken.Error{Platform: DefaultPlatform, Op: op, Kind: shoptoken.ErrBadRequest,
			Message: "Config.Platform " + strconv.Quote(httpx.Line(c.Platform, httpx.MaxCode)) + " is not a lower-case name"}
	}
	if c.OAuth2 == nil {
		return &shoptoken.Error{Platform: platform, Op: op, Kind: shoptoken.ErrBadRequest, Message: "Config.OAuth2 is required"}
	}
	if err := check.Required(platform, op, shoptoken.ErrCredentials, "Config.OAuth2.ClientID", c.OAuth2.ClientID); err != nil {
		return err
	}
	if err := check.Required(platform, op, shoptoken.ErrBadRequest, "Config.OAuth2.Endpoint.TokenURL", c.OAuth2.Endpoint.TokenURL); err != nil {
		return err
	}
	if err := c.checkTokenURL(op); err != nil {
		return err
	}
	switch c.OAuth2.Endpoint.AuthStyle {
	case oauth2.AuthStyleInParams, oauth2.AuthStyleInHeader:
	default:
		return &shoptoken.Error{Platform: platform, Op: op, Kind: shoptoken.ErrBadRequest,
			Message: "Config.OAuth2.Endpoint.AuthStyle must be oauth2.AuthStyleInParams or oauth2.AuthStyleInHeader: " +
				"with AuthStyleAutoDetect x/oauth2 sends a refused token request again the other way, and a refresh token is never sent twice"}
	}
	return nil
}

// checkTokenURL applies the SDK's rule for platform URLs to TokenURL, a query excepted.
func (c Config) checkTokenURL(op string) error {
	raw := c.OAuth2.Endpoint.TokenURL
	bad := func(msg string) error {
		return &shoptoken.Error{Platform: c.platform(), Op: op, Kind: shoptoken.ErrBadRequest, Message: "Config.OAuth2.Endpoint.TokenURL " + msg}
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.Hostname() == "":
		return bad("must be an absolute http or https URL with a host")
	case u.User != nil:
		return bad("must not carry user information")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return bad("must not carry a fragment")
	case u.Scheme == "http" && !c.AllowHTTP && !httpx.Loopback(u.Hostname()):
		return bad("uses plain http to " + httpx.Line(u.Host, httpx.MaxCode) + ", which is not a loopback host: " +
			"plain http would send the client secret and refresh tokens unencrypted; use https, or set Config.AllowHTTP (a proxy on a network you trust)")
	}
	return nil
}

func (c Config) platform() string {
	if c.Platform == "" {
		return DefaultPlatform
	}
	return c.Platform
}

// now reads Clock, or the system clock when there is none.
func (c Config) now() time.Time {
	if c.Clock != nil {
		return c.Clock.Now()
	}
	return time.Now()
}

// view is how c prints: the client secret shortened, the token URL without secrets.
func (c Config) view() *redact.View { return c.viewAs("xoauth2.Config") }

// viewAs is view under another type name (a Refresher shows its Config).
func (c Config) viewAs(name string) *redact.View {
	v := redact.NewView(name).Plain("Platform", "platform", c.Platform)
	if c.OAuth2 != nil {
		v.Plain("ClientID", "client_id", c.OAuth2.ClientID).
			Secret("ClientSecret", "client_secret", c.OAuth2.ClientSecret).
			URL("TokenURL", "token_url", c.OAuth2.Endpoint.TokenURL).
			Plain("AuthStyle", "auth_style", authStyleName(c.OAuth2.Endpoint.AuthStyle))
	}
	return v.Flag("AllowHTTP", "allow_http", c.AllowHTTP).
		Plain("SubjectField", "subject_field", c.SubjectField).
		Plain("ExtraFields", "extra_fields", strings.Join(c.ExtraFields, ","))
}

func authStyleName(s oauth2.AuthStyle) string {
	switch s {
	case oauth2.AuthStyleInParams:
		return "in_params"
	case oauth2.AuthStyleInHeader:
		return "in_header"
	case oauth2.AuthStyleAutoDetect:
		return "auto_detect"
	}
	return "auth_style(" + strconv.Itoa(int(s)) + ")"
}

// String describes c with the client secret redacted.
func (c Config) String() string { return c.view().String() }

// GoString is used by %#v; it redacts like String.
func (c Config) GoString() string { return c.String() }

// Format prints the redacted form for every verb, so that %v, %+v and %#v never show the secret.
func (c Config) Format(f fmt.State, verb rune) { c.view().Format(f, verb) }

// LogValue implements slog.LogValuer with the client secret redacted.
func (c Config) LogValue() slog.Value { return c.view().LogValue() }
