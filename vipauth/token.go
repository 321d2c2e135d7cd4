package vipauth

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/httpx"
	"github.com/shoptoken/shoptoken/internal/jsonx"
	"github.com/shoptoken/shoptoken/internal/lifetime"
	"github.com/shoptoken/shoptoken/internal/redact"
)

// DefaultTokenLifetime is how long a token lives when the platform's answer gives no expires_in to
// believe (missing, unreadable, not positive, or more than ten years): vip.com documents 30 days.
const DefaultTokenLifetime = 30 * 24 * time.Hour

// chinaTime is the zone of vip.com's date strings: UTC+8 all year. A fixed zone, so the package
// does not depend on the system's tzdata.
var chinaTime = time.FixedZone("CST", 8*60*60)

// dateLayout is the layout of token_info's create_at and expires_time: "2015-03-13 17:24:20".
const dateLayout = "2006-01-02 15:04:05"

// Exchange trades an authorization code for a token: one POST {BaseURL}/token with client_id,
// client_secret, grant_type=authorization_code, redirect_uri, request_client_ip and code.
//
// clientIP is the IP address of the user's browser as your server saw it (request_client_ip,
// which vip.com requires); "ip:port" as in http.Request.RemoteAddr is accepted. ClientID,
// ClientSecret, RedirectURL, code and clientIP are required.
//
// The parameters travel where c.Encoding says: by default in the query string of the POST, as in
// every example of vip.com's documentation (see the package documentation).
//
// The token has Subject = open_id (a number as its digits), TokenType "Bearer", IssuedAt = when the
// request was sent and Expiry = IssuedAt + expires_in (DefaultTokenLifetime, 30 days, when the
// answer has none that is positive and at most ten years). It cannot be refreshed: hand
// it to App.Set (or NewSource with shoptoken.WithToken, or an existing source's Set).
//
// A code is single use, so the request is never resent once it may have reached vip.com. An
// invalid, used or expired code is shoptoken.ErrReauthorize; rejected app credentials are
// shoptoken.ErrCredentials; an error vip.com does not explain is ErrReauthorize too (the code is
// spent either way: send the user to AuthCodeURL again). After shoptoken.ErrUnavailable the code
// may or may not have been used.
func (c Config) Exchange(ctx context.Context, code, clientIP string) (*shoptoken.Token, error) {
	const op = "exchange"
	if err := needFields(op, shoptoken.ErrCredentials, "Config.ClientID", c.ClientID, "Config.ClientSecret", c.ClientSecret); err != nil {
		return nil, err
	}
	if err := needFields(op, shoptoken.ErrBadRequest, "Config.RedirectURL", c.RedirectURL, "code", code, "clientIP", clientIP); err != nil {
		return nil, err
	}
	if err := c.checkBaseURL(op); err != nil {
		return nil, err
	}
	if err := checkRedirectURI(op, c.RedirectURL); err != nil {
		return nil, err
	}
	ip, ok := parseIP(clientIP)
	if !ok {
		return nil, &shoptoken.Error{Platform: platform, Op: op, Kind: shoptoken.ErrBadRequest,
			Message: fmt.Sprintf("clientIP %q is not an IP address", httpx.Short(clientIP))}
	}
	secrets := []string{c.ClientSecret, code}
	req, err := c.post(op, "token", url.Values{
		"client_id":         {c.ClientID},
		"client_secret":     {c.ClientSecret},
		"grant_type":        {"authorization_code"},
		"redirect_uri":      {c.RedirectURL},
		"request_client_ip": {ip},
		"code":              {code},
	}, false, secrets)
	if err != nil {
		return nil, err
	}
	start := c.now()
	resp, err := c.client().Do(ctx, req)
	if err != nil {
		return nil, err
	}
	tok, err := decodeExchange(resp, start, c.Logger, secrets...)
	err = resp.TokenStatus(err) // a 401 here is about the app's credentials, whatever the body
	if err == nil && c.Logger != nil {
		c.Logger.LogAttrs(ctx, slog.LevelDebug, "vipauth: exchanged code", slog.Any("token", *tok))
	}
	return tok, err
}

// parseIP accepts "ip", "ip:port" and "[ipv6]:port" and returns the bare address.
func parseIP(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if ip := net.ParseIP(s); ip != nil {
		return ip.String(), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if ip := net.ParseIP(host); ip != nil {
			return ip.String(), true
		}
	}
	return "", false
}

