package xoauth2

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/check"
	"github.com/shoptoken/shoptoken/internal/defaultclient"
	"github.com/shoptoken/shoptoken/internal/lifetime"
	"github.com/shoptoken/shoptoken/internal/redact"
)

// Refresher is a shoptoken.Refresher that renews a grant at a standard OAuth2 token endpoint with
// the refresh-token grant, through x/oauth2. Give it to shoptoken.NewCache (or use NewSource and
// NewApp, which do) and the Cache supplies what x/oauth2 never had: the refresh ahead of expiry,
// one refresh per key across a fleet (a Store that is a Locker), and every new token, the rotated
// refresh token with it, saved to the Store before anyone uses it.
//
// Each Refresh sends the refresh token of the token it replaces exactly once: never again after a
// failure (a platform that rotates refresh tokens may have killed it already), never after a
// redirect, never a second way (AuthStyleAutoDetect is refused). An answer without a new refresh
// token keeps the one that was sent (RFC 6749 section 6: the platform does not rotate).
//
// A Refresher holds no token and no per-grant state: one serves every grant of the client, and is
// safe for concurrent use.
type Refresher struct {
	c    Config
	conf oauth2.Config // a copy of *c.OAuth2
}

var _ shoptoken.Refresher = (*Refresher)(nil)

// NewRefresher returns the Refresher of c. It fails with a shoptoken.ErrBadRequest error naming
// the field when c.OAuth2, its TokenURL or a usable AuthStyle is missing or c.Platform is not a
// lower-case name, and with shoptoken.ErrCredentials when the ClientID is missing.
func NewRefresher(c Config) (*Refresher, error) {
	if err := c.validate("new_refresher"); err != nil {
		return nil, err
	}
	r := &Refresher{c: c, conf: *c.OAuth2}
	r.conf.Scopes = append([]string(nil), c.OAuth2.Scopes...)
	r.c.OAuth2 = &r.conf
	r.c.ExtraFields = append([]string(nil), c.ExtraFields...)
	return r, nil
}

// Refresh implements shoptoken.Refresher: it redeems current's refresh token once and returns the
// new token. TokenType and the tokens are the answer's; Expiry is the start of the call plus
// expires_in (zero, "does not expire", when the answer has none); RefreshExpiry likewise from
// refresh_expires_in or refresh_token_expires_in when the answer has one; Scope from scope (or
// scopes), split at spaces and commas; Subject from Config.SubjectField, else current's; Extra
// from Config.ExtraFields.
//
// It fails with shoptoken.ErrReauthorize, without a request, when current has no refresh token,
// and otherwise as the answer says (see the package documentation for the kinds). Errors never
// show the client secret, the refresh token or a token the answer carried.
func (r *Refresher) Refresh(ctx context.Context, current *shoptoken.Token, _ shoptoken.Reason) (*shoptoken.Token, error) {
	if current == nil || check.Blank(current.RefreshToken) {
		return nil, &shoptoken.Error{Platform: r.c.platform(), Op: "refresh", Kind: shoptoken.ErrReauthorize,
			Message: "no refresh token: start from the authorization's token (shoptoken.WithToken, App.Set)"}
	}
	sent := current.RefreshToken
	secrets := []string{r.conf.ClientSecret, sent}
	var got answer
	hc := prepare(r.client(ctx), &got)
	if _, ok := ctx.Deadline(); !ok && hc.Timeout == 0 {
		// A refresh outside a Cache, on a client without a timeout: never wait forever.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultclient.Timeout)
		defer cancel()
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	start := r.c.now()
	// A TokenSource from a token without an access token refreshes on its first call, once: x/oauth2
	// never retries it. (AuthStyleAutoDetect, which would, is refused by NewRefresher.)
	ot, err := r.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: sent}).Token()
	if err != nil {
		return nil, r.classify(err, got, secrets)
	}
	return r.token(ot, current, start), nil
}

// client returns the client a refresh is sent with: Config.HTTPClient, else the context's, else
// the SDK's default.
func (r *Refresher) client(ctx context.Context) *http.Client {
	if r.c.HTTPClient != nil {
		return r.c.HTTPClient
	}
	if hc, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); ok && hc != nil {
		return hc
	}
	return defaultclient.Shared()
}

// answer is what a refresh's HTTP answer said besides its body: x/oauth2 keeps it only in a
// RetrieveError, and an answer it could not read deserves its status and request id too.
type answer struct {
	status int
	header http.Header
}

