package seal

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/shoptoken/shoptoken/internal/redact"
)

// Key and Keyring hold secrets, so they print through a redact.View: ids and lengths only. A
// Keyring holds its key schedules behind pointers, which fmt prints as addresses even in a
// dereferenced Keyring, and encoding/json not at all (unexported fields).

func (k Key) view() *redact.View {
	v := redact.NewView("seal.Key").Plain("ID", "id", printableID(k.ID))
	if len(k.Secret) > 0 {
		v.Plain("Secret", "secret", "…("+strconv.Itoa(len(k.Secret))+")")
	}
	return v
}

// printableID returns id if it is a valid key ID, else a placeholder: an invalid ID may be a
// secret given in the wrong field.
func printableID(id string) string {
	if id == "" || validID(id) {
		return id
	}
	return "(invalid, " + strconv.Itoa(len(id)) + " bytes)"
}

// String returns e.g. "seal.Key{ID: 2026-12, Secret: …(32)}": never the secret.
func (k Key) String() string { return k.view().String() }

// GoString is used by %#v; it prints like String.
func (k Key) GoString() string { return k.String() }

// Format prints like String for every verb.
func (k Key) Format(f fmt.State, verb rune) { k.view().Format(f, verb) }

// LogValue implements slog.LogValuer: the ID and the secret's length.
func (k Key) LogValue() slog.Value { return k.view().LogValue() }

// MarshalJSON writes the ID and the secret's length, {"id":"2026-12","secret":"…(32)"}, never
// the secret: slog's JSON handler marshals a Key inside a slice or a struct this way. Keep keys in
// a secret manager, not in JSON written by this program.
func (k Key) MarshalJSON() ([]byte, error) {
	v := struct {
		ID     string `json:"id"`
		Secret string `json:"secret,omitempty"`
	}{ID: printableID(k.ID)}
	if len(k.Secret) > 0 {
		v.Secret = "…(" + strconv.Itoa(len(k.Secret)) + ")"
	}
	return json.Marshal(v)
}

func (r *Keyring) view() *redact.View {
	v := redact.NewView("seal.Keyring")
	if r == nil || r.current == nil {
		return v
	}
	older := make([]string, 0, len(r.keys)-1)
	for _, k := range r.keys[1:] {
		older = append(older, k.id)
	}
	return v.Plain("Current", "current", r.current.id).Plain("Older", "older", strings.Join(older, ","))
}

// String returns e.g. "seal.Keyring{Current: 2026-12, Older: 2026-06}": the key IDs only.
func (r *Keyring) String() string { return r.view().String() }

// GoString is used by %#v; it prints like String.
func (r *Keyring) GoString() string { return r.String() }

// Format prints like String for every verb.
func (r *Keyring) Format(f fmt.State, verb rune) { r.view().Format(f, verb) }

// LogValue implements slog.LogValuer: the key IDs.
func (r *Keyring) LogValue() slog.Value { return r.view().LogValue() }
