package shoptokentest

import (
	"net/http"
	"time"
)

// Veapi emulates veapi.cn's renewal of Vipshop (唯品会) user authorizations:
// GET or POST /vip/refreshtoken?vekey=&refresh_token= (POST may carry them as a form), and
// an API GET/POST /vip/api?sessionkey=ACCESS that stands for any veapi call made with the
// access token.
//
// Each subject (an authorized Vipshop user) has one authorization chain created by NewGrant.
// A refresh rotates it: the used refresh token and the previous access token stop working at
// once, and a new pair is returned. The chain's refresh_expires_time is fixed when it is
// granted and is not extended by refreshes (as the platform's example answer suggests). With
// WithSameRefreshToken a refresh answers with the refresh token it was sent, which stays valid
// (the platform's example answer does that too); only the access token is replaced.
//
// Strict (the default), an API call must carry the account's vekey (in the query or a form body,
// as the refresh does): without it, or with another, it is refused with 10001 vekey错误, as every
// veapi interface takes vekey as a public parameter. Lenient, an API call without vekey is
// accepted.
//
// A Veapi is safe for concurrent use.
type Veapi struct {
	*core
	// URL is the emulator's base URL; the refresh URL is URL+"/vip/refreshtoken".
	URL string

	chains  map[string]*veChain
	refresh map[string]*veRefresh
	access  map[string]*veAccess
}

type veChain struct {
	access     string // current access token, "" before the first refresh
	refresh    string // current refresh token
	refreshExp time.Time
	revoked    bool
}

type veRefresh struct {
	subject string
	dead    bool // rotated away, revoked, or replaced by a new grant
}

type veAccess struct {
	subject string
	expires time.Time
	dead    bool // replaced by a refresh, or revoked
}

// The VeapiErr constants are the "error" codes of the veapi emulator's error answers. Only
// "0" (success) is documented; the error table the platform links to could not be
// retrieved, so every code here is the emulator's invention.
const (
	VeapiErrVEKey          = "10001" // vekey wrong or missing: "vekey错误"
	VeapiErrMissing        = "10002" // refresh_token missing: "refresh_token不能为空"
	VeapiErrRefreshUnknown = "10011" // refresh_token never issued: "refresh_token不存在"
	VeapiErrRefreshDead    = "10012" // refresh_token rotated away or revoked: "refresh_token已失效"
	VeapiErrRefreshExpired = "10013" // refresh_expires_time passed: "refresh_token已过期,请重新授权"
	VeapiErrSessionInvalid = "10020" // API: sessionkey missing, unknown or superseded: "sessionkey无效"
	VeapiErrSessionExpired = "10021" // API: sessionkey expired: "sessionkey已过期"
)

var veapiMessages = map[string]string{
	VeapiErrVEKey:          "vekey错误",
	VeapiErrMissing:        "refresh_token不能为空",
	VeapiErrRefreshUnknown: "refresh_token不存在",
	VeapiErrRefreshDead:    "refresh_token已失效",
	VeapiErrRefreshExpired: "refresh_token已过期,请重新授权",
	VeapiErrSessionInvalid: "sessionkey无效",
	VeapiErrSessionExpired: "sessionkey已过期",
}

// NewVeapi starts a veapi emulator. It accepts the vekey "vekey" unless WithCredentials
// says otherwise (its id is the vekey). Access tokens live 90 days and authorization chains
// 180 days unless WithTokenTTL / WithRefreshTTL say otherwise. Close it when done.
func NewVeapi(opts ...Option) *Veapi {
	v := &Veapi{
		core:    newCore(opts, "vekey", ""),
		chains:  map[string]*veChain{},
		refresh: map[string]*veRefresh{},
		access:  map[string]*veAccess{},
	}
	mux := http.NewServeMux()
	mux.Handle("/vip/refreshtoken", v.handle(epToken, v.serveRefresh))
	mux.Handle("/vip/api", v.handle(epAPI, v.serveAPI))
	v.URL = v.start(mux)
	return v
}

// NewGrant authorizes subject, as the user's consent through veapi's multi-user
// authorization would, and returns the chain's first refresh token. A subject that already
// had a chain is authorized afresh: its old tokens stop working. Stats are not touched.
func (v *Veapi) NewGrant(subject string) (refreshToken string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if old := v.chains[subject]; old != nil {
		v.kill(old)
	}
	rt := v.newRefresh(subject)
	v.chains[subject] = &veChain{refresh: rt, refreshExp: v.now().Add(ttl(v.opts.refreshTTL, 180*24*time.Hour))}
	return rt
}

// RotateElsewhere refreshes subject's chain as another process holding the same refresh
// token would: the refresh token held here dies (unless WithSameRefreshToken), and the new pair
// is returned. It returns
// empty strings if subject has no live chain. Stats are not touched.
func (v *Veapi) RotateElsewhere(subject string) (accessToken, refreshToken string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	c := v.chains[subject]
	if c == nil || c.revoked {
		return "", ""
	}
	v.rotate(subject, c)
	return c.access, c.refresh
}

// Revoke ends subject's authorization: its access token stops working and its refresh token
// is dead (counted in DeadRefreshUsed when used), until NewGrant authorizes it again.
func (v *Veapi) Revoke(subject string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if c := v.chains[subject]; c != nil {
		c.revoked = true
		v.kill(c)
	}
}

// ExpireNow makes every access token issued so far expire now.
func (v *Veapi) ExpireNow() {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	for _, a := range v.access {
		a.expires = now
	}
}

