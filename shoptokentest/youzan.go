package shoptokentest

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Youzan emulates Youzan cloud (有赞云): the token endpoint POST /auth/token (silent
// authorization, authorization code, refresh token), the API gateway
// POST /api/{name}/{version}?access_token=... and a tool app's merchant authorization page
// GET /oauth/authorize (AuthorizeURL).
//
// The authorization page redirects to the app's callback with ?code=&state= as if the merchant of
// the ConsentAs shop (YouzanGrantID by default) had authorized (with WithConsentPage, once they
// press Authorize), or with error=access_denied after DenyNext or Deny. The callback is the
// registered one (WithRedirectURIs; YouzanRedirectURI by default): a request without redirect_uri
// goes to the first, and strict, one naming another is refused (HTTP 400, 1000) with no code.
// client_id must be the app's (else 1103); response_type, if given, must be "code". The code is
// what NewCode returns. The real page's behaviour on a refusal is not documented: the
// error=access_denied answer is the emulator's (OAuth 2.0's).
//
// Strict (the default), only registered grant ids exist: YouzanGrantID, or those given to
// WithGrants, and any that NewCode authorized. Silent authorization for another id is refused
// with 1103 "grant does not exist", as the platform refuses a shop that never authorized the
// app, so a wrong kdt_id mapping fails a test; grant_id must be a JSON string, as documented.
// Lenient, every grant id exists (every shop has authorized silently) and grant_id may be a
// number. A grant is known until Revoke or ExpireGrant; NewCode authorizes it again. A grant
// has one current access token and one current refresh token; issuing a new pair kills the
// previous pair at once. The "retry within an hour returns the same pair" grace from the
// platform's documentation is not emulated, so code that depends on it fails here.
//
// A Youzan is safe for concurrent use.
type Youzan struct {
	*core
	// URL is the emulator's base URL, e.g. "http://127.0.0.1:41234"; use it as the SDK's BaseURL.
	URL string
	// AuthorizeURL is URL+"/oauth/authorize", the merchant's authorization page (the SDK's
	// youzan.Config.AuthorizeURL).
	AuthorizeURL string

	grants  map[string]*yzGrant
	access  map[string]*yzAccess
	refresh map[string]*yzRefresh
	codes   map[string]*yzCode
	apiErr  []int
	consent string // the grant whose merchant consents on the authorize page
	deny    int    // authorize decisions still to be refused
}

type yzStatus int

const (
	yzActive yzStatus = iota
	yzRevoked
	yzExpired
)

type yzGrant struct {
	status  yzStatus
	access  string // current access token, "" before the first
	refresh string // current refresh token
}

type yzAccess struct {
	grant   string
	expires time.Time
	dead    bool // superseded by a newer token, or the grant was revoked/expired
}

type yzRefresh struct {
	grant   string
	expires time.Time
	dead    bool // rotated away, or the grant was revoked/expired
}

type yzCode struct {
	grant   string
	expires time.Time
	used    bool
}

// YouzanGrantID is the grant id (kdt_id) a Youzan emulator knows unless WithGrants says
// otherwise: the grant_id of the platform's documented example request.
const YouzanGrantID = "88888"

// YouzanRedirectURI is the tool app's callback address a Youzan emulator has registered unless
// WithRedirectURIs says otherwise.
const YouzanRedirectURI = "https://isv.example.com/youzan/callback"

// YouzanScope is the space-separated scope string the Youzan emulator grants (the list from
// the platform's documented example answer).
const YouzanScope = "beauty_appointment beauty_cashier beauty_item beauty_member beauty_order beauty_shop beauty_staff beauty_stock buyer_bill circle coupon coupon_advanced crm_advanced cross_boarder customer extension_analysis item item_category item_hotel item_standard ka_customization level_membership logistics mei_promoter multi_store open_market open_robot pay-customs-declaration pay_qrcode points retail-scrm retail_goods retail_product retail_shop retail_stock retail_supplier retail_trade reviews salesman selffetchcode seller_refund shop storage stored_value_card tag tags trade trade-delivery trade_advanced trade_virtual user virtualticket"

// Youzan token-endpoint error messages. The codes are the platform's; the wording is the
// emulator's own (Chinese, then English in parentheses).
const (
	yzMsgNotJSON        = "请求格式错误,请使用 POST + application/json (request must be a POST with Content-Type application/json)"
	yzMsgBadSecret      = "client_secret 错误 (client secret is wrong)"
	yzMsgBadParam       = "参数错误 (invalid parameter): "
	yzMsgNoClient       = "client 不存在 (client does not exist)"
	yzMsgNoGrant        = "授权关系不存在 (grant does not exist)"
	yzMsgGrantExpired   = "授权已过期 (authorization expired)"
	yzMsgRefreshDead    = "refresh_token 无效或已被刷新 (refresh_token is invalid or has been replaced)"
	yzMsgRefreshExpired = "refresh_token 已过期 (refresh_token expired)"
	yzMsgCode           = "授权码无效或已被使用 (authorization code is invalid or used)"
)

// youzanGatewayMessages are the gateway's err_msg texts by err_code.
var youzanGatewayMessages = map[int]string{
	4001: "请求路径错误 (invalid request path)",
	4005: "API 不存在或版本错误 (api or version does not exist)",
	4007: "请求方式或 Content-Type 错误 (wrong method or content type)",
	4101: "请求过于频繁,请稍后再试 (too many requests)",
	4201: "access_token 无效 (invalid access_token)",
	4202: "access_token 已过期 (access_token expired)",
	4203: "access_token 不存在 (access_token does not exist)",
	4204: "没有该 API 的访问权限 (no permission for this api)",
	5001: "系统错误 (system error)",
	5002: "业务处理错误 (business error)",
	5003: "插件错误 (plugin error)",
}

// NewYouzan starts a Youzan emulator. It accepts client_id "id" and client_secret "secret"
// unless WithCredentials says otherwise. Access tokens live 7 days and refresh tokens 28
// days unless WithTokenTTL / WithRefreshTTL say otherwise. Close it when done.
func NewYouzan(opts ...Option) *Youzan {
	y := &Youzan{
		core:    newCore(opts, "id", "secret"),
		grants:  map[string]*yzGrant{},
		access:  map[string]*yzAccess{},
		refresh: map[string]*yzRefresh{},
		codes:   map[string]*yzCode{},
		consent: YouzanGrantID,
	}
	grants := y.opts.grants
	if grants == nil {
		grants = []string{YouzanGrantID}
	}
	for _, id := range grants {
		y.grant(id)
	}
	mux := http.NewServeMux()
	mux.Handle("/auth/token", y.handle(epToken, y.serveToken))
	mux.Handle("/api/", y.handle(epAPI, y.serveAPI))
	mux.Handle("/oauth/authorize", y.handle(epOther, y.serveAuthorize))
	y.URL = y.start(mux)
	y.AuthorizeURL = y.URL + "/oauth/authorize"
	return y
}

// ConsentAs makes grantID (a kdt_id) the shop whose merchant authorizes on later authorize
// requests; YouzanGrantID until then.
func (y *Youzan) ConsentAs(grantID string) {
	y.mu.Lock()
	defer y.mu.Unlock()
	y.consent = grantID
}

// DenyNext makes the next authorize decision a refusal, whichever button was pressed: the browser
// is redirected with error=access_denied&error_description=...&state=...
func (y *Youzan) DenyNext() {
	y.mu.Lock()
	defer y.mu.Unlock()
	y.deny++
}

// redirects returns the registered callback addresses; y.mu must be held.
func (y *Youzan) redirects() []string {
	if y.opts.redirects != nil {
		return y.opts.redirects
	}
	return []string{YouzanRedirectURI}
}

// serveAuthorize is the merchant's authorization page: GET /oauth/authorize?client_id=&state=
// [&response_type=code][&redirect_uri=]. It consents at once, or with WithConsentPage shows the
// page whose POST decides.
func (y *Youzan) serveAuthorize(r *http.Request) answer {
	q, decided, denied := r.URL.Query(), false, false
	if y.opts.consentPage {
		var ok bool
		if q, decided, denied, ok = authorizeParams(r); !ok {
			return methodNotAllowed()
		}
	}
	y.mu.Lock()
	defer y.mu.Unlock()
	bad := func(code int, msg string) answer {
		return jsonAnswer(http.StatusBadRequest, struct {
			Success bool   `json:"success"`
			Code    int    `json:"code"`
			Message string `json:"message"`
		}{false, code, msg})
	}
	if q.Get("client_id") != y.opts.id {
		return bad(1103, yzMsgNoClient)
	}
	if rt := q.Get("response_type"); rt != "" && rt != "code" {
		return bad(1000, yzMsgBadParam+"response_type")
	}
	regs := y.redirects()
	redirect := q.Get("redirect_uri")
	switch {
	case redirect == "" && len(regs) > 0:
		redirect = regs[0] // the callback address registered in the console
	case redirect == "":
		return bad(1000, yzMsgBadParam+"redirect_uri")
	case !y.opts.lenient && !slices.Contains(regs, redirect):
		return bad(1000, yzMsgBadParam+"redirect_uri (not the registered callback address)")
	}
	if u, err := url.Parse(redirect); err != nil || !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https") {
		return bad(1000, yzMsgBadParam+"redirect_uri")
	}
	if y.opts.consentPage && !decided {
		return consentPage("有赞授权 (Youzan authorization)", y.consent, q)
	}
	params := url.Values{}
	if y.deny > 0 || denied {
		if y.deny > 0 {
			y.deny--
		}
		params.Set("error", "access_denied")
		params.Set("error_description", "商家拒绝授权 (the merchant denied the request)")
	} else {
		params.Set("code", y.newCode(y.consent))
	}
	if st := q.Get("state"); st != "" {
		params.Set("state", st)
	}
	return *redirectWith(redirect, params) // an absolute URL: checked above
}

