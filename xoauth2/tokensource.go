package xoauth2

import (
	"context"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/shoptoken/shoptoken"
)

// SourceOption configures NewTokenSource and ContextTokenSource.
type SourceOption func(*sourceConfig)

type sourceConfig struct {
	skew    time.Duration
	refresh bool
}

// WithExpirySkew says how long before a token's Expiry the source behind the adapter stops
// handing it out: the Cache's shoptoken.WithExpirySkew when it is not the default
// (shoptoken.DefaultExpirySkew, which the adapter assumes). A negative d counts as 0, right for a
// source that hands out a token until its very Expiry.
func WithExpirySkew(d time.Duration) SourceOption {
	return func(c *sourceConfig) { c.skew = max(d, 0) }
}

// WithRefreshToken makes the adapter hand out the refresh token too. By default it does not: a
// library given an oauth2.TokenSource needs the access token only, and one that held the refresh
// token could redeem it behind the Cache's back (an oauth2.Config.TokenSource made from the
// token, say); on a platform that rotates refresh tokens that kills the grant for the whole
// fleet. Use it only for code that reads the refresh token and never redeems it.
func WithRefreshToken() SourceOption {
	return func(c *sourceConfig) { c.refresh = true }
}

// NewTokenSource returns src (a Cache, an App's Source(shop), a StaticSource, any
// shoptoken.TokenSource) as an oauth2.TokenSource, for libraries that take one: oauth2.NewClient,
// gRPC's oauth credentials, cloud SDKs.
//
// oauth2.TokenSource.Token has no context, so each Token call asks src with
// context.Background(): a Cache never makes it wait longer than one refresh (its refresh
// timeouts bound that, 30 s for the platform call by default), and with a valid token it does
// not wait at all. Use ContextTokenSource to bound the wait, cancel it, or carry a trace span to
// the refresh.
//
// The token is converted as ToOAuth2 does, with two differences. Expiry is moved earlier by the
// expiry skew (shoptoken.DefaultExpirySkew, or WithExpirySkew): the moment src stops handing the
// token out, so that a caller which keeps the token (oauth2.ReuseTokenSource, and so
// oauth2.NewClient) asks again in time and gets the new one; x/oauth2 subtracts its own 10 s on
// top, which only makes it ask earlier. And RefreshToken is left empty unless WithRefreshToken is
// given.
//
// Errors are src's, unchanged: errors.Is(err, shoptoken.ErrReauthorize) and errors.As into a
// *shoptoken.Error work on what Token returns, and on the *url.Error an oauth2 client wraps it in.
//
// Token allocates nothing while src returns the same token: the conversion of the last token is
// kept and handed out again, shared, as x/oauth2's own sources do; treat it as read-only. The
// result is safe for concurrent use when src is.
func NewTokenSource(src shoptoken.TokenSource, opts ...SourceOption) oauth2.TokenSource {
	return ContextTokenSource(context.Background(), src, opts...)
}

// ContextTokenSource is NewTokenSource bound to ctx: every Token call asks src with ctx, so ctx's
// deadline and cancellation bound the wait for a refresh (the refresh itself goes on and fills
// the Cache), and its values, such as a trace span, reach the refresh it starts. After ctx ends,
// Token still returns a valid token the Cache holds, and ctx's error otherwise. Use it for a
// source that lives as long as ctx: one request, one job.
func ContextTokenSource(ctx context.Context, src shoptoken.TokenSource, opts ...SourceOption) oauth2.TokenSource {
	c := sourceConfig{skew: shoptoken.DefaultExpirySkew}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return &tokenSource{ctx: ctx, src: src, cfg: c}
}

// tokenSource holds ctx because oauth2.TokenSource.Token takes none: it is the context the caller
// bound the adapter to (ContextTokenSource), or context.Background().
type tokenSource struct {
	ctx  context.Context
	src  shoptoken.TokenSource
	cfg  sourceConfig
	last atomic.Pointer[converted]
}

// converted is the conversion of the last token src returned.
type converted struct {
	from *shoptoken.Token
	to   *oauth2.Token
}

// Token implements oauth2.TokenSource.
func (s *tokenSource) Token() (*oauth2.Token, error) {
	tok, err := s.src.Token(s.ctx)
	if err != nil {
		return nil, err
	}
	if tok == nil || tok.AccessToken == "" {
		return nil, &shoptoken.Error{Op: "token", Kind: shoptoken.ErrBadResponse, Message: "the source returned no access token"}
	}
	if c := s.last.Load(); c != nil && c.from == tok {
		return c.to, nil
	}
	ot := ToOAuth2(tok)
	if !s.cfg.refresh {
		ot.RefreshToken = ""
	}
	if !ot.Expiry.IsZero() {
		ot.Expiry = ot.Expiry.Add(-s.cfg.skew)
	}
	s.last.Store(&converted{from: tok, to: ot})
	return ot, nil
}