// decodeExchange reads a token endpoint answer. log, if not nil, hears about an expires_in that
// had to be replaced by the documented lifetime.
func decodeExchange(resp *httpx.Response, issued time.Time, log *slog.Logger, secrets ...string) (*shoptoken.Token, error) {
	const op = "exchange"
	a, err := decode(resp, op, secrets)
	if err != nil {
		return nil, err
	}
	if !is2xx(resp.StatusCode) || a.AccessToken == nil || *a.AccessToken == "" {
		return nil, a.failure(resp, op, secrets)
	}
	// The code is spent: a token is never dropped over its lifetime. One that cannot be believed
	// (unreadable, not positive, more than ten years) becomes the documented 30 days, and the first
	// rejection (ErrReauthorize either way) corrects it.
	life, ok := lifetime.Seconds(a.ExpiresIn.N)
	if !ok || !a.ExpiresIn.Set {
		life = DefaultTokenLifetime
		if (a.ExpiresIn.Set || a.ExpiresIn.Invalid) && log != nil {
			log.Warn("vipauth: expires_in is not plausible; the documented 30 days are assumed",
				slog.Int64("expires_in", a.ExpiresIn.N), slog.Bool("unreadable", a.ExpiresIn.Invalid))
		}
	}
	issued = issued.Round(0) // wall clock only: the token may be stored and read elsewhere
	return &shoptoken.Token{
		AccessToken: *a.AccessToken,
		TokenType:   "Bearer",
		Expiry:      issued.Add(life),
		IssuedAt:    issued,
		Subject:     string(a.OpenID),
	}, nil
}

// TokenInfo is what vip.com knows about an access token (POST /oauth2/token_info).
//
// TokenInfo redacts AccessToken in String, GoString, every fmt verb and slog, like shoptoken.Token.
type TokenInfo struct {
	AccessToken string
	OpenID      string
	TokenType   string // "Bearer"
	// CreatedAt and ExpiresAt are the platform's create_at and expires_time, which are written in
	// China time (UTC+8); the zero time when the answer leaves them out.
	CreatedAt, ExpiresAt time.Time
	// ExpiresIn is the platform's expires_in: in its documented example the token's whole
	// lifetime (ExpiresAt − CreatedAt), not the time left. Use ExpiresAt for the deadline. Zero
	// when the answer gives none that is positive and at most ten years.
	ExpiresIn time.Duration
}

// Token returns info as a shoptoken.Token (Expiry = ExpiresAt, or CreatedAt + ExpiresIn when
// the answer has no expires_time), e.g. to start NewSource from a token saved before.
func (ti *TokenInfo) Token() *shoptoken.Token {
	exp := ti.ExpiresAt
	if exp.IsZero() && !ti.CreatedAt.IsZero() && ti.ExpiresIn > 0 {
		exp = ti.CreatedAt.Add(ti.ExpiresIn)
	}
	if !lifetime.Storable(exp) {
		exp = time.Time{} // unknown rather than a time no Store can write
	}
	typ := ti.TokenType
	if typ == "" {
		typ = "Bearer"
	}
	return &shoptoken.Token{AccessToken: ti.AccessToken, TokenType: typ, Expiry: exp, IssuedAt: ti.CreatedAt, Subject: ti.OpenID}
}

// String describes info with the access token redacted.
func (ti TokenInfo) String() string {
	var b strings.Builder
	b.WriteString("TokenInfo{access_token: " + redact.Secret(ti.AccessToken))
	if ti.OpenID != "" {
		b.WriteString(", open_id: " + ti.OpenID)
	}
	if ti.TokenType != "" {
		b.WriteString(", type: " + ti.TokenType)
	}
	if !ti.CreatedAt.IsZero() {
		b.WriteString(", created: " + ti.CreatedAt.Format(time.RFC3339))
	}
	if !ti.ExpiresAt.IsZero() {
		b.WriteString(", expires: " + ti.ExpiresAt.Format(time.RFC3339))
	}
	if ti.ExpiresIn != 0 {
		b.WriteString(", expires_in: " + ti.ExpiresIn.String())
	}
	b.WriteString("}")
	return b.String()
}

// GoString is used by %#v; it redacts like String.
func (ti TokenInfo) GoString() string { return "vipauth." + ti.String() }

