package shoptoken

import (
	"context"
	"strconv"
)

// TokenSource returns a token. A Cache is a TokenSource; so is StaticSource.
type TokenSource interface {
	Token(ctx context.Context) (*Token, error)
}

// TokenSourceFunc adapts a function to TokenSource.
type TokenSourceFunc func(ctx context.Context) (*Token, error)

// Token calls f(ctx).
func (f TokenSourceFunc) Token(ctx context.Context) (*Token, error) { return f(ctx) }

// Refresher makes one platform call that returns a new token. current is the token being replaced
// (nil when there is none); why is the reason the Cache asks, because some platforms answer a
// planned refresh differently from a recovery (Youzan's refresh flag, for one).
//
// A Refresher is called by one goroutine at a time per Cache; it should return a *Error with a Kind
// so the Cache can tell a permanent failure (ErrReauthorize, ErrCredentials) from a passing one.
type Refresher interface {
	Refresh(ctx context.Context, current *Token, why Reason) (*Token, error)
}

// RefresherFunc adapts a function to Refresher.
type RefresherFunc func(ctx context.Context, current *Token, why Reason) (*Token, error)

// Refresh calls f(ctx, current, why).
func (f RefresherFunc) Refresh(ctx context.Context, current *Token, why Reason) (*Token, error) {
	return f(ctx, current, why)
}

// Reason says why the Cache asks its Refresher for a token.
type Reason int

const (
	// ReasonMissing: there is no token yet (cold start, nothing stored).
	ReasonMissing Reason = iota
	// ReasonExpired: the token has expired.
	ReasonExpired
	// ReasonEarly: a planned refresh ahead of expiry, while the token still works.
	ReasonEarly
	// ReasonRejected: the platform rejected the current token (Invalidate).
	ReasonRejected
)

// String returns "missing", "expired", "early" or "rejected".
func (r Reason) String() string {
	switch r {
	case ReasonMissing:
		return "missing"
	case ReasonExpired:
		return "expired"
	case ReasonEarly:
		return "early"
	case ReasonRejected:
		return "rejected"
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// StaticSource returns a TokenSource that always returns t. It never refreshes; use it for tests
// and for tokens managed elsewhere.
func StaticSource(t *Token) TokenSource {
	return TokenSourceFunc(func(context.Context) (*Token, error) {
		if !t.Valid() {
			return nil, &Error{Op: "token", Kind: ErrReauthorize, Message: "static token is missing or expired"}
		}
		return t, nil
	})
}
