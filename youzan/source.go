package youzan

import (
	"context"
	"log/slog"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/redact"
)

// Engine defaults NewSource, NewToolSource, NewApp and NewToolApp put before the caller's options.
const (
	// DefaultEarlyRefresh: a token lives 7 days; refreshing about a day ahead (jittered by the
	// Cache) leaves room for a long outage of the platform or of the store.
	DefaultEarlyRefresh = 24 * time.Hour
	// DefaultMinInterval spaces token calls for one key: above the engine's 1 s because Youzan
	// throttles frequent token fetches [public], short enough that recovering from a rejection
	// right after a fetch is quick.
	DefaultMinInterval = 2 * time.Second
)

// engineDefaults are the platform's engine options, shared by a single Cache and an App's.
func engineDefaults() []shoptoken.Option {
	return []shoptoken.Option{
		shoptoken.WithEarlyRefresh(DefaultEarlyRefresh),
		shoptoken.WithMinInterval(DefaultMinInterval),
	}
}

// cacheOptions are the options of shop's single Cache: its Key, the engine defaults, c's logger
// and clock, then the caller's options, which win.
func (c Config) cacheOptions(shop string, opts []shoptoken.Option) []shoptoken.Option {
	all := append(engineDefaults(), shoptoken.WithKey(c.key(shop)))
	if c.Logger != nil {
		all = append(all, shoptoken.WithLogger(c.Logger))
	}
	if c.Clock != nil {
		all = append(all, shoptoken.WithClock(c.Clock))
	}
	return append(all, opts...)
}

// NewSource returns a Cache of the silent-authorization token of one shop (self-use apps); shop
// is its kdt_id. The Cache's Key is {"youzan", c.ClientID, shop}, so shoptoken.WithStore(store)
// is all a fleet adds to share the token. For many shops, NewApp.
//
// A cold start, an expired token and a rejected token are answered with refresh:false, which
// returns the shop's current token while it is valid and so never kills a token another process
// uses. Only the planned refresh about a day before expiry (DefaultEarlyRefresh) asks refresh:true,
// once per key, under the fleet lease when the Store is a Locker. When refresh:false hands back
// the very token being replaced (the platform still thinks valid what the gateway refused or the
// Cache counts as expired), one refresh:true call follows: see the package documentation.
//
// Options, in order (later ones win): WithEarlyRefresh(DefaultEarlyRefresh),
// WithMinInterval(DefaultMinInterval), WithKey, WithLogger(c.Logger) and WithClock(c.Clock) when
// set, then opts. It fails with ErrBadRequest, before anything is sent, for a Config that lacks a
// field or a shop that is not a kdt_id.
func NewSource(c Config, shop string, opts ...shoptoken.Option) (*shoptoken.Cache, error) {
	st, err := newState(c, opToken, true, false)
	if err != nil {
		return nil, err
	}
	r, err := st.silent(shop)
	if err != nil {
		return nil, err
	}
	return shoptoken.NewCache(r, c.cacheOptions(shop, opts)...)
}

// NewToolSource returns a Cache for a tool app's grant of one shop (its kdt_id, the Subject of
// the token ExchangeCode returned), kept alive with its rotating refresh token (authorize_type
// "refresh_token"). Start it from the token ExchangeCode returned (shoptoken.WithToken) or from a
// Store that holds one; without either, Token fails with ErrReauthorize. For many shops,
// NewToolApp.
//
// Each refresh kills the previous refresh token at once [seed]. The Cache saves the new pair to
// the Store before anyone uses it, and before declaring the grant dead it looks in the Store for
// a rotation made by another process; give every process that serves the shop the same Store.
// The planned refresh runs a day before the access token expires, well before the refresh
// token's 28 days (RefreshExpiry) run out.
//
// Options and errors as for NewSource.
func NewToolSource(c Config, shop string, opts ...shoptoken.Option) (*shoptoken.Cache, error) {
	st, err := newState(c, opRefresh, true, false)
	if err != nil {
		return nil, err
	}
	r, err := st.tool(shop)
	if err != nil {
		return nil, err
	}
	return shoptoken.NewCache(r, c.cacheOptions(shop, opts)...)
}