// ExpireRefreshNow makes every authorization chain's refresh_expires_time pass now.
func (v *Veapi) ExpireRefreshNow() {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	for _, c := range v.chains {
		c.refreshExp = now
	}
}

// Valid reports whether accessToken would be accepted by the API now.
func (v *Veapi) Valid(accessToken string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	a := v.access[accessToken]
	return a != nil && !a.dead && v.now().Before(a.expires)
}

func (v *Veapi) kill(c *veChain) {
	if a := v.access[c.access]; a != nil {
		a.dead = true
	}
	if rt := v.refresh[c.refresh]; rt != nil {
		rt.dead = true
	}
}

func (v *Veapi) newRefresh(subject string) string {
	rt := freshHex(v.refresh, 20, true)
	v.refresh[rt] = &veRefresh{subject: subject}
	return rt
}

// rotate replaces the chain's pair and reports whether the previous access token had
// expired; v.mu must be held.
func (v *Veapi) rotate(subject string, c *veChain) (wasExpired bool) {
	now := v.now()
	if a := v.access[c.access]; a != nil {
		wasExpired = !now.Before(a.expires)
	}
	v.kill(c)
	at := freshHex(v.access, 20, true)
	v.access[at] = &veAccess{subject: subject, expires: now.Add(ttl(v.opts.tokenTTL, 90*24*time.Hour))}
	c.access = at
	if v.opts.sameRefresh {
		v.refresh[c.refresh].dead = false // kill marked it; it lives on
	} else {
		c.refresh = v.newRefresh(subject)
	}
	return wasExpired
}

func requestID() string { return randLetters(7) }

type veError struct {
	Error     string `json:"error"`
	Msg       string `json:"msg"`
	RequestID string `json:"request_id"`
}

func veErr(code string) answer {
	return jsonAnswer(http.StatusOK, veError{code, veapiMessages[code], requestID()})
}

// tokenError counts and shapes a refresh error; v.mu must be held.
func (v *Veapi) tokenError(code string) answer {
	v.stats.Errors++
	return veErr(code)
}

type veTokenData struct {
	AccessToken        string `json:"access_token"`
	RefreshExpiresTime int64  `json:"refresh_expires_time"`
	RefreshToken       string `json:"refresh_token"`
	IsExpired          bool   `json:"is_expired"`
	CreateAt           int64  `json:"create_at"`
	ExpiresIn          int64  `json:"expires_in"`
	ExpiresTime        int64  `json:"expires_time"`
	Status             string `json:"status"`
}

func (v *Veapi) serveRefresh(r *http.Request) answer {
	formErr := formValues(r)

	v.mu.Lock()
	defer v.mu.Unlock()
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		v.stats.Errors++
		return methodNotAllowed()
	}
	if formErr != nil || r.Form.Get("vekey") != v.opts.id {
		return v.tokenError(VeapiErrVEKey)
	}
	rtok := r.Form.Get("refresh_token")
	if rtok == "" {
		return v.tokenError(VeapiErrMissing)
	}
	rt := v.refresh[rtok]
	if rt == nil {
		return v.tokenError(VeapiErrRefreshUnknown)
	}
	if rt.dead {
		v.stats.DeadRefreshUsed++
		return v.tokenError(VeapiErrRefreshDead)
	}
	c := v.chains[rt.subject]
	if c == nil { // cannot happen: live refresh tokens always belong to a chain
		return v.tokenError(VeapiErrRefreshUnknown)
	}
	now := v.now()
	if !now.Before(c.refreshExp) {
		return v.tokenError(VeapiErrRefreshExpired)
	}
	wasExpired := v.rotate(rt.subject, c)
	v.stats.Issued++
	a := v.access[c.access]
	life := a.expires.Sub(now)
	return jsonAnswer(http.StatusOK, struct {
		Error     string      `json:"error"`
		Msg       string      `json:"msg"`
		Data      veTokenData `json:"data"`
		RequestID string      `json:"request_id"`
	}{"0", "接口调用成功!", veTokenData{
		AccessToken:        c.access,
		RefreshExpiresTime: ms(c.refreshExp),
		RefreshToken:       c.refresh,
		IsExpired:          wasExpired,
		CreateAt:           ms(now),
		// One second short of expires_time - create_at, as in the platform's example
		// (7775999 for 90 days).
		ExpiresIn:   max(int64(life/time.Second)-1, 0),
		ExpiresTime: ms(a.expires),
		Status:      "NORMAL",
	}, requestID()})
}

func (v *Veapi) serveAPI(r *http.Request) answer {
	_ = formValues(r)

	v.mu.Lock()
	defer v.mu.Unlock()
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return methodNotAllowed()
	}
	if k := r.Form.Get("vekey"); k != v.opts.id && (k != "" || !v.opts.lenient) {
		return veErr(VeapiErrVEKey)
	}
	a := v.access[r.Form.Get("sessionkey")]
	switch {
	case a == nil || a.dead:
		v.stats.Rejected++
		return veErr(VeapiErrSessionInvalid)
	case !v.now().Before(a.expires):
		v.stats.Rejected++
		return veErr(VeapiErrSessionExpired)
	}
	type data struct {
		Subject string `json:"subject"`
		Method  string `json:"method,omitempty"`
	}
	return jsonAnswer(http.StatusOK, struct {
		Error     string `json:"error"`
		Msg       string `json:"msg"`
		Data      data   `json:"data"`
		RequestID string `json:"request_id"`
	}{"0", "ok", data{a.subject, r.Form.Get("method")}, requestID()})
}