// NewCode returns a single-use authorization code (valid 10 minutes) for grantID, as if the
// merchant had just authorized the app in a browser; exchange it with authorize_type
// "authorization_code". It registers the grant if it was unknown, and restores a revoked or
// expired one. Stats are not touched.
func (y *Youzan) NewCode(grantID string) string {
	y.mu.Lock()
	defer y.mu.Unlock()
	return y.newCode(grantID)
}

// newCode issues a code for grantID, as NewCode; y.mu must be held.
func (y *Youzan) newCode(grantID string) string {
	y.grant(grantID).status = yzActive
	code := freshHex(y.codes, 16, false)
	y.codes[code] = &yzCode{grant: grantID, expires: y.now().Add(10 * time.Minute)}
	return code
}

// Revoke ends grantID, as when the merchant cancels the authorization: its tokens stop
// working (API 4201), its refresh token is dead (counted in DeadRefreshUsed when used) and
// the token endpoint answers 1103 "grant does not exist" until NewCode authorizes it again.
func (y *Youzan) Revoke(grantID string) {
	y.endGrant(grantID, yzRevoked)
}

// ExpireGrant lapses grantID, as when the merchant's subscription to the app runs out: its
// tokens stop working (API 4201) and the token endpoint answers 1004 "authorization expired"
// until NewCode authorizes it again.
func (y *Youzan) ExpireGrant(grantID string) {
	y.endGrant(grantID, yzExpired)
}

