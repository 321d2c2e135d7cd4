package vipauth

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/redact"
	"github.com/shoptoken/shoptoken/shops"
)

// App keeps the tokens of many vip.com users of one application: one Cache per user (open_id),
// created on first use, under the Key shoptoken.Key{Platform: "vipauth", App: Config.ClientID,
// Shop: openID}. It is a shops.App (Token, Invalidate, Preload, Sweep, Run, Shutdown, ...) with
// vip.com's defaults, and adds Client and a Set that checks whose token it is. It is safe for
// concurrent use.
//
// vip.com tokens cannot be refreshed, so the App's Keeper (Run, Sweep) renews nothing: it finds
// the users whose token lapses within DefaultGrantWarning and reports each once, to
// shops.WithOnReauthorize (and as shoptoken.EventGrantExpiring), while the token still works.
// When the user has authorized again, Set installs the new token, saved to the store first, so
// every process of the fleet picks it up.
type App struct {
	*shops.App
	base *http.Client // Config.HTTPClient, for the API clients
}

// NewApp returns the App of c's application. c.ClientID is required (ErrCredentials). c.Logger
// and c.Clock reach every Cache and the Keeper. opts are the many-shops options: give
// shops.WithStore (a store that is also a shoptoken.DueIndex, such as redisstore or the
// MemoryStore, keeps the Keeper's due times too) so that a token one process Sets serves every
// process, and shops.WithOnReauthorize to hear of grants about to lapse. vip.com's engine
// defaults (no refresh ahead, no minimum interval, DefaultGrantWarning) apply to every user;
// shops.WithCacheOptions overrides them.
func NewApp(c Config, opts ...shops.Option) (*App, error) {
	if err := needFields("new_app", shoptoken.ErrCredentials, "Config.ClientID", c.ClientID); err != nil {
		return nil, err
	}
	a, err := shops.New(shops.Platform{
		Name:      platform,
		App:       c.ClientID,
		Refresher: userRefresher,
		Options:   engineDefaults(),
		Logger:    c.Logger,
		Clock:     c.Clock,
	}, opts...)
	if err != nil {
		return nil, err
	}
	return &App{App: a, base: c.HTTPClient}, nil
}

// userRefresher is the App's shops.Platform.Refresher: one shared, empty refresher for every
// user whose open_id is not blank.
func userRefresher(openID string) (shoptoken.Refresher, error) {
	if err := needFields("source", shoptoken.ErrBadRequest, "openID", openID); err != nil {
		return nil, err
	}
	return refresher{}, nil
}

// Set installs tok, the token of openID's new authorization (from Exchange), saving it to the
// store first so that every process picks it up (see shoptoken.Cache.Set). A token whose Subject
// names another user is refused with an ErrBadRequest error: installed, it would serve openID's
// API calls with someone else's grant.
func (a *App) Set(ctx context.Context, openID string, tok *shoptoken.Token) error {
	if tok != nil && tok.Subject != "" && tok.Subject != openID {
		return &shoptoken.Error{Platform: platform, Op: "set", Kind: shoptoken.ErrBadRequest,
			Message: "the token's Subject " + strconv.Quote(tok.Subject) + " is not the open_id " + strconv.Quote(openID)}
	}
	return a.App.Set(ctx, openID, tok)
}

// Client returns a Client for openID's API calls. It shares the App's HTTP client, so it is cheap
// to make one per request. A blank openID fails on the first request, with an ErrBadRequest
// error.
func (a *App) Client(openID string) *Client { return newClient(a.base, openID, a.App.Source(openID)) }

// view is how a prints: its namespace and how many users it holds.
func (a *App) view() *redact.View {
	return redact.NewView("vipauth.App").Plain("Namespace", "namespace", a.Namespace()).
		Plain("Users", "users", strconv.Itoa(a.Len()))
}

// String describes a.
func (a *App) String() string { return a.view().String() }

// GoString is used by %#v; it prints like String.
func (a *App) GoString() string { return a.String() }

// Format prints the same form for every verb.
func (a *App) Format(f fmt.State, verb rune) { a.view().Format(f, verb) }

// LogValue implements slog.LogValuer.
func (a *App) LogValue() slog.Value { return a.view().LogValue() }
