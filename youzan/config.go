package youzan

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/check"
	"github.com/shoptoken/shoptoken/internal/httpx"
	"github.com/shoptoken/shoptoken/internal/redact"
)

// platform names Youzan in every *shoptoken.Error.
const platform = "youzan"

// DefaultBaseURL is the Youzan cloud gateway: the token endpoint is DefaultBaseURL+"/auth/token",
// APIs are under DefaultBaseURL+"/api/".
const DefaultBaseURL = "https://open.youzanyun.com"

// Lifetimes the platform documents [seed]. They are used only when an answer does not say.
const (
	// AccessTokenLifetime is how long an access token lives (7 days).
	AccessTokenLifetime = 7 * 24 * time.Hour
	// RefreshTokenLifetime is how long a refresh token lives (28 days).
	RefreshTokenLifetime = 28 * 24 * time.Hour
)

// Config holds what Youzan issues to your app, and how to reach Youzan. ClientID and ClientSecret
// are required; a value of white space only counts as missing. A Config names no shop: the shop
// (its kdt_id) is a parameter of NewSource, NewToolSource, FetchToken and App's methods, so that
// one Config serves every shop of the app.
//
// Config prints and logs with ClientSecret redacted.
type Config struct {
	// ClientID is the app's client_id. It is also the App part of every token's shoptoken.Key.
	ClientID string
	// ClientSecret is the app's client_secret.
	ClientSecret string

	// BaseURL overrides https://open.youzanyun.com, for tests and proxies. "" means
	// DefaultBaseURL; a trailing slash is ignored. It must be an absolute https URL without user
	// information, query or fragment; http is accepted for a loopback host (127.0.0.1, ::1,
	// localhost: an emulator) or with AllowHTTP.
	BaseURL string
	// AuthorizeURL overrides https://diy.youzanyun.com/oauth/authorize (DefaultAuthorizeURL), the
	// merchant's authorization page of AuthCodeURL, for tests (an emulator's
	// shoptokentest.Youzan.AuthorizeURL) and proxies. "" means the default. It follows BaseURL's
	// rule: absolute https without user information, query or fragment; http only to a loopback
	// host or with AllowHTTP.
	AuthorizeURL string
	// AllowHTTP accepts a BaseURL or an AuthorizeURL with plain http to a host that is not
	// loopback, e.g. a proxy on a network you trust. The client secret and tokens then travel
	// unencrypted. false (the default) refuses such a URL before anything is sent.
	AllowHTTP bool
	// HTTPClient sends token requests and API calls. If nil, a shared client with the SDK's
	// timeouts is used (5 s to connect, 15 s to the response headers, 30 s in all).
	HTTPClient *http.Client
	// Logger receives Debug records of every request (URLs redacted, never a secret), the
	// recoveries this package makes, and the events of every Cache built from this Config
	// (NewSource, NewToolSource, NewApp) and its Keeper's sweeps. If nil, nothing is logged.
	Logger *slog.Logger
	// Clock is the time of everything built from this Config: token issue times and expiry
	// estimates, the Caches' planned refreshes, the Keeper's due times and the 4101 back-off.
	// If nil, the system clock. Tests give a shoptokentest.Clock here and to the emulator.
	Clock shoptoken.Clock
	// OnRateLimited, if not nil, is called each time Call returns a 4101 (too many requests), with
	// the caller's ctx, the Key of the shop the call was for (Shop is empty for a Client from
	// NewClient), the API and the wait advised (see RetryAfter), for metrics of the back-offs
	// (otelshoptoken's Telemetry.RateLimited fits). It runs on the caller's goroutine before Call
	// returns: it must be quick.
	OnRateLimited func(ctx context.Context, k shoptoken.Key, api string, wait time.Duration)
}

// Size limits for answers: token answers are small, API answers (a page of orders) can be large.
const (
	tokenMaxBody = 1 << 20
	callMaxBody  = 16 << 20
)

func (c Config) now() time.Time {
	if c.Clock != nil {
		return c.Clock.Now()
	}
	return time.Now()
}

