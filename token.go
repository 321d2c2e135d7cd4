package shoptoken

import (
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/shoptoken/shoptoken/internal/redact"
)

// Token is an OAuth access token with what the platform said about it.
//
// Token and *Token redact their secrets (AccessToken, RefreshToken) in String, GoString, every fmt
// verb and slog: a secret shows as at most its first four characters, "…" and its length. Use the
// fields directly to send a token to a platform.
//
// json.Marshal of a Token is its persistence format, the one the stores write and read back: it is
// faithful, every field as it is, AccessToken and RefreshToken in full, because a store that kept
// a shortened refresh token would lose the grant. So the JSON form is a secret: never log it or
// put it in an error. Log the Token itself (slog.Any("token", tok)), which uses LogValue. No log
// line of the SDK holds a Token's JSON.
//
// A Token handed out by a Cache is shared by every caller: treat it as read-only. Use Clone to get
// a copy you may change.
type Token struct {
	// AccessToken is the secret that authorizes API calls.
	AccessToken string `json:"access_token"`
	// TokenType is the platform's token type, e.g. "Bearer"; empty when the platform gives none.
	TokenType string `json:"token_type,omitempty"`
	// RefreshToken obtains the next token. On platforms that rotate it (veapi, Youzan tool apps)
	// losing it means a person must authorize again.
	RefreshToken string `json:"refresh_token,omitempty"`
	// Expiry is when AccessToken stops working. The zero time means it does not expire.
	Expiry time.Time `json:"expiry,omitempty"`
	// RefreshExpiry is when RefreshToken (or the grant) lapses. The zero time means unknown.
	RefreshExpiry time.Time `json:"refresh_expiry,omitempty"`
	// IssuedAt is when the platform issued the token; zero when unknown. A Cache sets it to the
	// start of the platform call when its Refresher leaves it zero: after a store lost its data,
	// issue times tell the newer of two tokens.
	IssuedAt time.Time `json:"issued_at,omitempty"`
	// Scope lists the granted scopes.
	Scope []string `json:"scope,omitempty"`
	// Subject is the shop, user or account the token acts for (Youzan authority_id, vip.com open_id).
	Subject string `json:"subject,omitempty"`
	// Extra keeps platform fields verbatim (e.g. veapi "status"). It never holds secrets.
	Extra map[string]string `json:"extra,omitempty"`
}

// Valid reports whether t is non-nil, has an access token and has not expired.
func (t *Token) Valid() bool {
	return t != nil && t.AccessToken != "" && (t.Expiry.IsZero() || time.Now().Before(t.Expiry))
}

// Clone returns a deep copy of t; nil for nil.
func (t *Token) Clone() *Token {
	if t == nil {
		return nil
	}
	c := *t
	if t.Scope != nil {
		c.Scope = append([]string(nil), t.Scope...)
	}
	if t.Extra != nil {
		c.Extra = maps.Clone(t.Extra)
	}
	return &c
}

// same reports whether a and b carry the same credentials. It is how the Cache tells whether a
// rejected token is still the current one.
func same(a, b *Token) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.AccessToken == b.AccessToken && a.RefreshToken == b.RefreshToken
}

// String returns a one-line description of the token with its secrets redacted.
func (t Token) String() string {
	var b strings.Builder
	b.WriteString("Token{access_token: ")
	b.WriteString(redact.Secret(t.AccessToken))
	if t.TokenType != "" {
		b.WriteString(", type: " + t.TokenType)
	}
	if t.RefreshToken != "" {
		b.WriteString(", refresh_token: " + redact.Secret(t.RefreshToken))
	}
	if !t.Expiry.IsZero() {
		b.WriteString(", expiry: " + t.Expiry.Format(time.RFC3339))
	}
	if !t.RefreshExpiry.IsZero() {
		b.WriteString(", refresh_expiry: " + t.RefreshExpiry.Format(time.RFC3339))
	}
	if t.Subject != "" {
		b.WriteString(", subject: " + t.Subject)
	}
	b.WriteString("}")
	return b.String()
}

// GoString is used by %#v; it redacts like String.
func (t Token) GoString() string {
	return "shoptoken." + t.String()
}

// Format implements fmt.Formatter so that every verb (%v, %+v, %#v, %s, %q, %x, ...) prints the
// redacted form and never the raw fields.
func (t Token) Format(f fmt.State, verb rune) { redact.Format(f, verb, t.String(), t.GoString()) }

// LogValue implements slog.LogValuer: the token logs as a group of its non-secret fields and the
// redacted secrets.
func (t Token) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("access_token", redact.Secret(t.AccessToken))}
	if t.RefreshToken != "" {
		attrs = append(attrs, slog.String("refresh_token", redact.Secret(t.RefreshToken)))
	}
	if !t.Expiry.IsZero() {
		attrs = append(attrs, slog.Time("expiry", t.Expiry))
	}
	if !t.RefreshExpiry.IsZero() {
		attrs = append(attrs, slog.Time("refresh_expiry", t.RefreshExpiry))
	}
	if t.Subject != "" {
		attrs = append(attrs, slog.String("subject", t.Subject))
	}
	return slog.GroupValue(attrs...)
}
