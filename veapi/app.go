package veapi

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/redact"
	"github.com/shoptoken/shoptoken/shops"
)

// App keeps the authorization chains of many shops of one veapi account: one Cache per shop,
// created on first use, all sharing one Config, one HTTP client and the account's
// RejectedAgainWindow. It is a shops.App (Token, Set, Invalidate, Preload, Sweep, Run, Shutdown,
// ...) with veapi's defaults, and adds Client. It is safe for concurrent use.
//
// A shop's chain starts from the refresh token its authorization gave: App.Set(ctx, shop,
// &shoptoken.Token{RefreshToken: granted}) saves it (to the store first, with one), and the
// shop's first Token redeems it. From then on the App, and with a Keeper (Run) every process
// sharing the store, keeps the chain alive.
type App struct {
	*shops.App
	st *state
}

// NewApp returns the App of c's account. c.VEKey and c.App are required: every shop's Key is
// shoptoken.Key{Platform: "veapi", App: c.App, Shop: shop}. c.Logger and c.Clock reach every
// Cache and the Keeper. opts are the many-shops options: give shops.WithStore (a store that is
// also a shoptoken.DueIndex, such as redisstore or the MemoryStore, keeps the Keeper's due times
// too) so that rotated refresh tokens survive a restart and the Keeper can sweep. veapi's engine
// defaults (DefaultEarlyRefresh, DefaultGrantWarning, DefaultMinInterval) apply to every shop;
// shops.WithCacheOptions overrides them.
//
// It fails with an ErrCredentials error when VEKey is missing, and ErrBadRequest when App is
// missing, BaseURL is malformed or an option makes no sense.
func NewApp(c Config, opts ...shops.Option) (*App, error) {
	const op = "new_app"
	if err := c.validate(op); err != nil {
		return nil, err
	}
	if err := requireApp(op, c.App); err != nil {
		return nil, err
	}
	st := newState(c)
	a, err := shops.New(shops.Platform{
		Name:      platform,
		App:       c.App,
		Refresher: st.refresher,
		Options:   engineDefaults(),
		Logger:    c.Logger,
		Clock:     c.Clock,
	}, opts...)
	if err != nil {
		return nil, err
	}
	return &App{App: a, st: st}, nil
}

// Client returns a Client for shop's API calls. It shares the App's HTTP client and
// RejectedAgainWindow, so it is cheap to make one per request. A blank shop fails on the first
// request, with an ErrBadRequest error.
func (a *App) Client(shop string) *Client {
	return newClient(a.st, shop, a.App.Source(shop), func(ctx context.Context) *shoptoken.Token {
		c, err := a.Cache(shop)
		if err != nil {
			return nil
		}
		return c.Reload(ctx)
	})
}

// view is how a prints: its namespace and how many shops it holds, never the vekey.
func (a *App) view() *redact.View {
	return redact.NewView("veapi.App").Plain("Namespace", "namespace", a.Namespace()).
		Plain("Shops", "shops", strconv.Itoa(a.Len()))
}

// String describes a without a secret.
func (a *App) String() string { return a.view().String() }

// GoString is used by %#v; it prints like String.
func (a *App) GoString() string { return a.String() }

// Format prints the redacted form for every verb, so that no verb reaches the Config inside.
func (a *App) Format(f fmt.State, verb rune) { a.view().Format(f, verb) }

// LogValue implements slog.LogValuer without a secret.
func (a *App) LogValue() slog.Value { return a.view().LogValue() }

// refresher is the App's shops.Platform.Refresher: a pointer to the shared state and the shop id.
func (s *state) refresher(shop string) (shoptoken.Refresher, error) {
	if err := checkShop("shop", shop); err != nil {
		return nil, err
	}
	return &refresher{st: s, shop: shop}, nil
}
