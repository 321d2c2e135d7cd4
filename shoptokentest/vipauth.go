package shoptokentest

import (
	"html"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// VipAuth emulates vip.com OAuth2 (auth.vip.com): GET /oauth2/authorize (a user who always
// consents, unless DenyNext; with WithConsentPage, once they press Authorize), POST /oauth2/token, POST /oauth2/token_info,
// POST /oauth2/revoke_token, and the API GET /api/account/info?access_token=...
//
// For counting and faults, /oauth2/token is the token endpoint; token_info, revoke_token
// and /api/account/info are API endpoints; authorize is neither (it is the browser's).
// Exchanging a new code does not end the user's earlier tokens.
//
// Strict (the default), the emulator reads parameters only where the platform's examples put
// them: token, token_info and revoke_token are POSTs whose parameters are all in the query
// string (a parameter in a form body counts as missing: 30004), and the API reads access_token
// from the query. authorize and token accept only registered redirect URIs (WithRedirectURIs;
// VipAuthRedirectURI by default) and OOB: an unregistered one gets no code (HTTP 400, 30003).
// Lenient, parameters are read from the query and a form body alike, and any absolute
// redirect URI is accepted.
//
// A VipAuth is safe for concurrent use.
type VipAuth struct {
	*core
	// URL is the emulator's root URL; the API is URL+"/api/account/info".
	URL string
	// OAuthURL is URL+"/oauth2", the base of the OAuth2 endpoints (vipauth.Config.BaseURL).
	OAuthURL string

	user   string // open_id of the user who consents in the browser
	deny   int    // authorize requests still to be refused
	codes  map[string]*vaCode
	tokens map[string]*vaToken
}

type vaCode struct {
	redirect string
	openID   string
	expires  time.Time
	used     bool
}

type vaToken struct {
	openID  string
	created time.Time
	expires time.Time
	revoked bool
}

// VipAuthOpenID is the open_id of the user who consents in the VipAuth emulator's browser
// until ConsentAs names another (the open_id of the platform's documented example).
const VipAuthOpenID = "69BA0D43AF9E3821EE93F72D3BB14724"

// OOB is the redirect_uri of vip.com's native-application flow: the code is shown on the page.
const OOB = "urn:ietf:wg:oauth:2.0:oob"

// VipAuthRedirectURI is the redirect URI a VipAuth emulator has registered unless
// WithRedirectURIs says otherwise.
const VipAuthRedirectURI = "https://isv.example.com/vip/callback"

// chinaTime is the zone of vip.com's date strings (UTC+8, no daylight saving).
var chinaTime = time.FixedZone("CST", 8*60*60)

// vipAuthDateLayout is the layout of create_at and expires_time: "2015-03-13 17:24:20".
const vipAuthDateLayout = "2006-01-02 15:04:05"

// NewVipAuth starts a vip.com OAuth2 emulator. It accepts client_id "id" and client_secret
// "secret" unless WithCredentials says otherwise; tokens live 30 days unless WithTokenTTL
// says otherwise. Close it when done.
func NewVipAuth(opts ...Option) *VipAuth {
	v := &VipAuth{
		core:   newCore(opts, "id", "secret"),
		user:   VipAuthOpenID,
		codes:  map[string]*vaCode{},
		tokens: map[string]*vaToken{},
	}
	mux := http.NewServeMux()
	mux.Handle("/oauth2/authorize", v.handle(epOther, v.serveAuthorize))
	mux.Handle("/oauth2/token", v.handle(epToken, v.serveToken))
	mux.Handle("/oauth2/token_info", v.handle(epAPI, v.serveTokenInfo))
	mux.Handle("/oauth2/revoke_token", v.handle(epAPI, v.serveRevoke))
	mux.Handle("/api/account/info", v.handle(epAPI, v.serveAccountInfo))
	v.URL = v.start(mux)
	v.OAuthURL = v.URL + "/oauth2"
	return v
}

// ConsentAs makes openID the user who consents on later authorize requests.
func (v *VipAuth) ConsentAs(openID string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.user = openID
}

// DenyNext makes the next authorize request a refusal (with WithConsentPage, the next decision,
// whichever button was pressed): the browser is redirected with
// error=access_denied&error_description=... (on the oob page, the error is shown instead).
func (v *VipAuth) DenyNext() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.deny++
}

// NewCode returns a single-use authorization code (valid 10 minutes) for openID and
// redirectURI, as if the user had just consented in a browser. Stats are not touched. A strict
// emulator refuses to exchange it if redirectURI is not registered (WithRedirectURIs).
func (v *VipAuth) NewCode(openID, redirectURI string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.newCode(openID, redirectURI)
}

