package reauth

import (
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shoptoken/shoptoken/internal/redact"
)

// view is how c prints: the signing key as its length only (no part of an HMAC key is shown).
func (c Config) view() *redact.View {
	v := redact.NewView("reauth.Config").URL("BaseURL", "base_url", c.BaseURL)
	if len(c.SigningKey) > 0 {
		v.Plain("SigningKey", "signing_key", "…("+strconv.Itoa(len(c.SigningKey))+" bytes)")
	}
	if c.Store != nil {
		v.Plain("Store", "store", fmt.Sprintf("%T", c.Store))
	}
	if c.FlowTTL != 0 {
		v.Plain("FlowTTL", "flow_ttl", c.FlowTTL.String())
	}
	return v
}

// String describes c without its signing key.
func (c Config) String() string { return c.view().String() }

// GoString is used by %#v; it prints like String.
func (c Config) GoString() string { return c.String() }

// Format prints the same form for every verb, so that no verb shows the signing key.
func (c Config) Format(f fmt.State, verb rune) { c.view().Format(f, verb) }

// LogValue implements slog.LogValuer without the signing key.
func (c Config) LogValue() slog.Value { return c.view().LogValue() }

// view is how h prints: its base URL, the apps it serves and its Config's view.
func (h *Handler) view() *redact.View {
	apps := make([]string, 0, len(h.apps))
	for ns := range h.apps {
		apps = append(apps, ns)
	}
	sort.Strings(apps)
	return redact.NewView("reauth.Handler").URL("BaseURL", "base_url", h.base).
		Plain("Apps", "apps", strings.Join(apps, " ")).
		Plain("SigningKey", "signing_key", "…("+strconv.Itoa(len(h.cfg.SigningKey))+" bytes)").
		Plain("FlowTTL", "flow_ttl", h.cfg.FlowTTL.Round(time.Second).String())
}

// String describes h without its signing key.
func (h *Handler) String() string { return h.view().String() }

// GoString is used by %#v; it prints like String.
func (h *Handler) GoString() string { return h.String() }

// Format prints the same form for every verb.
func (h *Handler) Format(f fmt.State, verb rune) { h.view().Format(f, verb) }

// LogValue implements slog.LogValuer without the signing key.
func (h *Handler) LogValue() slog.Value { return h.view().LogValue() }
