package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"strings"
)

const (
	// SecretSize is the length of a Key's Secret in bytes: an AES-256 key.
	SecretSize = 32
	// MaxIDLen is the longest Key ID, in bytes.
	MaxIDLen = 64

	// prefix starts every sealed value; "seal:" alone marks a value as sealed (IsSealed), so that
	// a later format is never read as plaintext JSON by a process that predates it.
	prefix    = "seal:"
	prefixV1  = prefix + "v1:"
	nonceSize = 12 // the standard GCM nonce
	tagSize   = 16
	// adLabel starts the additional data, so that nothing else sealed under the same secret
	// (by another program, or a later format) opens as a value of this one.
	adLabel = "shoptoken/seal/v1\x00"
)

// b64 is strict, so that each sealed value has one spelling only.
var b64 = base64.RawURLEncoding.Strict()

// Key is one named AES-256 key. ID names it in every value it seals; Secret is the key itself.
// A Key prints (fmt, every verb, and slog) as its ID and the length of its Secret only.
type Key struct {
	// ID names the key: 1 to 64 bytes of ASCII letters, digits, '.', '_' and '-', e.g. "2026-12".
	// It is stored in clear in every value the key seals and shown in errors: never derive it
	// from the secret.
	ID string
	// Secret is the AES-256 key: 32 bytes from a secret manager or crypto/rand, not all zero.
	// New copies it.
	Secret []byte
}

// Keyring seals with its current key and opens with any of its keys. It is immutable and safe for
// concurrent use; create it with New. A nil *Keyring seals and opens nothing: its methods return
// an error.
type Keyring struct {
	current *entry
	keys    []*entry // current first, then the older keys in the order given to New
}

// entry is one key as a Keyring keeps it: the secret only as the cipher's key schedule.
type entry struct {
	id   string
	aead cipher.AEAD
}

// New returns a Keyring that seals with current and opens values sealed with current or with any
// of older. It checks every key (ErrKeyID, ErrKeySecret) and that no two share an ID
// (ErrDuplicateID); the error is an *Error naming the key by position and, when the ID is
// well formed, by ID. It copies the secrets: the caller may wipe its slices once New returns.
func New(current Key, older ...Key) (*Keyring, error) {
	all := append([]Key{current}, older...)
	r := &Keyring{keys: make([]*entry, 0, len(all))}
	seen := make(map[string]int, len(all))
	for i, k := range all {
		if reason := checkID(k.ID); reason != "" {
			return nil, &Error{Kind: ErrKeyID, Arg: i, Detail: reason}
		}
		if j, dup := seen[k.ID]; dup {
			return nil, &Error{Kind: ErrDuplicateID, Arg: i, KeyID: k.ID, Detail: "also key " + strconv.Itoa(j)}
		}
		seen[k.ID] = i
		if reason := checkSecret(k.Secret); reason != "" {
			return nil, &Error{Kind: ErrKeySecret, Arg: i, KeyID: k.ID, Detail: reason}
		}
		block, err := aes.NewCipher(k.Secret) // copies the key into its schedule
		if err != nil {
			return nil, &Error{Kind: ErrKeySecret, Arg: i, KeyID: k.ID, Detail: "refused by crypto/aes"}
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, &Error{Kind: ErrKeySecret, Arg: i, KeyID: k.ID, Detail: "refused by crypto/cipher"}
		}
		r.keys = append(r.keys, &entry{id: strings.Clone(k.ID), aead: aead})
	}
	r.current = r.keys[0]
	return r, nil
}

// checkID returns why id is not a valid Key ID, or "". It never quotes id: a malformed ID may be
// a secret passed in the wrong field.
func checkID(id string) string {
	switch {
	case id == "":
		return "empty"
	case len(id) > MaxIDLen:
		return strconv.Itoa(len(id)) + " bytes long, want at most " + strconv.Itoa(MaxIDLen)
	case !validID(id):
		return "holds a character other than A-Z, a-z, 0-9, '.', '_' and '-'"
	}
	return ""
}

