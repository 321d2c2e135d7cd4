package veapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/check"
	"github.com/shoptoken/shoptoken/internal/httpx"
	"github.com/shoptoken/shoptoken/internal/redact"
)

// platform names veapi in every *shoptoken.Error.
const platform = "veapi"

// DefaultBaseURL is where veapi.cn answers. The platform offers plain HTTP only ("https 暂无").
const DefaultBaseURL = "http://api.veapi.cn"

// refreshPath is the renewal endpoint under BaseURL.
const refreshPath = "/vip/refreshtoken"

// Config holds what veapi.cn issues to your account. VEKey is required; a value of white space only
// counts as missing, and so does a refresh token of white space only. Config is a value: copy it
// freely. It prints and logs with VEKey shortened, in every fmt verb and slog.
type Config struct {
	// VEKey is the account's interface key (接口秘钥) from the veapi member centre. Required.
	VEKey string
	// App is the public name of the veapi account (your choice, e.g. "acme-vip"; never the VEKey,
	// which is a secret and names nothing). With the shop it names every token:
	// shoptoken.Key{Platform: "veapi", App: App, Shop: shop}, in the store, in events and in logs,
	// so every process that shares the tokens must give the same App. Required by NewApp, and by
	// NewSource when a Store is given; "" is accepted by Config.Refresh, NewClient and a NewSource
	// without a Store.
	App string

	// BaseURL overrides http://api.veapi.cn, for tests and proxies. "" means DefaultBaseURL. A
	// trailing slash is ignored. It must be an absolute http or https URL without user
	// information, query or fragment.
	BaseURL string
	// HTTPClient sends requests. If nil, a client shared by the whole process is used, with a
	// 5-second connect timeout, a 15-second wait for the response headers and a 30-second limit on
	// the whole call.
	HTTPClient *http.Client
	// Logger receives debug records of every request (URL and body snippet redacted), warnings
	// about answers that had to be read leniently and, through NewSource and NewApp, the events of
	// every Cache and the Keeper's sweeps. If nil, nothing is logged.
	Logger *slog.Logger
	// Clock is the source of time of everything built from the Config: how the platform's
	// timestamps are judged, every Cache of NewSource and NewApp, the Keeper, and the API client's
	// RejectedAgainWindow. nil means the system clock. Tests give the shoptokentest.Clock they
	// give the emulator.
	Clock shoptoken.Clock
}

// Refresh renews an authorization: it sends refreshToken to veapi once and returns the new token.
// The platform rotates the chain: after a successful call refreshToken is dead and only the
// returned token's RefreshToken continues the chain, so save it before anything else. Most
// programs should use NewSource, which does that (with a Store) and shares one refresh among all
// callers.
//
// The request is never repeated once it may have reached veapi, because a second call with a
// refresh token that the first one rotated away would end the chain.
//
// The token's Subject is empty (veapi does not say whose authorization it is); Extra holds the
// platform's "status" and "is_expired" and the answer's "request_id".
func (c Config) Refresh(ctx context.Context, refreshToken string) (*shoptoken.Token, error) {
	if err := c.validate("refresh"); err != nil {
		return nil, err
	}
	return newState(c).refresh(ctx, refreshToken)
}

// validate checks the fields that every call needs; op names the operation in the error.
func (c Config) validate(op string) error {
	if err := check.Required(platform, op, shoptoken.ErrCredentials, "Config.VEKey", c.VEKey); err != nil {
		return err
	}
	// veapi serves plain http only ("https 暂无"): either scheme is fine.
	return httpx.CheckBaseURL(platform, op, "Config.BaseURL", c.BaseURL, httpx.HTTPAllowed)
}

func (c Config) baseURL() string {
	if c.BaseURL == "" {
		return DefaultBaseURL
	}
	return strings.TrimRight(c.BaseURL, "/")
}

// now reads Clock, or the system clock when there is none.
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

// view is how c prints: VEKey shortened, BaseURL without secrets.
func (c Config) view() *redact.View {
	return redact.NewView("veapi.Config").Secret("VEKey", "vekey", c.VEKey).Plain("App", "app", c.App).
		URL("BaseURL", "base_url", c.BaseURL)
}

// String describes c with VEKey redacted.
func (c Config) String() string { return c.view().String() }

// GoString is used by %#v; it redacts like String.
func (c Config) GoString() string { return c.String() }

// Format prints the redacted form for every verb, so that %v, %+v and %#v never show the vekey.
func (c Config) Format(f fmt.State, verb rune) { c.view().Format(f, verb) }

// LogValue implements slog.LogValuer with VEKey redacted.
func (c Config) LogValue() slog.Value { return c.view().LogValue() }
