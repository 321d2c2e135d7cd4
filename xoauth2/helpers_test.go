package xoauth2_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/shoptoken/shoptoken/xoauth2"
)

// The client the test platform knows. The secret is distinctive, so the leak checks can search
// every output for it.
const (
	testClientID = "client-1"
	testSecret   = "CLIENTs3cretCLIENTs3cretCLIENTs3cret40ch"
)

// platform is a standard OAuth2 token endpoint (RFC 6749: a form POST, client credentials in the
// body or in Basic auth, a JSON answer) that rotates refresh tokens and kills each one the moment
// it redeems it (as RFC 6749 section 10.4 allows and rotating platforms do), plus an API endpoint that accepts the access
// tokens it issued while they are valid.
type platform struct {
	*httptest.Server

	// TTL is the expires_in of every token issued, in seconds.
	TTL int
	// Rotate makes every refresh issue a new refresh token (and kill the one sent); false answers
	// without refresh_token, and the one sent stays valid.
	Rotate bool
	// Answer, when set, answers token requests instead of the platform as long as it returns
	// true. It runs before anything is issued.
	Answer func(w http.ResponseWriter, r *http.Request) bool
	// OnAPI, when set, runs for every API call with a valid access token, before the answer, with
	// the refresh token issued together with that access token.
	OnAPI func(access, refresh string)

	mu     sync.Mutex
	live   map[string]bool   // refresh tokens that may be redeemed
	dead   map[string]bool   // refresh tokens redeemed once
	access map[string]issued // access tokens issued
	issued []string          // every secret issued, for the leak checks

	TokenRequests atomic.Int64 // requests to the token endpoint
	Rotations     atomic.Int64 // refresh tokens redeemed
	DeadUses      atomic.Int64 // requests with a refresh token already redeemed
	APICalls      atomic.Int64
	APIRejected   atomic.Int64
}

type issued struct {
	refresh string
	expires time.Time
}

// newPlatform starts a platform issuing tokens that live ttl seconds; Close stops it.
func newPlatform(ttl int) *platform {
	p := &platform{TTL: ttl, Rotate: true, live: map[string]bool{}, dead: map[string]bool{}, access: map[string]issued{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/token", p.token)
	mux.HandleFunc("/api", p.api)
	p.Server = httptest.NewServer(mux)
	return p
}

// Config returns the Config of the platform's client.
func (p *platform) Config() xoauth2.Config {
	return xoauth2.Config{
		Platform: "testplat",
		OAuth2: &oauth2.Config{
			ClientID:     testClientID,
			ClientSecret: testSecret,
			Endpoint:     oauth2.Endpoint{TokenURL: p.URL + "/token", AuthStyle: oauth2.AuthStyleInParams},
		},
		SubjectField: "open_id",
		ExtraFields:  []string{"union_id", "refresh_token", "client_secret"},
	}
}

// NewGrant returns the refresh token of a new authorization.
func (p *platform) NewGrant() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	rt := p.secretLocked("rt")
	p.live[rt] = true
	return rt
}

// Secrets returns the client secret and every token issued so far.
func (p *platform) Secrets() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string{testSecret}, p.issued...)
}

// Seq returns the order in which the platform issued secret s (later is larger); -1 if it did not.
func (p *platform) Seq(s string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, v := range p.issued {
		if v == s {
			return i
		}
	}
	return -1
}

// Live reports whether refresh token rt may be redeemed.
func (p *platform) Live(rt string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live[rt]
}

func (p *platform) secretLocked(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	s := prefix + "-" + hex.EncodeToString(b)
	p.issued = append(p.issued, s)
	return s
}

func (p *platform) token(w http.ResponseWriter, r *http.Request) {
	p.TokenRequests.Add(1)
	if p.Answer != nil && p.Answer(w, r) {
		return
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		oauthError(w, http.StatusBadRequest, "invalid_request", "POST a form")
		return
	}
	_ = r.ParseForm()
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != testClientID || secret != testSecret {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	if g := r.PostForm.Get("grant_type"); g != "refresh_token" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type "+g)
		return
	}
	rt := r.PostForm.Get("refresh_token")
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.dead[rt]:
		p.DeadUses.Add(1)
		oauthError(w, http.StatusBadRequest, "invalid_grant", "refresh token already used")
		return
	case !p.live[rt]:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown refresh token")
		return
	}
	answer := map[string]any{
		"token_type":         "bearer",
		"expires_in":         p.TTL,
		"scope":              "user_info item.read",
		"open_id":            "open-1",
		"union_id":           "union-1",
		"refresh_expires_in": 30 * 24 * 3600,
	}
	next := rt
	if p.Rotate {
		p.Rotations.Add(1)
		delete(p.live, rt)
		p.dead[rt] = true
		next = p.secretLocked("rt")
		p.live[next] = true
		answer["refresh_token"] = next
	}
	at := p.secretLocked("at")
	p.access[at] = issued{refresh: next, expires: time.Now().Add(time.Duration(p.TTL) * time.Second)}
	answer["access_token"] = at
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(answer)
}

// apiGrace is how long after its expiry the API still accepts a token: a request sent just
// before the expiry may arrive just after it on a loaded machine.
const apiGrace = 500 * time.Millisecond

func (p *platform) api(w http.ResponseWriter, r *http.Request) {
	p.APICalls.Add(1)
	at, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p.mu.Lock()
	is, known := p.access[at]
	p.mu.Unlock()
	if !ok || !known || time.Now().After(is.expires.Add(apiGrace)) {
		p.APIRejected.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if p.OnAPI != nil {
		p.OnAPI(at, is.refresh)
	}
	_, _ = w.Write([]byte("ok"))
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}