// prepare returns a copy of hc that records the answer into got and hands back a redirect as the
// answer instead of following it: net/http would send a 307 or 308's body (the client secret, the
// refresh token) again to wherever Location points. A redirect becomes an ErrBadResponse error.
func prepare(hc *http.Client, got *answer) *http.Client {
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.Transport = recorder{base: hc.Transport, got: got}
	return &c
}

type recorder struct {
	base http.RoundTripper
	got  *answer
}

func (rec recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	base := rec.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if resp != nil {
		rec.got.status, rec.got.header = resp.StatusCode, resp.Header
	}
	return resp, err
}

// token converts x/oauth2's answer, obtained by a call that started at start.
func (r *Refresher) token(ot *oauth2.Token, current *shoptoken.Token, start time.Time) *shoptoken.Token {
	tok := &shoptoken.Token{
		AccessToken:  ot.AccessToken,
		TokenType:    ot.TokenType,
		RefreshToken: ot.RefreshToken,
		Subject:      current.Subject,
	}
	if tok.RefreshToken == "" {
		// RFC 6749 section 6: no new refresh token means the old one goes on. (x/oauth2 does the
		// same; this does not depend on it.)
		tok.RefreshToken = current.RefreshToken
	}
	if d, ok := seconds(ot, "expires_in"); ok {
		tok.Expiry = start.Add(d)
	}
	for _, name := range []string{"refresh_expires_in", "refresh_token_expires_in"} {
		if d, ok := seconds(ot, name); ok {
			tok.RefreshExpiry = start.Add(d)
			break
		}
	}
	tok.Scope = scopes(ot)
	if f := r.c.SubjectField; f != "" && !redact.IsSecretParam(f) {
		if s, ok := text(ot.Extra(f)); ok && s != "" {
			tok.Subject = s
		}
	}
	tok.Extra = extras(ot, r.c.ExtraFields)
	return tok
}

// seconds reads a lifetime in seconds from the answer's member name (x/oauth2 keeps expires_in in
// ExpiresIn for a JSON answer; a form answer has it only among the extra members).
func seconds(ot *oauth2.Token, name string) (time.Duration, bool) {
	if name == "expires_in" && ot.ExpiresIn > 0 {
		return lifetime.Seconds(ot.ExpiresIn)
	}
	s, ok := text(ot.Extra(name))
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return lifetime.Seconds(n)
}

// scopes reads scope (a space- or comma-separated string, as RFC 6749 and some platforms write
// it) or scopes (an array, or such a string).
func scopes(ot *oauth2.Token) []string {
	for _, name := range []string{"scope", "scopes"} {
		switch v := ot.Extra(name).(type) {
		case string:
			if f := strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' }); len(f) > 0 {
				return f
			}
		case []any:
			var out []string
			for _, e := range v {
				if s, ok := e.(string); ok && s != "" {
					out = append(out, s)
				}
			}
			if len(out) > 0 {
				return out
			}
		}
	}
	return nil
}

// extras reads the named members as text; names that mark a secret are skipped.
func extras(ot *oauth2.Token, names []string) map[string]string {
	var out map[string]string
	for _, name := range names {
		if name == "" || redact.IsSecretParam(name) {
			continue
		}
		if s, ok := text(ot.Extra(name)); ok {
			if out == nil {
				out = make(map[string]string, len(names))
			}
			out[name] = s
		}
	}
	return out
}

// text renders a scalar member of a token answer as text: a string as it is, a number without an
// exponent, a boolean as true or false. ok is false for anything else (absent, null, an object
// or an array). A JSON number beyond 2^53 has lost digits already: x/oauth2 decodes numbers as
// float64.
func text(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// view is how r prints: its Config, redacted.
func (r *Refresher) view() *redact.View { return r.c.viewAs("xoauth2.Refresher") }

// String describes r with the client secret redacted.
func (r *Refresher) String() string { return r.view().String() }

// Format prints the redacted form for every verb: a Cache's Refresher may be printed, and r holds
// the client secret.
func (r *Refresher) Format(f fmt.State, verb rune) {
	s := r.String()
	redact.Format(f, verb, s, s)
}

// LogValue implements slog.LogValuer with the client secret redacted.
func (r *Refresher) LogValue() slog.Value { return r.view().LogValue() }
