package reauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// Two kinds of value are signed with Config.SigningKey, each under its own label, so that one
// can never pass for the other: the link a merchant is sent, and the flow cookie that binds a
// platform's answer to the browser that opened the link.
const (
	labelLink = "shoptoken reauth link v1"
	labelFlow = "shoptoken reauth flow v1"
)

// maxSigned bounds what is read as a link or a cookie, before any decoding.
const maxSigned = 2048

var b64 = base64.RawURLEncoding

// link is what a link carries: the token's Key, when the link lapses, and a random id, the
// handle of its single use.
type link struct {
	Key     string `json:"k"`
	Expires int64  `json:"x"` // Unix seconds
	ID      string `json:"n"` // 16 random bytes, base64url
}

// flow is what the flow cookie carries: the link it was started from (its Key, id and expiry)
// and a digest of the state sent to the platform, and when the flow lapses.
type flow struct {
	Key       string `json:"k"`
	LinkID    string `json:"n"`
	LinkEnd   int64  `json:"l"` // the link's expiry, for the marker
	StateHash string `json:"s"` // base64url SHA-256 of the state
	Expires   int64  `json:"x"` // Unix seconds
}

// sign returns base64url(JSON of v) "." base64url(HMAC-SHA256 of label and the first part).
func sign(key []byte, label string, v any) string {
	raw, _ := json.Marshal(v) // plain structs of strings and numbers: cannot fail
	body := b64.EncodeToString(raw)
	return body + "." + b64.EncodeToString(mac(key, label, body))
}

// open checks s's signature in constant time and decodes its body into v; false for anything
// that is not a value signed under label with key.
func open(key []byte, label, s string, v any) bool {
	if len(s) > maxSigned {
		return false
	}
	body, sig, ok := strings.Cut(s, ".")
	if !ok {
		return false
	}
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(key, label, body)) {
		return false
	}
	raw, err := b64.DecodeString(body)
	if err != nil {
		return false
	}
	return json.Unmarshal(raw, v) == nil
}

func mac(key []byte, label, body string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	m.Write([]byte{0})
	m.Write([]byte(body))
	return m.Sum(nil)
}

// random returns n random bytes, base64url.
func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (Go 1.24+): it crashes the program rather than return short
	return b64.EncodeToString(b)
}

// digest returns base64url SHA-256 of label and s: what is stored or compared instead of a state
// or a link id, so that neither reaches a store key, a cookie or a log.
func digest(label, s string) string {
	h := sha256.New()
	h.Write([]byte(label))
	h.Write([]byte{0})
	h.Write([]byte(s))
	return b64.EncodeToString(h.Sum(nil))
}

// The state sent to the platform is stateFlowLen characters that name the flow (and its cookie)
// followed by stateSecretLen characters of secret: 9 + 24 random bytes.
const (
	stateFlowLen   = 12
	stateSecretLen = 32
)

// newState returns a fresh state and the flow id it starts with.
func newState() (state, flowID string) {
	flowID, secret := random(9), random(24)
	return flowID + secret, flowID
}

// stateFlow returns the flow id of a state, or false if s is not shaped like one.
func stateFlow(s string) (string, bool) {
	if len(s) != stateFlowLen+stateSecretLen {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	return s[:stateFlowLen], true
}

// unix is t in whole seconds.
func unix(t time.Time) int64 { return t.Unix() }
