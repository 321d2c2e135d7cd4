package shoptoken

import (
	"fmt"
	"log/slog"

	"github.com/shoptoken/shoptoken/internal/redact"
)

// A Cache holds a token and a Refresher that holds the platform's secrets. fmt prints a struct's
// pointer fields one level deep for verbs such as %s and %q, which would reach them; so a Cache
// prints as its key alone, like every other type of the module that holds a secret.

// view is how c prints: its Key.
func (c *Cache) view() *redact.View {
	v := redact.NewView("shoptoken.Cache")
	if c != nil && c.cfg != nil {
		v.Plain("Key", "key", c.id.String())
	}
	return v
}

// String describes c by its key; it never shows the token or the Refresher.
func (c *Cache) String() string { return c.view().String() }

// GoString is used by %#v; it prints like String.
func (c *Cache) GoString() string { return c.String() }

// Format prints like String for every verb.
func (c *Cache) Format(f fmt.State, verb rune) { c.view().Format(f, verb) }

// LogValue implements slog.LogValuer: the key.
func (c *Cache) LogValue() slog.Value { return c.view().LogValue() }
