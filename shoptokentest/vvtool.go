package shoptokentest

import (
	"net/http"
	"strings"
	"time"
)

// VVTool emulates vv-tool (v兔): the client_credentials token endpoints POST /oauth/token
// and POST /api/proxy/oauth/token, and the API GET/POST /tool/members/info.
//
// Every fetch kills the account's previous token. A token is bound to the IP that fetched
// it: used from another IP it is invalidated for good. With WithAbuseRule, a sudden jump in a
// token's API calls cuts its validity short.
//
// Strict (the default), the token endpoints read the credentials only from a multipart/form-data
// POST body, as the platform's examples send them (curl --form): a urlencoded body, or any of
// grant_type, client_id, client_secret or scope in the query string, is refused with
// invalid_request (the wrapped endpoint: 参数错误). Lenient, they read the query, urlencoded and
// multipart bodies alike.
//
// A VVTool is safe for concurrent use.
type VVTool struct {
	*core
	// URL is the emulator's base URL; the token URL is URL+"/oauth/token".
	URL string

	style   RejectStyle
	tokens  map[string]*vvToken
	current map[string]string // account → its one live token
}

type vvToken struct {
	account string
	ip      string
	issued  time.Time
	expires time.Time
	dead    bool // superseded by a newer fetch, or used from another IP

	// The abuse rule's counts: API calls in window number win (counted from issued), and in
	// the window before it.
	win       int64
	calls     int
	prevCalls int
}

// RejectStyle is how the vv-tool emulator answers an API call whose token it rejects. The
// real status and code are unverified, so a client must handle every style.
type RejectStyle int

const (
	// RejectHTTP401 answers HTTP 401 {"code":401,"msg":"身份凭证无效"} (the default).
	RejectHTTP401 RejectStyle = iota
	// RejectHTTP200 answers HTTP 200 {"code":401,"msg":"身份凭证无效"}.
	RejectHTTP200
	// RejectPlainText answers HTTP 401 with the text body 身份凭证无效.
	RejectPlainText
)

// VVToolInvalid is the platform's message for a rejected token: expired, superseded by
// another fetch, or used from another IP.
const VVToolInvalid = "身份凭证无效"

// vv-tool's token endpoint looks like Laravel Passport; its error answers are shaped like
// Passport's. The messages of the wrapped /api/proxy endpoint are the emulator's own.
const (
	vvInvalidClient = "Client authentication failed"
	vvUnsupported   = "The authorization grant type is not supported by the authorization server."
	vvInvalidReq    = "The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed."
	// vvStrictReq explains a strict refusal of a request the seed does not show.
	vvStrictReq = "strict emulator: send the parameters in a multipart/form-data POST body (as the seed's curl --form does), never urlencoded or in the query; see shoptokentest.Lenient"
)

// vvTokenParams are the token endpoint's parameters; strict, none of them may be in the query.
var vvTokenParams = []string{"grant_type", "client_id", "client_secret", "scope"}

// NewVVTool starts a vv-tool emulator. It accepts client_id "account" and client_secret
// "key" unless WithCredentials says otherwise; tokens live 3000 days unless WithTokenTTL
// says otherwise. Close it when done.
func NewVVTool(opts ...Option) *VVTool {
	v := &VVTool{
		core:    newCore(opts, "account", "key"),
		tokens:  map[string]*vvToken{},
		current: map[string]string{},
	}
	mux := http.NewServeMux()
	mux.Handle("/oauth/token", v.handle(epToken, func(r *http.Request) answer { return v.serveToken(r, false) }))
	mux.Handle("/api/proxy/oauth/token", v.handle(epToken, func(r *http.Request) answer { return v.serveToken(r, true) }))
	mux.Handle("/tool/members/info", v.handle(epAPI, v.serveInfo))
	v.URL = v.start(mux)
	return v
}

// SetRejectStyle chooses how rejected API calls are answered from now on.
func (v *VVTool) SetRejectStyle(style RejectStyle) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.style = style
}

// ExpireNow makes every token issued so far expire now.
func (v *VVTool) ExpireNow() {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	for _, t := range v.tokens {
		t.expires = now
	}
}

// Valid reports whether accessToken is alive now (not expired, superseded or invalidated).
// It does not check the caller's IP.
func (v *VVTool) Valid(accessToken string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	t := v.tokens[accessToken]
	return t != nil && !t.dead && v.now().Before(t.expires)
}

// tokenError counts and shapes an error of the plain (Passport-like) or wrapped endpoint;
// v.mu must be held.
func (v *VVTool) tokenError(wrapped bool, status int, oauthErr, desc, zh string) answer {
	v.stats.Errors++
	if wrapped {
		return jsonAnswer(http.StatusOK, struct {
			Code int    `json:"code"`
			Msg  string `json:"msg"`
			Data any    `json:"data"`
		}{400, zh, nil})
	}
	return jsonAnswer(status, struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
		Message          string `json:"message"`
	}{oauthErr, desc, desc})
}