func (v *VipAuth) newCode(openID, redirectURI string) string {
	code := freshHex(v.codes, 16, true)
	v.codes[code] = &vaCode{redirect: redirectURI, openID: openID, expires: v.now().Add(10 * time.Minute)}
	return code
}

// RevokeUser ends every token of openID, as when the user cancels the grant or changes the
// password: token_info answers "token revoked", the API answers 30111.
func (v *VipAuth) RevokeUser(openID string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, t := range v.tokens {
		if t.openID == openID {
			t.revoked = true
		}
	}
}

// ExpireNow makes every token issued so far expire now.
func (v *VipAuth) ExpireNow() {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	for _, t := range v.tokens {
		t.expires = now
	}
}

// Valid reports whether accessToken would be accepted by the API now.
func (v *VipAuth) Valid(accessToken string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.live(accessToken) != nil
}

// live returns the token if it is neither unknown, revoked nor expired; v.mu must be held.
func (v *VipAuth) live(accessToken string) *vaToken {
	t := v.tokens[accessToken]
	if t == nil || t.revoked || !v.now().Before(t.expires) {
		return nil
	}
	return t
}

type vaCodeMsg struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
}

// Error answers. 30111 "access token invalid" and {"code":0,"msg":"token revoked"} are the
// platform's; the 3000x codes are the emulator's invention (the real table is unknown).
var (
	vaInvalidCode     = vaCodeMsg{30001, "invalid code"}
	vaInvalidClient   = vaCodeMsg{30002, "invalid client"}
	vaRedirect        = vaCodeMsg{30003, "redirect_uri mismatch"}
	vaUnregistered    = vaCodeMsg{30003, "redirect_uri not registered"}
	vaUnsupported     = vaCodeMsg{30005, "unsupported grant_type"}
	vaUnsupportedResp = vaCodeMsg{30005, "unsupported response_type"}
	vaTokenInvalid    = vaCodeMsg{30111, "access token invalid"}
	vaTokenRevoked    = vaCodeMsg{0, "token revoked"}
)

func vaMissing(param string) vaCodeMsg { return vaCodeMsg{30004, "missing parameter: " + param} }

// registered reports whether redirect may receive codes; v.mu must be held. OOB always may.
func (v *VipAuth) registered(redirect string) bool {
	if redirect == OOB || v.opts.lenient {
		return true
	}
	uris := v.opts.redirects
	if uris == nil {
		uris = []string{VipAuthRedirectURI}
	}
	return slices.Contains(uris, redirect)
}

// params returns the parameters of an OAuth2 or API request: strict, the query only (where the
// platform's examples put them); lenient, the query and a form body alike.
func (v *VipAuth) params(r *http.Request) (url.Values, error) {
	if !v.opts.lenient {
		return r.URL.Query(), nil
	}
	err := formValues(r)
	return r.Form, err
}

func (v *VipAuth) serveAuthorize(r *http.Request) answer {
	q, decided, denied := r.URL.Query(), false, false
	if v.opts.consentPage {
		var ok bool
		if q, decided, denied, ok = authorizeParams(r); !ok {
			return methodNotAllowed()
		}
	}
	redirect := q.Get("redirect_uri")
	state := q.Get("state")

	v.mu.Lock()
	defer v.mu.Unlock()
	if q.Get("client_id") != v.opts.id {
		return jsonAnswer(http.StatusBadRequest, vaInvalidClient)
	}
	if redirect == "" {
		return jsonAnswer(http.StatusBadRequest, vaMissing("redirect_uri"))
	}
	if q.Get("response_type") != "code" {
		return jsonAnswer(http.StatusBadRequest, vaUnsupportedResp)
	}
	if !v.registered(redirect) {
		return jsonAnswer(http.StatusBadRequest, vaUnregistered) // no code, no redirect
	}
	if redirect != OOB {
		if u, err := url.Parse(redirect); err != nil || !u.IsAbs() {
			return jsonAnswer(http.StatusBadRequest, vaCodeMsg{30003, "invalid redirect_uri"})
		}
	}
	if v.opts.consentPage && !decided {
		return consentPage("唯品会授权 (vip.com authorization)", v.user, q)
	}
	params := url.Values{}
	if v.deny > 0 || denied {
		if v.deny > 0 {
			v.deny--
		}
		params.Set("error", "access_denied")
		params.Set("error_description", "用户拒绝授权 (the user denied the request)")
	} else {
		params.Set("code", v.newCode(v.user, redirect))
	}
	if state != "" {
		params.Set("state", state)
	}
	if redirect == OOB {
		return answer{status: http.StatusOK, ctype: ctypeHTML, body: []byte(oobPage(params))}
	}
	return *redirectWith(redirect, params) // an absolute URL: checked above
}

