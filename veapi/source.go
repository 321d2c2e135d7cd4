package veapi

import (
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/check"
)

// DefaultTokenLifetime is the access token's lifetime when an answer gives none that can be
// believed (see the package documentation): veapi documents about 90 days ("唯品会通常是90天",
// expires_in 7775999).
const DefaultTokenLifetime = 90 * 24 * time.Hour

// Defaults NewSource and NewApp give every Cache; options given by the caller come after them and
// win.
const (
	// DefaultEarlyRefresh starts the planned refresh a week before the access token (about 90 days)
	// or the grant expires: a week leaves room for retries through a platform outage and for a
	// person to act if the chain breaks.
	DefaultEarlyRefresh = 7 * 24 * time.Hour
	// DefaultGrantWarning emits shoptoken.EventGrantExpiring five days before refresh_expires_time.
	// It is shorter than DefaultEarlyRefresh so that, if a refresh does extend the grant, the planned
	// refresh (six to eight days ahead, jittered) gets there first and nobody is alerted for nothing.
	DefaultGrantWarning = 5 * 24 * time.Hour
	// DefaultMinInterval spaces the refreshes of one chain by at least 15 seconds: every refresh
	// rotates the chain, and each rotation is a chance to lose it, so no caller loop may rotate it
	// more often. It stays below the Cache's 30-second refresh timeout so that a refresh that has to
	// wait still runs.
	DefaultMinInterval = 15 * time.Second
)

// NewSource returns a Cache that keeps one shop's veapi authorization alive: it refreshes the
// access token a week before it expires (and before the grant's refresh_expires_time), shares one
// refresh among all callers, and with a Store saves every rotated refresh token before anyone uses
// the new access token. For many shops of one account, use NewApp.
//
// shop names the shop (any non-blank id of yours: veapi does not name it); the token's Key is
// shoptoken.Key{Platform: "veapi", App: c.App, Shop: shop}, its store key "veapi/<App>/<shop>".
// With a Store (shoptoken.WithStore, all a caller adds to share the token with a fleet), c.App is
// required.
//
// The chain must start somewhere: pass shoptoken.WithToken with the authorization you hold (at
// least its RefreshToken; with AccessToken and Expiry too, no call is made until the planned
// refresh), or shoptoken.WithStore with a store that already holds the token. With neither, Token
// returns an ErrReauthorize error ("no refresh token: authorize the shop first") without calling
// veapi. A token in the store wins over WithToken's, since it may be a later rotation.
//
// Always give a Store in production: without one, a rotated refresh token lives only in this
// process, and a restart loses the chain.
//
// Before the caller's options, NewSource sets the Key, DefaultEarlyRefresh, DefaultGrantWarning,
// DefaultMinInterval, and Config.Logger and Config.Clock when they are set; every option given here
// overrides them.
func NewSource(c Config, shop string, opts ...shoptoken.Option) (*shoptoken.Cache, error) {
	const op = "new_source"
	if err := c.validate(op); err != nil {
		return nil, err
	}
	if err := checkShop(op, shop); err != nil {
		return nil, err
	}
	r := &refresher{st: newState(c), shop: shop}
	k := shoptoken.Key{Platform: platform, App: c.App, Shop: shop}
	all := append(engineDefaults(), shoptoken.WithKey(k))
	if c.Logger != nil {
		all = append(all, shoptoken.WithLogger(c.Logger))
	}
	if c.Clock != nil {
		all = append(all, shoptoken.WithClock(c.Clock))
	}
	all = append(all, opts...)
	src, err := shoptoken.NewCache(r, all...)
	if err != nil && check.Blank(c.App) {
		// NewCache refuses a Store without a valid Key. If that is the fault, name the field the
		// caller must set rather than an option NewSource gave.
		k.App = "app"
		if probe, perr := shoptoken.NewCache(r, append(all, shoptoken.WithKey(k))...); perr == nil {
			probe.Close()
			return nil, &shoptoken.Error{Platform: platform, Op: op, Kind: shoptoken.ErrBadRequest,
				Message: "Config.App is required with a Store: it names the token in the store (veapi/<App>/<shop>) the same way in every process"}
		}
	}
	return src, err
}

// engineDefaults are veapi's engine options, for NewSource and NewApp alike.
func engineDefaults() []shoptoken.Option {
	return []shoptoken.Option{
		shoptoken.WithEarlyRefresh(DefaultEarlyRefresh),
		shoptoken.WithGrantWarning(DefaultGrantWarning),
		shoptoken.WithMinInterval(DefaultMinInterval),
	}
}

// requireApp refuses a blank Config.App: it names every token of the account.
func requireApp(op, app string) error {
	return check.Required(platform, op, shoptoken.ErrBadRequest, "Config.App", app)
}

// checkShop refuses a blank shop id: it would name no token.
func checkShop(op, shop string) error {
	return check.Required(platform, op, shoptoken.ErrBadRequest, "shop", shop)
}
