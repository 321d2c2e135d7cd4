package xoauth2

import (
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/shoptoken/shoptoken"
)

// ToOAuth2 returns t as an *oauth2.Token; nil for nil. AccessToken, TokenType, RefreshToken and
// Expiry are t's. The extra members (oauth2.Token.Extra) are t.Extra's, as strings, and "scope",
// t.Scope joined by spaces as RFC 6749 writes it, when t has scopes. ExpiresIn is left zero:
// it is a wire field relative to an unknown moment, and Expiry says the same without ambiguity.
// Subject, RefreshExpiry and IssuedAt have no place in an oauth2.Token and are left out.
//
// The result holds t's refresh token: hand it only to code that will not redeem it (see
// NewTokenSource, which leaves it out).
func ToOAuth2(t *shoptoken.Token) *oauth2.Token {
	if t == nil {
		return nil
	}
	ot := &oauth2.Token{
		AccessToken:  t.AccessToken,
		TokenType:    t.TokenType,
		RefreshToken: t.RefreshToken,
		Expiry:       t.Expiry,
	}
	if len(t.Extra) == 0 && len(t.Scope) == 0 {
		return ot
	}
	raw := make(map[string]any, len(t.Extra)+1)
	for k, v := range t.Extra {
		raw[k] = v
	}
	if len(t.Scope) > 0 {
		raw["scope"] = strings.Join(t.Scope, " ")
	}
	return ot.WithExtra(raw)
}

// FromOAuth2 returns t as a *shoptoken.Token, for instance the token of an authorization
// (oauth2.Config.Exchange) to start a Cache from with shoptoken.WithToken; nil for nil.
// AccessToken, TokenType, RefreshToken and Expiry are t's; when t has no Expiry but an ExpiresIn,
// Expiry is now plus ExpiresIn, so convert a token as soon as it arrives. Scope comes from the
// extra member "scope" (or "scopes"), split at spaces and commas. The extra members named in
// extra are kept, as text, in Extra; a name that marks a secret (it ends in "token" or "secret",
// or is "code", "sign" and the like) is skipped, since Extra holds no secrets.
//
// An oauth2.Token does not list its extra members, so only those named are read.
func FromOAuth2(t *oauth2.Token, extra ...string) *shoptoken.Token {
	if t == nil {
		return nil
	}
	tok := &shoptoken.Token{
		AccessToken:  t.AccessToken,
		TokenType:    t.TokenType,
		RefreshToken: t.RefreshToken,
		Expiry:       t.Expiry,
		Scope:        scopes(t),
		Extra:        extras(t, extra),
	}
	if tok.Expiry.IsZero() && t.ExpiresIn > 0 {
		if d, ok := seconds(t, "expires_in"); ok {
			tok.Expiry = time.Now().Add(d)
		}
	}
	return tok
}