func (y *Youzan) endGrant(grantID string, st yzStatus) {
	y.mu.Lock()
	defer y.mu.Unlock()
	g := y.grant(grantID)
	g.status = st
	y.kill(g)
}

// ExpireNow makes every access token issued so far expire now (API 4202).
func (y *Youzan) ExpireNow() {
	y.mu.Lock()
	defer y.mu.Unlock()
	now := y.now()
	for _, a := range y.access {
		a.expires = now
	}
}

// ExpireRefreshNow makes every refresh token issued so far expire now (token endpoint 1004).
func (y *Youzan) ExpireRefreshNow() {
	y.mu.Lock()
	defer y.mu.Unlock()
	now := y.now()
	for _, rt := range y.refresh {
		rt.expires = now
	}
}

// Valid reports whether accessToken would be accepted by the API now.
func (y *Youzan) Valid(accessToken string) bool {
	y.mu.Lock()
	defer y.mu.Unlock()
	a := y.access[accessToken]
	return a != nil && !a.dead && y.now().Before(a.expires) && y.grant(a.grant).status == yzActive
}

// FailAPIWith makes the next n API calls answer the gateway error errCode (4101, 4201,
// 4204, 5001, ...) in the platform's {"gw_err_resp":{...}} shape, whatever their token. A
// forced 4201, 4202 or 4203 counts as Rejected; the token itself stays valid. n <= 0 clears
// the queue.
func (y *Youzan) FailAPIWith(errCode int, n int) {
	y.mu.Lock()
	defer y.mu.Unlock()
	y.apiErr = queue(y.apiErr, errCode, n)
}

// known returns the grant id, or nil if that grant does not exist: strict, only registered
// grants exist; lenient, every shop has authorized silently. y.mu must be held.
func (y *Youzan) known(id string) *yzGrant {
	if y.opts.lenient {
		return y.grant(id)
	}
	return y.grants[id]
}