func oobPage(p url.Values) string {
	head := `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>唯品会授权</title></head>
<body>
`
	tail := "</body>\n</html>\n"
	if e := p.Get("error"); e != "" {
		return head + `<p>授权失败 (authorization failed): <span id="error">` + html.EscapeString(e) +
			`</span> <span id="error_description">` + html.EscapeString(p.Get("error_description")) + "</span></p>\n" + tail
	}
	return head + `<p>请复制授权码到应用中 (copy this code into the application):</p>
<code id="code">` + html.EscapeString(p.Get("code")) + "</code>\n" + tail
}

// tokenError counts a token-endpoint error; v.mu must be held.
func (v *VipAuth) tokenError(m vaCodeMsg) answer {
	v.stats.Errors++
	return jsonAnswer(http.StatusOK, m)
}

func (v *VipAuth) serveToken(r *http.Request) answer {
	f, formErr := v.params(r)

	v.mu.Lock()
	defer v.mu.Unlock()
	if r.Method != http.MethodPost {
		v.stats.Errors++
		return methodNotAllowed()
	}
	if formErr != nil {
		return v.tokenError(vaCodeMsg{30004, "invalid request"})
	}
	if f.Get("client_id") != v.opts.id || f.Get("client_secret") != v.opts.secret {
		return v.tokenError(vaInvalidClient)
	}
	if f.Get("grant_type") != "authorization_code" {
		return v.tokenError(vaUnsupported)
	}
	for _, p := range []string{"code", "redirect_uri", "request_client_ip"} {
		if f.Get(p) == "" {
			return v.tokenError(vaMissing(p))
		}
	}
	now := v.now()
	c := v.codes[f.Get("code")]
	if c == nil || c.used || !now.Before(c.expires) {
		return v.tokenError(vaInvalidCode)
	}
	if c.redirect != f.Get("redirect_uri") {
		return v.tokenError(vaRedirect)
	}
	if !v.registered(c.redirect) {
		return v.tokenError(vaUnregistered)
	}
	c.used = true
	life := ttl(v.opts.tokenTTL, 30*24*time.Hour)
	tok := freshHex(v.tokens, 20, true)
	v.tokens[tok] = &vaToken{openID: c.openID, created: now, expires: now.Add(life)}
	v.stats.Issued++
	return jsonAnswer(http.StatusOK, struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		OpenID      string `json:"open_id"`
	}{tok, int64(life / time.Second), c.openID})
}

// apiReject counts and shapes a rejection; v.mu must be held.
func (v *VipAuth) apiReject(m vaCodeMsg) answer {
	v.stats.Rejected++
	return jsonAnswer(http.StatusOK, m)
}

func (v *VipAuth) serveTokenInfo(r *http.Request) answer {
	p, _ := v.params(r)
	v.mu.Lock()
	defer v.mu.Unlock()
	if r.Method != http.MethodPost {
		return methodNotAllowed()
	}
	tok := p.Get("access_token")
	if t := v.tokens[tok]; t != nil && t.revoked {
		return v.apiReject(vaTokenRevoked)
	}
	t := v.live(tok)
	if t == nil {
		return v.apiReject(vaTokenInvalid)
	}
	return jsonAnswer(http.StatusOK, struct {
		AccessToken string `json:"access_token"`
		CreateAt    string `json:"create_at"`
		ExpiresIn   int64  `json:"expires_in"`
		ExpiresTime string `json:"expires_time"`
		OpenID      string `json:"open_id"`
		TokenType   string `json:"token_type"`
	}{
		AccessToken: tok,
		CreateAt:    t.created.In(chinaTime).Format(vipAuthDateLayout),
		ExpiresIn:   int64(t.expires.Sub(t.created) / time.Second),
		ExpiresTime: t.expires.In(chinaTime).Format(vipAuthDateLayout),
		OpenID:      t.openID,
		TokenType:   "Bearer",
	})
}

func (v *VipAuth) serveRevoke(r *http.Request) answer {
	p, _ := v.params(r)
	v.mu.Lock()
	defer v.mu.Unlock()
	if r.Method != http.MethodPost {
		return methodNotAllowed()
	}
	t := v.live(p.Get("access_token"))
	if t == nil {
		return v.apiReject(vaTokenInvalid)
	}
	t.revoked = true
	return jsonAnswer(http.StatusOK, vaCodeMsg{0, "success"})
}

func (v *VipAuth) serveAccountInfo(r *http.Request) answer {
	p, _ := v.params(r)
	v.mu.Lock()
	defer v.mu.Unlock()
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return methodNotAllowed()
	}
	t := v.live(p.Get("access_token"))
	if t == nil {
		return v.apiReject(vaTokenInvalid)
	}
	type info struct {
		OpenID string `json:"open_id"`
	}
	return jsonAnswer(http.StatusOK, struct {
		Code int  `json:"code"`
		Data info `json:"data"`
	}{0, info{t.openID}})
}
