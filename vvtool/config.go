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
	"sync/atomic"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/check"
	"github.com/shoptoken/shoptoken/internal/httpx"
	"github.com/shoptoken/shoptoken/internal/redact"
)

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
// white space only counts as missing.
//
// A Config is a value: copy it freely. It is safe for concurrent use. It prints and logs with
// AccessKey shortened, in every fmt verb and slog.
type Config struct {
	// Account is the vv-tool Account, sent as client_id. It appears in names and logs.
	Account string
	// AccessKey is the vv-tool Accessskey, sent as client_secret. It never appears in errors or
	// logs.
	AccessKey string

	// TokenURL is the token endpoint. If empty, DefaultTokenURL. Either endpoint shape works
	// (classic or wrapped answer); tests point it at a shoptokentest emulator. It must be an
	// absolute http or https URL without user information, query or fragment.
	TokenURL string
	// HTTPClient sends token requests. If nil, a shared client with the SDK's timeouts is used (5 s
	// to connect, 15 s to the response headers, 30 s in all).
	HTTPClient *http.Client
	// Logger receives a Debug record per token request (redacted URL, status, a redacted snippet
	// of the answer). If nil, nothing is logged. NewSource also gives it to the Cache.
	Logger *slog.Logger
}

// view is how c prints: AccessKey shortened, TokenURL without secrets.
func (c Config) view() *redact.View {
	return redact.NewView("vvtool.Config").
		Plain("Account", "account", c.Account).
		Secret("AccessKey", "access_key", c.AccessKey).
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
// The token's IssuedAt is the time the request was sent, Expiry is IssuedAt plus expires_in (zero
// when the answer gives no positive expires_in), Subject is the Account, and Extra records the
// host that fetched it (ExtraFetchedBy, ExtraFetchedFrom).
//
// Errors are *shoptoken.Error: ErrCredentials for a wrong Account or AccessKey (or an empty or blank one),
// ErrTokenInvalid when the answer says 身份凭证无效, ErrUnavailable for network failures and 5xx,
// ErrRateLimited, ErrBadRequest for other refusals, ErrBadResponse for answers that cannot be
// understood.
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
	// vv-tool serves plain http: either scheme is fine.
	return httpx.CheckBaseURL(platform, "token", "Config.TokenURL", c.TokenURL, httpx.HTTPAllowed)
}

func (c Config) tokenURL() string {
	if c.TokenURL == "" {
		return DefaultTokenURL
	}
	return c.TokenURL
}

// fetcher sends token requests for one Config.
type fetcher struct {
	cfg Config
	hc  *httpx.Client
	now func() time.Time
}

func (c Config) newFetcher() *fetcher {
	return &fetcher{
		cfg: c,
		hc:  httpx.New(httpx.Config{Platform: platform, HTTPClient: c.HTTPClient, Logger: c.Logger}),
		now: time.Now,
	}
}

// fetch makes one token request. The form is sent urlencoded (see the package documentation).
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
	issued := f.now()
	resp, err := f.hc.Do(ctx, httpx.Request{
		Op:     "token",
		Method: http.MethodPost,
		URL:    f.cfg.tokenURL(),
		Form: url.Values{
			"grant_type":    {"client_credentials"},
			"client_id":     {f.cfg.Account},
			"client_secret": {f.cfg.AccessKey},
		},
		// Every fetch kills the previous token: never send it twice.
		Idempotent: false,
		Secrets:    secrets,
	})
	if err != nil {
		return nil, err
	}
	fields, err := parseToken(resp, secrets)
	if err != nil {
		return nil, err
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
	if life := lifetime(fields.ExpiresIn); life > 0 {
		tok.Expiry = issued.Add(life)
	}
	tok.Scope = scopes(string(fields.Scope))
	if host, err := os.Hostname(); err == nil && host != "" {
		tok.Extra[ExtraFetchedBy] = host
	}
	if ip := local.Load(); ip != nil {
		tok.Extra[ExtraFetchedFrom] = *ip
	}
	return tok, nil
}
