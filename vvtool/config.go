package vvtool

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/check"
	"github.com/shoptoken/shoptoken/internal/httpx"
	"github.com/shoptoken/shoptoken/internal/redact"
)

// DefaultTokenLifetime is the token's lifetime when an answer gives none to believe (missing, not
// a number, not positive, or more than ten years): vv-tool documents about 3000 days.
const DefaultTokenLifetime = 3000 * 24 * time.Hour

// DefaultTokenURL is the token endpoint used when Config.TokenURL is empty. The platform serves
// plain http only. The newer endpoint http://api.vv-tool.com/api/proxy/oauth/token (answer wrapped
// in {"code":0,"msg":"成功","data":{...}}) works too.
const DefaultTokenURL = "http://api.vv-tool.com/oauth/token"

const platform = "vvtool"

// Keys of Token.Extra set by this package. None of them holds a secret.
const (
	// ExtraFetchedBy is the host name (os.Hostname) of the process that fetched the token.
	ExtraFetchedBy = "fetched_by"
	// ExtraFetchedFrom is the local IP address of the connection the token was fetched over, when
	// it could be seen. Behind NAT or a proxy it is not the address vv-tool saw.
	ExtraFetchedFrom = "fetched_from"
	// ExtraFetchReason is why a Cache fetched the token ("missing", "expired", "rejected"); absent
	// for a token from Config.FetchToken called directly.
	ExtraFetchReason = "fetch_reason"
)

// Config holds what vv-tool issues to your account. Account and AccessKey are required; a value of
// white space only counts as missing. The Account has one token, named by the Key {"vvtool",
// Account} and stored as "vvtool/<Account>".
//
// A Config is a value: copy it freely. It is safe for concurrent use. It prints and logs with
// AccessKey shortened, in every fmt verb and slog.
type Config struct {
	// Account is the vv-tool Account, sent as client_id. It appears in names and logs.
	Account string
	// AccessKey is the vv-tool Accessskey, sent as client_secret. It never appears in errors or
	// logs.
	AccessKey string

	// Encoding is how the token request's form is encoded. The zero value, Multipart, is what
	// every example in the platform's documentation sends; URLEncoded is an option for a
	// gateway or proxy that wants the OAuth 2.0 encoding (see the package documentation). Any
	// other value is refused before anything is sent.
	Encoding Encoding

	// TokenURL is the token endpoint. If empty, DefaultTokenURL. Either endpoint shape works
	// (classic or wrapped answer); tests point it at a shoptokentest emulator. It must be an
	// absolute http or https URL without user information, query or fragment.
	TokenURL string
	// HTTPClient sends token requests and, through NewClient, API calls: one client, so that both
	// leave from the same address (vv-tool binds a token to the IP that fetched it). If nil, a
	// shared client with the SDK's timeouts is used (5 s to connect, 15 s to the response headers,
	// 30 s in all).
	HTTPClient *http.Client
	// Logger receives a Debug record per token request (redacted URL, status, a redacted snippet
	// of the answer). If nil, nothing is logged. NewSource also gives it to the Cache.
	Logger *slog.Logger
	// Clock is the time of everything built from this Config: token issue times and expiries, the
	// Cache's minimum interval, and how old a rejected token is. If nil, the system clock. Tests
	// give a shoptokentest.Clock here and to the emulator.
	Clock shoptoken.Clock
}

// Encoding is how the token request's form fields are encoded.
type Encoding int

const (
	// Multipart sends the fields as multipart/form-data, as every example in the platform's
	// documentation does (curl --form, PHP CURLOPT_POSTFIELDS with an array, OkHttp's
	// MultipartBody; the parameter table says 传参方式: form-data). It is the default.
	Multipart Encoding = iota
	// URLEncoded sends the fields as application/x-www-form-urlencoded, the encoding OAuth 2.0
	// prescribes for this grant (RFC 6749 §4.4). Whether vv-tool accepts it is not confirmed.
	URLEncoded
)

// String returns "multipart" or "urlencoded".
func (e Encoding) String() string {
	switch e {
	case Multipart:
		return "multipart"
	case URLEncoded:
		return "urlencoded"
	}
	return "Encoding(" + strconv.Itoa(int(e)) + ")"
}

// shown is e as a Config prints it: "" (left out) for the default, Multipart.
func (e Encoding) shown() string {
	if e == Multipart {
		return ""
	}
	return e.String()
}

// view is how c prints: AccessKey shortened, TokenURL without secrets.
func (c Config) view() *redact.View { return c.viewAs("vvtool.Config") }

// viewAs is view under another type name.
func (c Config) viewAs(name string) *redact.View {
	return redact.NewView(name).
		Plain("Account", "account", c.Account).
		Secret("AccessKey", "access_key", c.AccessKey).
		Plain("Encoding", "encoding", c.Encoding.shown()).
		URL("TokenURL", "token_url", c.TokenURL)
}

// String describes c with AccessKey redacted.
func (c Config) String() string { return c.view().String() }

// GoString is used by %#v; it redacts like String.
func (c Config) GoString() string { return c.String() }

// Format prints the redacted form for every verb, so that %v, %+v and %#v never show the key.
func (c Config) Format(f fmt.State, verb rune) { c.view().Format(f, verb) }