// silentRefresher implements shoptoken.Refresher with silent authorization for one shop. It is
// two words and the shop id: everything else is the app's, shared by all its shops.
type silentRefresher struct {
	app  *state
	shop string
}

// silent returns shop's silent-authorization Refresher.
func (st *state) silent(shop string) (shoptoken.Refresher, error) {
	if err := checkShop(opToken, shop); err != nil {
		return nil, err
	}
	return &silentRefresher{app: st, shop: shop}, nil
}

// ExtraForced is the Token.Extra key that marks a token obtained with a forced refresh:true after
// the gateway refused the previous one. If the gateway refuses that one too, something other than
// staleness is wrong (a proxy moving the token out of the query, say), and forcing again would
// only kill the token for every process. The mark travels with the token through the Store, so
// the whole fleet forces at most once per fault.
const ExtraForced = "youzan_forced"

func (r *silentRefresher) fetch(ctx context.Context, refresh bool) (*shoptoken.Token, error) {
	return r.app.cfg.silent(ctx, r.app.tok, r.shop, refresh)
}

// Refresh asks refresh:true for a planned refresh, refresh:false otherwise, and refresh:true
// once more when refresh:false hands back the very token being replaced.
func (r *silentRefresher) Refresh(ctx context.Context, current *shoptoken.Token, why shoptoken.Reason) (*shoptoken.Token, error) {
	if why == shoptoken.ReasonEarly {
		return r.fetch(ctx, true)
	}
	tok, err := r.fetch(ctx, false)
	if err != nil || current == nil || tok.AccessToken != current.AccessToken {
		return tok, err
	}
	// The token endpoint still calls current valid, but the gateway refused it (ReasonRejected:
	// 4202 at the expiry instant, 4203/4201 forced by the platform) or the Cache counts it as
	// expired (ReasonExpired: within the expiry skew). Handing it back would make every caller
	// fail again until it lapses, so ask for a new one: a token the gateway refuses is of no use
	// to any other process either, and one about to expire soon will not be.
	if why == shoptoken.ReasonRejected && current.Extra[ExtraForced] != "" {
		r.app.log.LogAttrs(ctx, slog.LevelDebug, "youzan: a token from refresh:true was refused too; not forcing again",
			slog.String("shop", r.shop), slog.String("reason", why.String()))
		if tok.Extra == nil {
			tok.Extra = map[string]string{}
		}
		tok.Extra[ExtraForced] = current.Extra[ExtraForced] // the same token keeps its mark
		return tok, nil
	}
	r.app.log.LogAttrs(ctx, slog.LevelDebug, "youzan: refresh:false returned the token being replaced; asking refresh:true",
		slog.String("shop", r.shop), slog.String("reason", why.String()),
		slog.String("access_token", redact.Secret(current.AccessToken)))
	fresh, err := r.fetch(ctx, true)
	if err == nil && why == shoptoken.ReasonRejected {
		if fresh.Extra == nil {
			fresh.Extra = map[string]string{}
		}
		fresh.Extra[ExtraForced] = "1"
	}
	return fresh, err
}

// toolRefresher implements shoptoken.Refresher with the refresh_token grant for one shop.
type toolRefresher struct {
	app  *state
	shop string
}

// tool returns shop's refresh_token Refresher.
func (st *state) tool(shop string) (shoptoken.Refresher, error) {
	if err := checkShop(opRefresh, shop); err != nil {
		return nil, err
	}
	return &toolRefresher{app: st, shop: shop}, nil
}

// Refresh redeems current's refresh token, whatever the reason: there is no non-destructive
// call for tool apps.
func (r *toolRefresher) Refresh(ctx context.Context, current *shoptoken.Token, _ shoptoken.Reason) (*shoptoken.Token, error) {
	var rt string
	if current != nil {
		rt = current.RefreshToken
	}
	tok, err := r.app.cfg.refresh(ctx, r.app.tok, rt)
	if err != nil {
		return nil, err
	}
	if tok.RefreshToken == "" {
		// An answer without a new refresh token did not rotate it: keep the one we have rather
		// than drop the chain.
		tok.RefreshToken, tok.RefreshExpiry = rt, current.RefreshExpiry
	}
	if tok.Subject == "" {
		tok.Subject = r.shop // the grant's kdt_id, as authority_id would have said
	}
	return tok, nil
}
