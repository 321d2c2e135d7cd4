package restyauth

import (
	"context"
	"sync/atomic"

	"github.com/go-resty/resty/v2"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/apiclient"
)

// Use makes c authorize every request it sends with a token from src, attached as p says (a
// platform's APIPolicy), and recover from a rejected token: see the package documentation. src is
// usually the Cache of a platform's NewSource; any shoptoken.TokenSource will do, but only a
// shoptoken.Invalidator is asked for a new token after a rejection (with another, such as
// shoptoken.StaticSource, the rejection is handed back as the answer).
//
// Use replaces c's transport with one that wraps it, and adds a request middleware. Call it once
// per client, before the client sends anything and after setting what resty sets on an
// *http.Transport (SetProxy, SetTLSClientConfig, SetCertificates, SetRootCertificate): those
// need the transport to be resty's own and fail once it is wrapped. It fails with an ErrBadRequest
// error, changing nothing, for a nil c or src, or a c that Use or UseShops already set up.
func Use(c *resty.Client, src shoptoken.TokenSource, p shoptoken.Policy) error {
	if err := apiclient.CheckSource("", src); err != nil {
		return setupError("the token source is nil")
	}
	return install(c, p, &source{one: apiclient.Invalidator(src)})
}

// UseShops is Use for many shops on one client: each request's shop, put on its context with
// WithShop, picks the source of its tokens, sources(shop). With a platform's App, sources is its
// Source method:
//
//	restyauth.UseShops(client, app.Source, policy)
//	resp, err := client.R().SetContext(restyauth.WithShop(ctx, "88888")).Get(url)
//
// A request whose context names no shop fails before anything is sent, with an ErrBadRequest
// error that resty does not retry. Otherwise as Use; a nil sources is an ErrBadRequest error.
func UseShops(c *resty.Client, sources func(shop string) shoptoken.Invalidator, p shoptoken.Policy) error {
	if sources == nil {
		return setupError("the sources function is nil")
	}
	return install(c, p, &source{shops: sources})
}

// WithShop returns a copy of ctx that names shop, for a request sent by a client that UseShops
// set up (resty.Request.SetContext).
func WithShop(ctx context.Context, shop string) context.Context {
	return context.WithValue(ctx, shopKey{}, shop)
}

// install wraps c's transport in a shoptoken.Transport over s, and adds s.before to c's request
// middlewares.
func install(c *resty.Client, p shoptoken.Policy, s *source) error {
	if c == nil {
		return setupError("the resty client is nil")
	}
	base := c.GetClient().Transport
	if t, ok := base.(*shoptoken.Transport); ok {
		if _, ours := t.Source.(*source); ours {
			return setupError("the resty client is already set up (Use or UseShops was called before)")
		}
	}
	c.OnBeforeRequest(s.before)
	c.SetTransport(p.Transport(s, base))
	return nil
}

// shopKey is the context key of WithShop's shop; budgetKey that of a request's budget.
type (
	shopKey   struct{}
	budgetKey struct{}
)

// budget is what one resty request, all its attempts together, may still do: invalidate one token.
// resty's own retries (SetRetryCount with a condition that matches a rejection) would otherwise
// make each attempt refresh again.
type budget struct{ spent atomic.Bool }

// source is the Transport's token source: the one of Use, or for UseShops that of the shop on
// the request's context; and no more than one Invalidate per resty request.
type source struct {
	one   shoptoken.Invalidator                   // Use: every request's source
	shops func(shop string) shoptoken.Invalidator // UseShops: the source of a shop
}

// before is the request middleware: it refuses a request with no shop, before anything is built
// or sent (resty does not retry a middleware's error), and, when resty may retry, gives the first
// attempt of each request a fresh budget, which resty's further attempts share through the
// request's context. Without resty's retries the Transport's own rule (one invalidation per
// send) is the same thing, and the request's context is left alone.
func (s *source) before(c *resty.Client, r *resty.Request) error {
	ctx := r.Context()
	if s.shops != nil {
		if shop, _ := ctx.Value(shopKey{}).(string); shop == "" {
			return errNoShop()
		}
	}
	if c.RetryCount == 0 {
		return nil
	}
	if _, ok := ctx.Value(budgetKey{}).(*budget); !ok || r.Attempt <= 1 {
		r.SetContext(context.WithValue(ctx, budgetKey{}, new(budget)))
	}
	return nil
}

// pick returns the token source for a request with context ctx.
func (s *source) pick(ctx context.Context) (shoptoken.Invalidator, error) {
	if s.shops == nil {
		return s.one, nil
	}
	shop, _ := ctx.Value(shopKey{}).(string)
	if shop == "" {
		return nil, errNoShop()
	}
	inv := s.shops(shop)
	if inv == nil {
		return nil, &shoptoken.Error{Op: "call", Kind: shoptoken.ErrBadRequest,
			Message: "restyauth: there is no token source for the request's shop"}
	}
	return inv, nil
}

// Token implements shoptoken.TokenSource.
func (s *source) Token(ctx context.Context) (*shoptoken.Token, error) {
	inv, err := s.pick(ctx)
	if err != nil {
		return nil, err
	}
	return inv.Token(ctx)
}

// Invalidate implements shoptoken.Invalidator. Once the request has had its invalidation, it hands
// back rejected, so that the Transport returns the platform's rejection instead of retrying.
func (s *source) Invalidate(ctx context.Context, rejected *shoptoken.Token) (*shoptoken.Token, error) {
	if b, ok := ctx.Value(budgetKey{}).(*budget); ok && b.spent.Swap(true) {
		return rejected, nil
	}
	inv, err := s.pick(ctx)
	if err != nil {
		return nil, err
	}
	return inv.Invalidate(ctx, rejected)
}

func errNoShop() error {
	return &shoptoken.Error{Op: "call", Kind: shoptoken.ErrBadRequest,
		Message: "restyauth: the request's context names no shop (set it with restyauth.WithShop)"}
}

func setupError(msg string) error {
	return &shoptoken.Error{Op: "new_client", Kind: shoptoken.ErrBadRequest, Message: "restyauth: " + msg}
}