// grant returns the grant, registering an active one if it is unknown.
func (y *Youzan) grant(id string) *yzGrant {
	g := y.grants[id]
	if g == nil {
		g = &yzGrant{}
		y.grants[id] = g
	}
	return g
}

func (y *Youzan) kill(g *yzGrant) {
	if a := y.access[g.access]; a != nil {
		a.dead = true
	}
	if rt := y.refresh[g.refresh]; rt != nil {
		rt.dead = true
	}
}

// issue replaces the grant's token pair.
func (y *Youzan) issue(grantID string) answer {
	g := y.grant(grantID)
	y.kill(g)
	now := y.now()
	at := freshHex(y.access, 16, false)
	rt := freshHex(y.refresh, 16, false)
	y.access[at] = &yzAccess{grant: grantID, expires: now.Add(ttl(y.opts.tokenTTL, 7*24*time.Hour))}
	y.refresh[rt] = &yzRefresh{grant: grantID, expires: now.Add(ttl(y.opts.refreshTTL, 28*24*time.Hour))}
	g.access, g.refresh = at, rt
	y.stats.Issued++
	return y.tokenAnswer(grantID)
}

func (y *Youzan) tokenAnswer(grantID string) answer {
	g := y.grants[grantID]
	return jsonAnswer(http.StatusOK, struct {
		Success bool        `json:"success"`
		Code    int         `json:"code"`
		Data    yzTokenData `json:"data"`
		Message *string     `json:"message"`
	}{true, 200, yzTokenData{
		Expires:      ms(y.access[g.access].expires),
		Scope:        YouzanScope,
		AccessToken:  g.access,
		AuthorityID:  grantID,
		RefreshToken: g.refresh,
	}, nil})
}

type yzTokenData struct {
	Expires      int64  `json:"expires"`
	Scope        string `json:"scope"`
	AccessToken  string `json:"access_token"`
	AuthorityID  string `json:"authority_id"`
	RefreshToken string `json:"refresh_token"`
}