// Format implements fmt.Formatter: every verb prints the redacted form.
func (ti TokenInfo) Format(f fmt.State, verb rune) {
	redact.Format(f, verb, ti.String(), ti.GoString())
}

// LogValue implements slog.LogValuer with the access token redacted.
func (ti TokenInfo) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("access_token", redact.Secret(ti.AccessToken)),
		slog.String("open_id", ti.OpenID),
		slog.Time("created_at", ti.CreatedAt),
		slog.Time("expires_at", ti.ExpiresAt),
	)
}

// TokenInfo asks vip.com about accessToken: one POST {BaseURL}/token_info?access_token=... (or the
// token in a form body, with Encoding FormBody). It is safe to retry.
//
// A revoked token ({"code":0,"msg":"token revoked"}: the user cancelled the grant, changed the
// password, or the account was frozen) is shoptoken.ErrReauthorize: code 0 is not a success here.
// An invalid or expired token (30111) is shoptoken.ErrTokenInvalid.
func (c Config) TokenInfo(ctx context.Context, accessToken string) (*TokenInfo, error) {
	const op = "token_info"
	if err := needFields(op, shoptoken.ErrBadRequest, "accessToken", accessToken); err != nil {
		return nil, err
	}
	if err := c.checkBaseURL(op); err != nil {
		return nil, err
	}
	secrets := []string{accessToken}
	req, err := c.post(op, "token_info", url.Values{"access_token": {accessToken}}, true, secrets)
	if err != nil {
		return nil, err
	}
	resp, err := c.client().Do(ctx, req)
	if err != nil {
		return nil, err
	}
	return decodeTokenInfo(resp, secrets...)
}

func decodeTokenInfo(resp *httpx.Response, secrets ...string) (*TokenInfo, error) {
	const op = "token_info"
	a, err := decode(resp, op, secrets)
	if err != nil {
		return nil, err
	}
	if !is2xx(resp.StatusCode) || a.AccessToken == nil || *a.AccessToken == "" {
		return nil, a.failure(resp, op, secrets)
	}
	ti := &TokenInfo{AccessToken: *a.AccessToken, OpenID: string(a.OpenID), TokenType: string(a.TokenType)}
	if life, ok := lifetime.Seconds(a.ExpiresIn.N); ok && a.ExpiresIn.Set {
		ti.ExpiresIn = life
	}
	for _, d := range []struct {
		name string
		raw  jsonx.Text
		to   *time.Time
	}{{"create_at", a.CreateAt, &ti.CreatedAt}, {"expires_time", a.ExpiresTime, &ti.ExpiresAt}} {
		if d.raw == "" {
			continue
		}
		t, err := time.ParseInLocation(dateLayout, strings.TrimSpace(string(d.raw)), chinaTime)
		if err != nil || !lifetime.Storable(t) {
			return nil, a.bad(resp, op, d.name+" is not a date like 2015-03-13 17:24:20", secrets)
		}
		*d.to = t
	}
	return ti, nil
}

// Revoke ends accessToken's grant: one POST {BaseURL}/revoke_token?access_token=... (or the token
// in a form body, with Encoding FormBody).
// {"code":0,"msg":"success"} is success. A token that is already invalid, expired or revoked
// (30111) is shoptoken.ErrTokenInvalid; if all you want is that the token no longer works, that
// error means so too.
//
// The request is not resent once it may have reached vip.com, because a repeat after a lost
// answer would report 30111 for a revocation that worked.
func (c Config) Revoke(ctx context.Context, accessToken string) error {
	const op = "revoke"
	if err := needFields(op, shoptoken.ErrBadRequest, "accessToken", accessToken); err != nil {
		return err
	}
	if err := c.checkBaseURL(op); err != nil {
		return err
	}
	secrets := []string{accessToken}
	req, err := c.post(op, "revoke_token", url.Values{"access_token": {accessToken}}, false, secrets)
	if err != nil {
		return err
	}
	resp, err := c.client().Do(ctx, req)
	if err != nil {
		return err
	}
	return decodeRevoke(resp, secrets...)
}

func decodeRevoke(resp *httpx.Response, secrets ...string) error {
	const op = "revoke"
	a, err := decode(resp, op, secrets)
	if err != nil {
		return err
	}
	if is2xx(resp.StatusCode) && a.Code != nil && a.code() == "0" && a.Error == "" {
		return nil
	}
	return a.failure(resp, op, secrets)
}
