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
// it: used from another IP it is invalidated for good. With WithAbuseLimit, a burst of
// fetches makes new tokens short-lived.
//
// A VVTool is safe for concurrent use.
type VVTool struct {
	*core
	// URL is the emulator's base URL; the token URL is URL+"/oauth/token".
	URL string

	style   RejectStyle
	tokens  map[string]*vvToken
	current map[string]string // account → its one live token
	fetches []time.Time       // successful fetches inside the abuse window
}

type vvToken struct {
	account string
	ip      string
	expires time.Time
	dead    bool // superseded by a newer fetch, or used from another IP
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
)

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

func (v *VVTool) serveToken(r *http.Request, wrapped bool) answer {
	formErr := formValues(r)
	ip := v.clientIP(r)

	v.mu.Lock()
	defer v.mu.Unlock()
	if r.Method != http.MethodPost || formErr != nil {
		return v.tokenError(wrapped, http.StatusBadRequest, "invalid_request", vvInvalidReq, "参数错误")
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
	if v.opts.abuseN > 0 && v.opts.abusePer > 0 {
		keep := v.fetches[:0]
		for _, t := range v.fetches {
			if now.Sub(t) < v.opts.abusePer {
				keep = append(keep, t)
			}
		}
		v.fetches = append(keep, now)
		if len(v.fetches) > v.opts.abuseN {
			life = min(life, time.Minute)
		}
	}
	if old := v.tokens[v.current[account]]; old != nil {
		old.dead = true
	}
	tok := freshHex(v.tokens, 20, false)
	v.tokens[tok] = &vvToken{account: account, ip: ip, expires: now.Add(life)}
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
