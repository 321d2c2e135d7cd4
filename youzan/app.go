package youzan

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/defaultclient"
	"github.com/shoptoken/shoptoken/internal/httpx"
	"github.com/shoptoken/shoptoken/shops"
)

// state is what every shop of one app shares: the Config (one copy), one HTTP client for the
// token endpoint, one for the API gateway, the logger and the 4101 back-off. A shop's Refresher
// and Client hold a pointer to it, never a copy.
type state struct {
	cfg  Config
	tok  *httpx.Client // token endpoint; nil when nothing built from this state asks for tokens
	call *httpx.Client // API gateway (Call); nil when nothing built from this state calls APIs
	hc   *http.Client  // the base of Do and HTTPClient: cfg.HTTPClient or the SDK's default
	log  *slog.Logger
	lim  limiter
}

// newState validates c for op and builds the parts asked for.
func newState(c Config, op string, token, call bool) (*state, error) {
	if err := c.check(op); err != nil {
		return nil, err
	}
	st := &state{cfg: c, log: c.logger(), hc: c.HTTPClient}
	if st.hc == nil {
		st.hc = defaultclient.Shared()
	}
	st.lim.now = c.now
	if token {
		st.tok = c.tokenHTTP()
	}
	if call {
		st.call = c.callHTTP()
	}
	return st, nil
}

// App keeps the tokens of one Youzan app's shops, each under the Key {"youzan", ClientID, kdt_id},
// and calls APIs for any of them. Everything package shops gives (Token, Cache, Set, Preload,
// Sweep, Run, Shutdown, ...) comes with the embedded *shops.App; the shop is always the kdt_id.
//
// The shops share one HTTP client for the token endpoint, one for the gateway, the Config and
// the 4101 back-off, which is kept per shop and API as the gateway applies it: App.Call and every
// Client from App.Client see the same state, however often they are made.
//
// An App is safe for concurrent use. Create it with NewApp or NewToolApp.
type App struct {
	*shops.App
	st *state
}

// NewApp returns the App of a self-use app (silent authorization) with c's credentials. Its
// shops' Caches have the engine defaults of NewSource (after which shops.WithCacheOptions
// comes), c.Logger and c.Clock, and the Store, due index and events of opts; the shop ids it is
// given must be kdt_ids (digits), or their first use fails with ErrBadRequest.
//
// It fails with ErrBadRequest, naming the fault, for a Config that lacks a field or an option
// given a value that makes no sense. Nothing is sent until a shop's token is asked for.
func NewApp(c Config, opts ...shops.Option) (*App, error) {
	return newApp(c, opToken, (*state).silent, opts)
}

// NewToolApp returns the App of a tool app: each shop's grant is kept alive with its rotating
// refresh token (see NewToolSource). Give it a Store, and install each shop's first token, from
// ExchangeCode, with App.Set(ctx, tok.Subject, tok): a shop with no token fails with
// ErrReauthorize. Otherwise as NewApp.
func NewToolApp(c Config, opts ...shops.Option) (*App, error) {
	return newApp(c, opRefresh, (*state).tool, opts)
}

func newApp(c Config, op string, refresher func(*state, string) (shoptoken.Refresher, error), opts []shops.Option) (*App, error) {
	st, err := newState(c, op, true, true)
	if err != nil {
		return nil, err
	}
	a, err := shops.New(shops.Platform{
		Name:      platform,
		App:       c.ClientID,
		Refresher: func(shop string) (shoptoken.Refresher, error) { return refresher(st, shop) },
		Options:   engineDefaults(),
		Logger:    c.Logger,
		Clock:     c.Clock,
	}, opts...)
	if err != nil {
		return nil, err
	}
	return &App{App: a, st: st}, nil
}

// Client returns a Client that calls APIs for shop with its token from the App. It shares the
// App's HTTP client and 4101 back-off, so it is cheap: make one per request if that is simpler.
// A shop id that is not a kdt_id makes its calls fail with ErrBadRequest.
func (a *App) Client(shop string) *Client {
	src := a.Source(shop)
	return &Client{app: a.st, src: src, inv: src, shop: shop}
}

// Call calls API api at version for shop, as Client.Call does, with the App's shared state.
func (a *App) Call(ctx context.Context, shop, api, version string, params, out any) error {
	src := a.Source(shop)
	return a.st.do(ctx, src, src, shop, api, version, params, out)
}

// String describes the App by its Config, without its secrets.
func (a *App) String() string { return a.st.cfg.view("youzan.App").String() }

// GoString is used by %#v; it redacts like String.
func (a *App) GoString() string { return a.String() }

// Format prints the redacted form for every verb.
func (a *App) Format(f fmt.State, verb rune) { a.st.cfg.view("youzan.App").Format(f, verb) }

// LogValue implements slog.LogValuer: the secret is redacted.
func (a *App) LogValue() slog.Value { return a.st.cfg.view("youzan.App").LogValue() }