// LogValue implements slog.LogValuer with AccessKey redacted.
func (c Config) LogValue() slog.Value { return c.view().LogValue() }

// FetchToken makes one call to the token endpoint and returns the new token.
//
// Every call kills the token the Account held before, on every server that uses it: call it only
// through a Cache (NewSource), which fetches once for a whole fleet. The request is never retried
// once it may have reached the platform.
//
// The token's IssuedAt is the time the request was sent, Expiry is IssuedAt plus expires_in (plus
// DefaultTokenLifetime when the answer gives no expires_in that is positive and at most ten years),
// Subject is the Account, and Extra records the host that fetched it (ExtraFetchedBy,
// ExtraFetchedFrom).
//
// Errors are *shoptoken.Error: ErrCredentials for a wrong Account or AccessKey (or an empty or blank
// one, or any HTTP 401), ErrTokenInvalid when an answer that is not a 401 says 身份凭证无效,
// ErrUnavailable for network failures and 5xx, ErrRateLimited, ErrBadRequest for other refusals
// (and for an Encoding or TokenURL that breaks its rule), ErrBadResponse for answers that cannot
// be understood.
func (c Config) FetchToken(ctx context.Context) (*shoptoken.Token, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c.newFetcher().fetch(ctx)
}

// validate checks the Config and names the field at fault.
func (c Config) validate() error {
	if err := check.Required(platform, "token", shoptoken.ErrCredentials,
		"Config.Account", c.Account, "Config.AccessKey", c.AccessKey); err != nil {
		return err
	}
	if c.Encoding != Multipart && c.Encoding != URLEncoded {
		return &shoptoken.Error{Platform: platform, Op: "token", Kind: shoptoken.ErrBadRequest,
			Message: "Config.Encoding is neither Multipart nor URLEncoded: " + c.Encoding.String()}
	}
	// vv-tool serves plain http: either scheme is fine.
	return httpx.CheckBaseURL(platform, "token", "Config.TokenURL", c.TokenURL, httpx.HTTPAllowed)
}

func (c Config) tokenURL() string {
	if c.TokenURL == "" {
		return DefaultTokenURL
	}
	return c.TokenURL
}

// key returns the Key of the Account's token: {"vvtool", Account}, one token per Account.
func (c Config) key() shoptoken.Key { return shoptoken.Key{Platform: platform, App: c.Account} }

// now reads c's clock.
func (c Config) now() time.Time {
	if c.Clock != nil {
		return c.Clock.Now()
	}
	return time.Now()
}

// fetcher sends token requests for one Config.
type fetcher struct {
	cfg Config
	hc  *httpx.Client
}

func (c Config) newFetcher() *fetcher {
	// Shared: FetchToken calls this every time; the same HTTPClient and Logger get the same client.
	return &fetcher{cfg: c, hc: httpx.Shared(httpx.Config{Platform: platform, HTTPClient: c.HTTPClient, Logger: c.Logger})}
}

func (f *fetcher) now() time.Time { return f.cfg.now() }

// fetch makes one token request, its form encoded as cfg.Encoding says.
func (f *fetcher) fetch(ctx context.Context) (*shoptoken.Token, error) {
	var local atomic.Pointer[string]
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			if a, ok := info.Conn.LocalAddr().(*net.TCPAddr); ok && !a.IP.IsUnspecified() {
				ip := a.IP.String()
				local.Store(&ip)
			}
		},
	})
	secrets := []string{f.cfg.AccessKey}
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {f.cfg.Account},
		"client_secret": {f.cfg.AccessKey},
	}
	req := httpx.Request{
		Op:     "token",
		Method: http.MethodPost,
		URL:    f.cfg.tokenURL(),
		// Every fetch kills the previous token: never send it twice.
		Idempotent: false,
		Secrets:    secrets,
	}
	if f.cfg.Encoding == URLEncoded {
		req.Form = form
	} else {
		req.Multipart = form
	}
	issued := f.now()
	resp, err := f.hc.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	fields, err := parseToken(resp, secrets)
	if err != nil {
		return nil, resp.TokenStatus(err) // a 401 here is about the Account and AccessKey
	}
	tok := &shoptoken.Token{
		AccessToken: fields.AccessToken,
		TokenType:   string(fields.TokenType),
		IssuedAt:    issued,
		Subject:     f.cfg.Account,
		Extra:       map[string]string{},
	}
	if tok.TokenType == "" {
		tok.TokenType = "Bearer"
	}
	life, ok := tokenLife(fields.ExpiresIn)
	if !ok {
		life = DefaultTokenLifetime
		if f.cfg.Logger != nil {
			f.cfg.Logger.Warn("vvtool: expires_in is missing or not plausible; the documented 3000 days are assumed",
				slog.Int64("expires_in", fields.ExpiresIn.N), slog.Bool("unreadable", fields.ExpiresIn.Invalid))
		}
	}
	tok.Expiry = issued.Add(life)
	tok.Scope = scopes(string(fields.Scope))
	if host, err := os.Hostname(); err == nil && host != "" {
		tok.Extra[ExtraFetchedBy] = host
	}
	if ip := local.Load(); ip != nil {
		tok.Extra[ExtraFetchedFrom] = *ip
	}
	return tok, nil
}
