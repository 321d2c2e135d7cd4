package vipauth

import (
	"context"
	"time"

	"github.com/shoptoken/shoptoken"
)

// DefaultGrantWarning is how long before a token lapses NewSource and NewApp emit
// shoptoken.EventGrantExpiring (and an App's Keeper reports the user to WithOnReauthorize):
// three days, time enough to ask the user to authorize again.
const DefaultGrantWarning = 72 * time.Hour

// reauthorizeMessage is the refresher's answer, whatever the reason it was asked.
const reauthorizeMessage = "vip.com tokens cannot be refreshed: ask the user to authorize again"

// NewSource returns a Cache that serves one user's vip.com token until it expires or is
// rejected, and then reports shoptoken.ErrReauthorize: vip.com issues no refresh token, so only
// the user authorizing again (AuthCodeURL, Exchange, then Cache.Set) brings a new one. For many
// users of one application, use NewApp.
//
// openID is the user's open_id (the Subject of the token Exchange returned); the token's Key is
// shoptoken.Key{Platform: "vipauth", App: c.ClientID, Shop: openID}, its store key
// "vipauth/<ClientID>/<openID>". c.ClientID and openID are required.
//
// The token comes from shoptoken.WithToken (e.g. the result of Exchange) or from a Store
// (shoptoken.WithStore, all a caller adds to share it with a fleet). With neither, the first Token
// call returns ErrReauthorize. With a Store, every process sharing the key picks up the token
// another process Set after a new authorization, instead of reporting ErrReauthorize.
//
// Before the caller's options, NewSource sets the Key, no refresh ahead
// (shoptoken.WithEarlyRefresh(0): there is nothing to refresh), no minimum interval between
// refresh attempts (none reaches vip.com), shoptoken.EventGrantExpiring DefaultGrantWarning (3
// days) before the token expires, and Config.Logger and Config.Clock when they are set; options
// given here override them. Receive the warning with shoptoken.WithEvents:
//
//	src, err := vipauth.NewSource(cfg, tok.Subject, shoptoken.WithToken(tok),
//		shoptoken.WithEvents(func(e shoptoken.Event) {
//			if e.Kind == shoptoken.EventGrantExpiring {
//				go askUserToAuthorize(e.Key.Shop) // open_id; the token still works
//			}
//		}))
//
// EventGrantLost reports the moment the token is gone (expired or rejected).
func NewSource(c Config, openID string, opts ...shoptoken.Option) (*shoptoken.Cache, error) {
	const op = "source"
	if err := needFields(op, shoptoken.ErrCredentials, "Config.ClientID", c.ClientID); err != nil {
		return nil, err
	}
	if err := needFields(op, shoptoken.ErrBadRequest, "openID", openID); err != nil {
		return nil, err
	}
	all := append(engineDefaults(), shoptoken.WithKey(shoptoken.Key{Platform: platform, App: c.ClientID, Shop: openID}))
	if c.Logger != nil {
		all = append(all, shoptoken.WithLogger(c.Logger))
	}
	if c.Clock != nil {
		all = append(all, shoptoken.WithClock(c.Clock))
	}
	return shoptoken.NewCache(refresher{}, append(all, opts...)...)
}

// engineDefaults are vip.com's engine options, for NewSource and NewApp alike.
func engineDefaults() []shoptoken.Option {
	return []shoptoken.Option{
		shoptoken.WithEarlyRefresh(0),
		shoptoken.WithMinInterval(0),
		shoptoken.WithGrantWarning(DefaultGrantWarning),
	}
}

// refresher is vip.com's Refresher: there is nothing to refresh with, so every call says that a
// person must authorize again. It makes no platform call and holds nothing, so an App's users
// share it.
type refresher struct{}

var _ shoptoken.Refresher = refresher{}

// Refresh implements shoptoken.Refresher: ErrReauthorize, without a platform call.
func (refresher) Refresh(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
	return nil, &shoptoken.Error{Platform: platform, Op: "refresh", Kind: shoptoken.ErrReauthorize, Message: reauthorizeMessage}
}
