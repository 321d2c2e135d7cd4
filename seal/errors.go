package seal

import (
	"errors"
	"strconv"
	"strings"
)

// The kinds of failure. Every error of New and Open is an *Error whose Kind is one of them, and
// errors.Is(err, kind) is true for it.
var (
	// ErrKeyID: a Key's ID is empty, longer than MaxIDLen or holds a character outside
	// A-Z a-z 0-9 . _ -.
	ErrKeyID = errors.New("invalid key id")
	// ErrKeySecret: a Key's Secret is not SecretSize bytes, or is all zero.
	ErrKeySecret = errors.New("invalid key secret")
	// ErrDuplicateID: two keys given to New share an ID.
	ErrDuplicateID = errors.New("duplicate key id")
	// ErrUnknownKey: a value was sealed with a key the Keyring does not list: a newer key this
	// process has not been given yet, or an older one already dropped. A store reports it as
	// shoptoken.ErrCorrupt.
	ErrUnknownKey = errors.New("sealed with an unknown key")
	// ErrDamaged: a value does not open with the key it names (altered, truncated, stored under
	// another key, sealed with another secret under the same ID) or is not a sealed value at all.
	// A store reports it as shoptoken.ErrCorrupt.
	ErrDamaged = errors.New("sealed value does not open")
)

// errNil is what a nil *Keyring's methods return.
var errNil = errors.New("seal: nil Keyring")

// Error is the error of New and Open. It never holds a secret nor any part of a sealed value but
// a well-formed key ID.
type Error struct {
	Kind   error  // ErrKeyID, ErrKeySecret, ErrDuplicateID, ErrUnknownKey or ErrDamaged
	Arg    int    // New: which key, 0 the current one, 1 the first older one; Open: -1
	KeyID  string // the key's ID when it is well formed; "" otherwise
	Detail string // what exactly is wrong, e.g. "16 bytes long, want 32"
}

// Error returns e.g. `seal: key 1 ("2026-06"): invalid key secret: 16 bytes long, want 32`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("seal: ")
	switch {
	case e.Arg >= 0:
		b.WriteString("key ")
		b.WriteString(strconv.Itoa(e.Arg))
		if e.KeyID != "" {
			b.WriteString(" (" + strconv.Quote(e.KeyID) + ")")
		}
		b.WriteString(": ")
	case e.KeyID != "":
		b.WriteString("key " + strconv.Quote(e.KeyID) + ": ")
	}
	if e.Kind != nil {
		b.WriteString(e.Kind.Error())
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap returns Kind, so that errors.Is(err, ErrUnknownKey) and the like match.
func (e *Error) Unwrap() error { return e.Kind }

func damaged(detail string) error {
	return &Error{Kind: ErrDamaged, Arg: -1, Detail: detail}
}
