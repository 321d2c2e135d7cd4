package shoptoken

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/shoptoken/shoptoken/internal/redact"
)

// Policy is how a platform's API takes a token and how it says it rejected one: the three rules a
// Transport applies. Each platform package returns its own from APIPolicy (youzan.APIPolicy,
// vvtool.APIPolicy, vipauth.APIPolicy, veapi.APIPolicy), made of the same functions its Client's
// Transport uses, so an integration with another HTTP library (package restyauth for resty) attaches
// and recognises exactly as the platform package does.
//
// The zero Policy is the Transport's defaults: a Bearer header, and HTTP 401 as the rejection. A
// Policy is read-only once made; its functions are safe for concurrent use.
type Policy struct {
	// Attach puts the token on the request that is sent (a copy of the caller's). nil means
	// AttachBearer.
	Attach func(r *http.Request, t *Token)
	// Rejected reports whether resp says the token was rejected. It may read the body with
	// PeekBody, which leaves it readable. nil means RejectedStatus(http.StatusUnauthorized).
	Rejected func(resp *http.Response) bool
	// Secrets are what Attach puts on a request besides the token (veapi's vekey): they are
	// shortened wherever the token is (errors, redirect targets, printing).
	Secrets []string
}

// Transport returns a Transport that authorizes requests with tokens from src as p says, sending
// them through base (nil: http.DefaultTransport).
func (p Policy) Transport(src Invalidator, base http.RoundTripper) *Transport {
	return &Transport{Source: src, Base: base, Attach: p.Attach, Rejected: p.Rejected, Secrets: p.Secrets}
}

// view is how p prints: which rules are set, and Secrets shortened.
func (p Policy) view() *redact.View {
	v := redact.NewView("shoptoken.Policy").
		Flag("Attach", "attach", p.Attach != nil).
		Flag("Rejected", "rejected", p.Rejected != nil)
	if len(p.Secrets) > 0 {
		shown := make([]string, len(p.Secrets))
		for i, s := range p.Secrets {
			shown[i] = redact.Secret(s)
		}
		v.Plain("Secrets", "secrets", "["+strings.Join(shown, " ")+"]")
	}
	return v
}

// String describes p with Secrets redacted.
func (p Policy) String() string { return p.view().String() }

// GoString is used by %#v; it redacts like String.
func (p Policy) GoString() string { return p.String() }

// Format prints the redacted form for every verb, so that no verb shows Secrets.
func (p Policy) Format(f fmt.State, verb rune) { p.view().Format(f, verb) }

// LogValue implements slog.LogValuer with Secrets redacted.
func (p Policy) LogValue() slog.Value { return p.view().LogValue() }
