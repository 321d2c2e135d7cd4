package redact

import (
	"fmt"
	"log/slog"
	"strings"
)

// View is how a value that holds secrets shows itself: its type name and fields in order, each
// secret already shortened. It is the one way every such type of the module prints (Configs,
// Clients, Transport): the type builds its View in one method and delegates String, GoString,
// Format and LogValue to it, so that no fmt verb and no slog handler reaches the raw fields.
//
// Empty fields are left out.
type View struct {
	name   string
	fields []viewField
}

type viewField struct {
	name, key, value string
}

// NewView starts the View of a value of the type named name, e.g. "youzan.Config".
func NewView(name string) *View { return &View{name: name} }

// Plain adds a field shown as it is. name is the Go field name, used by String; key is the slog
// attribute key.
func (v *View) Plain(name, key, value string) *View {
	if value != "" {
		v.fields = append(v.fields, viewField{name, key, value})
	}
	return v
}

// Flag adds a boolean field, shown as "true" when on and left out otherwise.
func (v *View) Flag(name, key string, on bool) *View {
	if on {
		return v.Plain(name, key, "true")
	}
	return v
}

// Secret adds a field holding a secret, shown as Secret(value).
func (v *View) Secret(name, key, value string) *View { return v.Plain(name, key, Secret(value)) }

// URL adds a field holding a URL, shown as URL(value).
func (v *View) URL(name, key, value string) *View { return v.Plain(name, key, URL(value)) }

// String returns e.g. "youzan.Config{ClientID: 4f1c, ClientSecret: CS9x…(40)}".
func (v *View) String() string {
	var b strings.Builder
	b.WriteString(v.name)
	b.WriteByte('{')
	for i, f := range v.fields {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.name)
		b.WriteString(": ")
		b.WriteString(f.value)
	}
	b.WriteByte('}')
	return b.String()
}

// Format writes String for every verb (quoted for %q), so that %v, %+v, %#v, %s and %x all show
// the View and never the raw fields.
func (v *View) Format(f fmt.State, verb rune) {
	s := v.String()
	Format(f, verb, s, s)
}

// LogValue returns the fields as a slog group under their keys.
func (v *View) LogValue() slog.Value {
	attrs := make([]slog.Attr, len(v.fields))
	for i, f := range v.fields {
		attrs[i] = slog.String(f.key, f.value)
	}
	return slog.GroupValue(attrs...)
}