// tokenError counts and shapes a token-endpoint error; y.mu must be held.
func (y *Youzan) tokenError(code int, msg string) answer {
	y.stats.Errors++
	return jsonAnswer(http.StatusOK, struct {
		Success bool   `json:"success"`
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{false, code, msg})
}

type yzTokenRequest struct {
	ClientID      string          `json:"client_id"`
	ClientSecret  string          `json:"client_secret"`
	AuthorizeType string          `json:"authorize_type"`
	GrantID       json.RawMessage `json:"grant_id"` // a string, or a number from careless clients
	Refresh       json.RawMessage `json:"refresh"`
	Code          string          `json:"code"`
	RedirectURI   string          `json:"redirect_uri"`
	RefreshToken  string          `json:"refresh_token"`
}

func isJSONType(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

func (y *Youzan) serveToken(r *http.Request) answer {
	body, _ := io.ReadAll(r.Body) // handle has read it already, within maxBody: this cannot fail
	var req yzTokenRequest
	parseErr := json.Unmarshal(body, &req)

	y.mu.Lock()
	defer y.mu.Unlock()
	if r.Method != http.MethodPost || !isJSONType(r) || parseErr != nil {
		return y.tokenError(1000, yzMsgNotJSON)
	}
	if req.ClientID != y.opts.id {
		return y.tokenError(1103, yzMsgNoClient)
	}
	if req.ClientSecret != y.opts.secret {
		return y.tokenError(1000, yzMsgBadSecret)
	}
	now := y.now()
	switch req.AuthorizeType {
	case "silent":
		grantID, ok := jsonString(req.GrantID, y.opts.lenient)
		if !ok || grantID == "" {
			return y.tokenError(1000, yzMsgBadParam+"grant_id")
		}
		refresh, ok := jsonBool(req.Refresh)
		if !ok {
			return y.tokenError(1000, yzMsgBadParam+"refresh")
		}
		g := y.known(grantID)
		if g == nil {
			return y.tokenError(1103, yzMsgNoGrant)
		}
		switch g.status {
		case yzRevoked:
			return y.tokenError(1103, yzMsgNoGrant)
		case yzExpired:
			return y.tokenError(1004, yzMsgGrantExpired)
		}
		if !refresh {
			if a := y.access[g.access]; a != nil && !a.dead && now.Before(a.expires) {
				y.stats.Reused++
				return y.tokenAnswer(grantID)
			}
		}
		return y.issue(grantID)
	case "authorization_code":
		c := y.codes[req.Code]
		if c == nil || c.used || !now.Before(c.expires) {
			return y.tokenError(1005, yzMsgCode)
		}
		c.used = true
		if y.grant(c.grant).status != yzActive {
			return y.tokenError(1103, yzMsgNoGrant)
		}
		return y.issue(c.grant)
	case "refresh_token":
		rt := y.refresh[req.RefreshToken]
		if rt == nil {
			return y.tokenError(1004, yzMsgRefreshDead)
		}
		g := y.grant(rt.grant)
		if rt.dead {
			y.stats.DeadRefreshUsed++
			switch g.status {
			case yzRevoked:
				return y.tokenError(1103, yzMsgNoGrant)
			case yzExpired:
				return y.tokenError(1004, yzMsgGrantExpired)
			}
			return y.tokenError(1004, yzMsgRefreshDead)
		}
		if !now.Before(rt.expires) {
			return y.tokenError(1004, yzMsgRefreshExpired)
		}
		return y.issue(rt.grant)
	default:
		return y.tokenError(1000, yzMsgBadParam+"authorize_type")
	}
}

// jsonString accepts "88888", and 88888 too when number is set.
func jsonString(raw json.RawMessage, number bool) (string, bool) {
	if len(raw) == 0 {
		return "", true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var n json.Number
	if number && json.Unmarshal(raw, &n) == nil {
		return n.String(), true
	}
	return "", false
}

// jsonBool accepts true, "true", false, "false", null and absence (false).
func jsonBool(raw json.RawMessage) (bool, bool) {
	switch strings.TrimSpace(string(raw)) {
	case "", "null", "false", `"false"`:
		return false, true
	case "true", `"true"`:
		return true, true
	}
	return false, false
}

func (y *Youzan) traceID() string {
	return "yz7-" + randHex(4, false) + "-" + strconv.FormatInt(ms(y.now()), 10) + "-" + randHex(3, false)
}

// gwError shapes a gateway error; y.mu must be held.
func (y *Youzan) gwError(code int) answer {
	msg, ok := youzanGatewayMessages[code]
	if !ok {
		msg = "网关错误 (gateway error " + strconv.Itoa(code) + ")"
	}
	if code >= 4201 && code <= 4203 {
		y.stats.Rejected++
	}
	type gwErr struct {
		TraceID string `json:"trace_id"`
		ErrCode int    `json:"err_code"`
		ErrMsg  string `json:"err_msg"`
	}
	return jsonAnswer(http.StatusOK, struct {
		GwErrResp gwErr `json:"gw_err_resp"`
	}{gwErr{y.traceID(), code, msg}})
}

func (y *Youzan) serveAPI(r *http.Request) answer {
	body, _ := io.ReadAll(r.Body) // read already by handle: cannot fail
	name, version, pathOK := strings.Cut(strings.TrimPrefix(r.URL.Path, "/api/"), "/")
	pathOK = pathOK && name != "" && version != "" && !strings.Contains(version, "/")

	y.mu.Lock()
	defer y.mu.Unlock()
	if len(y.apiErr) > 0 {
		code := y.apiErr[0]
		y.apiErr = y.apiErr[1:]
		return y.gwError(code)
	}
	if !pathOK {
		return y.gwError(4001)
	}
	if r.Method != http.MethodPost || !isJSONType(r) {
		return y.gwError(4007)
	}
	// The token is read from the query only: one in a header or the body counts as none.
	tok := r.URL.Query().Get("access_token")
	if tok == "" {
		return y.gwError(4201)
	}
	a := y.access[tok]
	switch {
	case a == nil:
		return y.gwError(4203)
	case y.grant(a.grant).status != yzActive:
		return y.gwError(4201)
	case a.dead:
		return y.gwError(4203)
	case !y.now().Before(a.expires):
		return y.gwError(4202)
	}
	echo := json.RawMessage(`{}`)
	if len(bytes.TrimSpace(body)) > 0 {
		var buf bytes.Buffer
		if json.Compact(&buf, body) != nil {
			return y.gwError(4007)
		}
		echo = buf.Bytes()
	}
	type data struct {
		Name    string          `json:"name"`
		Version string          `json:"version"`
		Echo    json.RawMessage `json:"echo"`
	}
	return jsonAnswer(http.StatusOK, struct {
		TraceID string `json:"trace_id"`
		Code    int    `json:"code"`
		Success bool   `json:"success"`
		Data    data   `json:"data"`
		Message string `json:"message"`
	}{y.traceID(), 200, true, data{name, version, echo}, "successful"})
}
