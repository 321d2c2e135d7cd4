package reauth

import (
	"context"
	"errors"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/vipauth"
	"github.com/shoptoken/shoptoken/youzan"
)

// Authorizer is one app on one platform, as the Handler drives its authorize flow: where to send
// the merchant's browser, how to turn the code it brings back into a token, and where to install
// the token so that the whole fleet serves it. VipAuth and YouzanTool return one; implement it for
// a platform of your own.
//
// Its methods must be safe for concurrent use. The Handler calls Exchange at most once per code,
// and Set only with a token whose Subject is empty or the shop's.
type Authorizer interface {
	// Key returns the Key of shop's token: its Platform and App name the Authorizer, and a link
	// is served by the Authorizer whose Platform and App it names.
	Key(shop string) shoptoken.Key
	// AuthCodeURL returns the platform's authorization page for the browser, carrying state and
	// the callback redirectURI (the Handler's CallbackURL).
	AuthCodeURL(state, redirectURI string) (string, error)
	// Exchange trades the code the browser brought back to redirectURI for a token. clientIP is
	// the browser's address (Config.ClientIP), for platforms that want it.
	Exchange(ctx context.Context, code, redirectURI, clientIP string) (*shoptoken.Token, error)
	// Set installs tok as shop's token, saving it to the store first so that every process of the
	// fleet picks it up (shops.App.Set).
	Set(ctx context.Context, shop string, tok *shoptoken.Token) error
}

// checker is implemented by the Authorizers of this package, whose constructors cannot fail: New
// reports what they found wrong.
type checker interface{ check() error }

// VipAuth returns the Authorizer of a vip.com application: cfg's AuthCodeURL and Exchange (with
// the Handler's CallbackURL as redirect_uri, whatever cfg.RedirectURL says: register that URL with
// vip.com) and app's Set, under the Key {"vipauth", cfg.ClientID, open_id}. A link for a user
// names its open_id, which the exchanged token's Subject must match.
//
// app must be the App of cfg's application (vipauth.NewApp(cfg, ...)); New refuses a nil app or
// one of another ClientID.
func VipAuth(cfg vipauth.Config, app *vipauth.App) Authorizer {
	return vipAuthorizer{cfg: cfg, app: app}
}

type vipAuthorizer struct {
	cfg vipauth.Config
	app *vipauth.App
}

func (v vipAuthorizer) check() error {
	if v.app == nil {
		return errors.New("VipAuth: the App is nil")
	}
	if got := v.app.Key("").App; got != v.cfg.ClientID {
		return errors.New("VipAuth: the Config's ClientID is not the App's")
	}
	return nil
}

func (v vipAuthorizer) Key(shop string) shoptoken.Key { return v.app.Key(shop) }

func (v vipAuthorizer) AuthCodeURL(state, redirectURI string) (string, error) {
	c := v.cfg
	c.RedirectURL = redirectURI
	return c.AuthCodeURL(state)
}

func (v vipAuthorizer) Exchange(ctx context.Context, code, redirectURI, clientIP string) (*shoptoken.Token, error) {
	c := v.cfg
	c.RedirectURL = redirectURI
	return c.Exchange(ctx, code, clientIP)
}

func (v vipAuthorizer) Set(ctx context.Context, shop string, tok *shoptoken.Token) error {
	return v.app.Set(ctx, shop, tok)
}

// YouzanTool returns the Authorizer of a Youzan tool app (工具型): cfg's AuthCodeURL and
// ExchangeCode, with the Handler's CallbackURL as redirect_uri (register it as the app's callback
// address in Youzan's console), and app's Set, under the Key {"youzan", cfg.ClientID, kdt_id}. The
// exchanged token's Subject (authority_id) must be the link's kdt_id.
//
// app must be the App NewToolApp made from cfg; New refuses a nil app or one of another
// ClientID. (A self-use app, NewApp, needs no merchant to authorize: its tokens come from silent
// authorization.)
func YouzanTool(cfg youzan.Config, app *youzan.App) Authorizer {
	return youzanAuthorizer{cfg: cfg, app: app}
}

type youzanAuthorizer struct {
	cfg youzan.Config
	app *youzan.App
}

func (y youzanAuthorizer) check() error {
	if y.app == nil {
		return errors.New("YouzanTool: the App is nil")
	}
	if got := y.app.Key("").App; got != y.cfg.ClientID {
		return errors.New("YouzanTool: the Config's ClientID is not the App's")
	}
	return nil
}

func (y youzanAuthorizer) Key(shop string) shoptoken.Key { return y.app.Key(shop) }

func (y youzanAuthorizer) AuthCodeURL(state, redirectURI string) (string, error) {
	return y.cfg.AuthCodeURL(state, redirectURI)
}

func (y youzanAuthorizer) Exchange(ctx context.Context, code, redirectURI, _ string) (*shoptoken.Token, error) {
	return y.cfg.ExchangeCode(ctx, code, redirectURI)
}

func (y youzanAuthorizer) Set(ctx context.Context, shop string, tok *shoptoken.Token) error {
	return y.app.Set(ctx, shop, tok)
}