type vvTokenData struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	TokenType   string `json:"token_type"`
	Scope       string `json:"scope"`
}

// strictRefusal says why a strict emulator refuses a token request the seed does not show; ""
// when it does not.
func (v *VVTool) strictRefusal(r *http.Request) string {
	if v.opts.lenient {
		return ""
	}
	if mediaType(r) != "multipart/form-data" {
		return vvStrictReq
	}
	q := r.URL.Query()
	for _, p := range vvTokenParams {
		if q.Has(p) {
			return vvStrictReq
		}
	}
	return ""
}

func (v *VVTool) serveToken(r *http.Request, wrapped bool) answer {
	strict := v.strictRefusal(r)
	formErr := formValues(r)
	ip := v.clientIP(r)

	v.mu.Lock()
	defer v.mu.Unlock()
	if r.Method != http.MethodPost || formErr != nil {
		return v.tokenError(wrapped, http.StatusBadRequest, "invalid_request", vvInvalidReq, "参数错误")
	}
	if strict != "" {
		return v.tokenError(wrapped, http.StatusBadRequest, "invalid_request", strict, "参数错误 ("+strict+")")
	}
	if r.Form.Get("grant_type") != "client_credentials" {
		return v.tokenError(wrapped, http.StatusBadRequest, "unsupported_grant_type", vvUnsupported, "grant_type错误")
	}
	account := r.Form.Get("client_id")
	if account != v.opts.id || r.Form.Get("client_secret") != v.opts.secret {
		return v.tokenError(wrapped, http.StatusUnauthorized, "invalid_client", vvInvalidClient, "client_id或client_secret错误")
	}

	now := v.now()
	life := ttl(v.opts.tokenTTL, 3000*24*time.Hour)
	if old := v.tokens[v.current[account]]; old != nil {
		old.dead = true
	}
	tok := freshHex(v.tokens, 20, false)
	v.tokens[tok] = &vvToken{account: account, ip: ip, issued: now, expires: now.Add(life)}
	v.current[account] = tok
	v.stats.Issued++

	data := vvTokenData{AccessToken: tok, ExpiresIn: int64(life / time.Second), TokenType: "Bearer", Scope: ""}
	if wrapped {
		return jsonAnswer(http.StatusOK, struct {
			Code int         `json:"code"`
			Msg  string      `json:"msg"`
			Data vvTokenData `json:"data"`
		}{0, "成功", data})
	}
	return jsonAnswer(http.StatusOK, data)
}

// reject counts and shapes a rejected API call; v.mu must be held.
func (v *VVTool) reject() answer {
	v.stats.Rejected++
	body := struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	}{401, VVToolInvalid}
	switch v.style {
	case RejectHTTP200:
		return jsonAnswer(http.StatusOK, body)
	case RejectPlainText:
		return answer{status: http.StatusUnauthorized, ctype: ctypeText, body: []byte(VVToolInvalid)}
	default:
		return jsonAnswer(http.StatusUnauthorized, body)
	}
}

// countCall applies the abuse rule (WithAbuseRule) to an accepted call made with t; v.mu must
// be held.
func (v *VVTool) countCall(t *vvToken) {
	per, factor := v.opts.abusePer, v.opts.abuseX
	if per <= 0 || factor <= 0 {
		return
	}
	now := v.now()
	win := int64(now.Sub(t.issued) / per)
	switch {
	case win == t.win+1:
		t.prevCalls, t.calls = t.calls, 0
	case win != t.win:
		t.prevCalls, t.calls = 0, 0
	}
	t.win = win
	t.calls++
	if t.prevCalls > 0 && t.calls > factor*t.prevCalls && t.expires.After(now.Add(per)) {
		t.expires = now.Add(per) // judged stolen: it lives one more window at most
		v.stats.Shortened++
	}
}

func (v *VVTool) serveInfo(r *http.Request) answer {
	ip := v.clientIP(r)
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		tok = ""
	}
	tok = strings.TrimSpace(tok)

	v.mu.Lock()
	defer v.mu.Unlock()
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return methodNotAllowed()
	}
	t := v.tokens[tok]
	if t == nil || t.dead || !v.now().Before(t.expires) {
		return v.reject()
	}
	if t.ip != ip {
		t.dead = true // judged stolen: invalid from now on, from every IP
		return v.reject()
	}
	v.countCall(t)
	type info struct {
		Account string `json:"account"`
		IP      string `json:"ip"`
	}
	return jsonAnswer(http.StatusOK, struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
		Data info   `json:"data"`
	}{0, "成功", info{t.account, ip}})
}