func validID(id string) bool {
	if id == "" || len(id) > MaxIDLen {
		return false
	}
	for i := range len(id) {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// checkSecret returns why secret is not a usable AES-256 key, or "". An all-zero secret is
// refused: it is a buffer that was never filled.
func checkSecret(secret []byte) string {
	if len(secret) != SecretSize {
		return strconv.Itoa(len(secret)) + " bytes long, want " + strconv.Itoa(SecretSize)
	}
	var or byte
	for _, b := range secret {
		or |= b
	}
	if or == 0 {
		return "all zero bytes"
	}
	return ""
}

// Current returns the ID of the key that Seal uses; "" for a nil Keyring.
func (r *Keyring) Current() string {
	if r == nil {
		return ""
	}
	return r.current.id
}

// IDs returns the IDs of every key the Keyring opens with, the current one first.
func (r *Keyring) IDs() []string {
	if r == nil {
		return nil
	}
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.id
	}
	return ids
}

// IsSealed reports whether v is a sealed value (of this format or a later one) rather than
// plaintext: a store reads values that are not sealed as it did before sealing was turned on. It
// looks at the first bytes only; plaintext JSON never starts with them.
func IsSealed(v string) bool { return strings.HasPrefix(v, prefix) }

// Seal encrypts plaintext with the current key, bound to bind (a store passes the key the value is
// stored under), and returns the sealed value as text: Open with the same bind gets plaintext back.
// Every call draws a new random nonce, so sealing one plaintext twice gives two values.
func (r *Keyring) Seal(bind string, plaintext []byte) (string, error) {
	if r == nil {
		return "", errNil
	}
	k := r.current
	// One buffer: the nonce, room for the ciphertext and tag, then the additional data.
	n := nonceSize + len(plaintext) + tagSize
	buf := make([]byte, n, n+adLen(k.id, bind))
	ad := appendAD(buf[n:], k.id, bind)
	raw := buf[:nonceSize]
	_, _ = rand.Read(raw) // never fails (crypto/rand, Go 1.24)
	raw = k.aead.Seal(raw, raw, plaintext, ad)
	head := len(prefixV1) + len(k.id) + 1
	out := make([]byte, head+b64.EncodedLen(len(raw)))
	copy(out, prefixV1)
	copy(out[len(prefixV1):], k.id)
	out[head-1] = ':'
	b64.Encode(out[head:], raw)
	return string(out), nil
}

// Open decrypts a value that Seal returned for bind, with whichever key of the Keyring sealed it,
// and returns the plaintext and that key's ID; an ID other than Current says that the value
// should be sealed again (a store does so on its next write).
//
// The error is an *Error of kind ErrUnknownKey when the value names a key the Keyring does not
// list (KeyID says which), and ErrDamaged for anything else that stops it from opening: not a
// sealed value, a format this version does not know, truncated, altered, sealed for another bind,
// or with another secret under the same ID. It never quotes the value.
func (r *Keyring) Open(bind, sealed string) (plaintext []byte, keyID string, err error) {
	if r == nil {
		return nil, "", errNil
	}
	rest, ok := strings.CutPrefix(sealed, prefixV1)
	if !ok {
		if IsSealed(sealed) {
			return nil, "", damaged("sealed in a format this version does not know")
		}
		return nil, "", damaged("not a sealed value")
	}
	id, data, ok := strings.Cut(rest, ":")
	if !ok || !validID(id) {
		return nil, "", damaged("no readable key id")
	}
	k := r.key(id)
	if k == nil {
		return nil, "", &Error{Kind: ErrUnknownKey, Arg: -1, KeyID: id,
			Detail: "sealed with a key this keyring does not list (it has " + strings.Join(r.IDs(), ", ") + ")"}
	}
	if b64.DecodedLen(len(data)) < nonceSize+tagSize {
		return nil, "", damaged("too short")
	}
	// One buffer: the decoded value, opened in place, then the additional data.
	size := b64.DecodedLen(len(data))
	buf := make([]byte, size, size+adLen(k.id, bind))
	n, err := b64.Decode(buf, []byte(data))
	if err != nil {
		return nil, "", damaged("not base64url")
	}
	raw, ad := buf[:n], appendAD(buf[size:], k.id, bind)
	if len(raw) < nonceSize+tagSize {
		return nil, "", damaged("too short")
	}
	plain, err := k.aead.Open(raw[nonceSize:nonceSize], raw[:nonceSize], raw[nonceSize:], ad)
	if err != nil {
		return nil, "", &Error{Kind: ErrDamaged, Arg: -1, KeyID: k.id,
			Detail: "does not authenticate: altered, stored under another key, or sealed with another secret under this id"}
	}
	return plain, k.id, nil
}

// key returns the key named id, or nil. A Keyring holds a handful of keys: a scan beats a map.
func (r *Keyring) key(id string) *entry {
	for _, k := range r.keys {
		if k.id == id {
			return k
		}
	}
	return nil
}

// appendAD appends to dst the additional data that authenticates the format, the key id and bind
// with every value: a value moved to another bind, or relabelled with another id, fails to open.
// An id holds no zero byte, so the encoding is unambiguous.
func appendAD(dst []byte, id, bind string) []byte {
	dst = append(dst, adLabel...)
	dst = append(dst, id...)
	dst = append(dst, 0)
	return append(dst, bind...)
}

// adLen is the length of the additional data for id and bind.
func adLen(id, bind string) int { return len(adLabel) + len(id) + 1 + len(bind) }