func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// tokenHTTP returns the client for /auth/token: small answers, and no body in the debug log (a
// token answer is made of secrets). Every call with the same HTTPClient and Logger gets the same
// client, so that a one-off call (FetchToken, ExchangeCode, Refresh) does not build one.
func (c Config) tokenHTTP() *httpx.Client {
	return httpx.Shared(httpx.Config{Platform: platform, HTTPClient: c.HTTPClient, Logger: c.Logger, MaxBody: tokenMaxBody, OmitBody: true})
}

// callHTTP returns the client for the API gateway, shared as tokenHTTP's is.
func (c Config) callHTTP() *httpx.Client {
	return httpx.Shared(httpx.Config{Platform: platform, HTTPClient: c.HTTPClient, Logger: c.Logger, MaxBody: callMaxBody})
}

// baseURL returns the base URL without a trailing slash, unchecked: for a Config that check
// has accepted.
func (c Config) baseURL() string {
	if c.BaseURL == "" {
		return DefaultBaseURL
	}
	return strings.TrimRight(c.BaseURL, "/")
}

// base returns the validated base URL without a trailing slash.
func (c Config) base(op string) (string, error) {
	if c.BaseURL == "" {
		return DefaultBaseURL, nil
	}
	// Youzan serves HTTPS: plain http only to a loopback host or with AllowHTTP.
	plain := httpx.HTTPLoopbackOnly
	if c.AllowHTTP {
		plain = httpx.HTTPAllowed
	}
	if err := httpx.CheckBaseURL(platform, op, "Config.BaseURL", c.BaseURL, plain); err != nil {
		return "", err
	}
	return strings.TrimRight(c.BaseURL, "/"), nil
}

// check reports the first missing field of c, or a BaseURL that breaks its rule.
func (c Config) check(op string) error {
	if err := check.Required(platform, op, shoptoken.ErrBadRequest,
		"Config.ClientID", c.ClientID, "Config.ClientSecret", c.ClientSecret); err != nil {
		return err
	}
	_, err := c.base(op)
	return err
}

// maxShop is the longest kdt_id accepted: a uint64 has 20 digits.
const maxShop = 20

// checkShop reports a shop id that cannot be a kdt_id: Youzan's shop ids are decimal numbers.
func checkShop(op, shop string) error {
	ok := shop != "" && len(shop) <= maxShop
	for i := 0; ok && i < len(shop); i++ {
		ok = shop[i] >= '0' && shop[i] <= '9'
	}
	if ok {
		return nil
	}
	return configError(op, "shop "+strconv.Quote(httpx.Short(shop))+" is not a kdt_id (1 to 20 digits)")
}

// key returns the Key of shop's token: {"youzan", ClientID, shop}. Every process that serves the
// shop builds the same Key, and so finds the token under the same store key (Key.String).
func (c Config) key(shop string) shoptoken.Key {
	return shoptoken.Key{Platform: platform, App: c.ClientID, Shop: shop}
}

func configError(op, msg string) error {
	return &shoptoken.Error{Platform: platform, Op: op, Kind: shoptoken.ErrBadRequest, Message: msg}
}

// view is how c prints: ClientSecret shortened, BaseURL without secrets.
func (c Config) view(name string) *redact.View {
	return redact.NewView(name).
		Plain("ClientID", "client_id", c.ClientID).
		Secret("ClientSecret", "client_secret", c.ClientSecret).
		URL("BaseURL", "base_url", c.BaseURL).
		URL("AuthorizeURL", "authorize_url", c.AuthorizeURL).
		Flag("AllowHTTP", "allow_http", c.AllowHTTP)
}

// String describes c with ClientSecret redacted.
func (c Config) String() string { return c.view("youzan.Config").String() }

// GoString is used by %#v; it redacts like String.
func (c Config) GoString() string { return c.String() }

// Format prints the redacted form for every verb, so that %v, %+v and %#v never show the secret.
func (c Config) Format(f fmt.State, verb rune) { c.view("youzan.Config").Format(f, verb) }

// LogValue implements slog.LogValuer: the secret is redacted.
func (c Config) LogValue() slog.Value { return c.view("youzan.Config").LogValue() }
