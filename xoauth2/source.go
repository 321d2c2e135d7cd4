package xoauth2

import (
	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shops"
)

// NewSource returns a Cache that keeps one grant of c's client alive: it refreshes the access
// token ahead of expiry (the engine's default, 5 minutes), shares one refresh among all callers,
// and with a Store saves every new token, rotated refresh token included, before anyone uses it.
// For many grants of one client (the shops of an ISV), use NewApp.
//
// shop names the grant: the shop, user or account it is for (may be empty when the client has one
// grant). The token's Key is shoptoken.Key{Platform: c.Platform (or "oauth2"), App:
// c.OAuth2.ClientID, Shop: shop}, its store key "<platform>/<client_id>/<shop>": every process
// that shares the grant must build the same Config and shop.
//
// The grant must start somewhere: pass shoptoken.WithToken with the token of the authorization
// (at least its RefreshToken; FromOAuth2 converts oauth2.Config.Exchange's result), or
// shoptoken.WithStore with a store that already holds it. A token in the store wins over
// WithToken's, since it may be a later rotation. With neither, Token fails with
// shoptoken.ErrReauthorize without a request.
//
// Before the caller's options, NewSource sets the Key, and Config.Logger and Config.Clock when they
// are set; every option given here overrides them.
func NewSource(c Config, shop string, opts ...shoptoken.Option) (*shoptoken.Cache, error) {
	r, err := NewRefresher(c)
	if err != nil {
		return nil, err
	}
	all := []shoptoken.Option{shoptoken.WithKey(shoptoken.Key{Platform: c.platform(), App: c.OAuth2.ClientID, Shop: shop})}
	if c.Logger != nil {
		all = append(all, shoptoken.WithLogger(c.Logger))
	}
	if c.Clock != nil {
		all = append(all, shoptoken.WithClock(c.Clock))
	}
	return shoptoken.NewCache(r, append(all, opts...)...)
}

// NewApp returns the App of c's client: one Cache per grant (shop), created on first use, all
// sharing one Refresher. Every shop's Key is shoptoken.Key{Platform: c.Platform (or "oauth2"),
// App: c.OAuth2.ClientID, Shop: shop}. A shop's grant starts from its authorization:
// App.Set(ctx, shop, &shoptoken.Token{RefreshToken: granted}) saves it (to the store first, with
// one), and the shop's first Token redeems it. opts are the many-shops options: give
// shops.WithStore so that rotated refresh tokens survive a restart and the Keeper (App.Run) can
// keep idle grants alive. c.Logger and c.Clock reach every Cache and the Keeper.
func NewApp(c Config, opts ...shops.Option) (*shops.App, error) {
	r, err := NewRefresher(c)
	if err != nil {
		return nil, err
	}
	return shops.New(shops.Platform{
		Name:      c.platform(),
		App:       c.OAuth2.ClientID,
		Refresher: func(string) (shoptoken.Refresher, error) { return r, nil },
		Logger:    c.Logger,
		Clock:     c.Clock,
	}, opts...)
}
