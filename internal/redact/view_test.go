package redact

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
)

type secretHolder struct{ id, key string }

func (h secretHolder) view() *View {
	return NewView("pkg.Holder").Plain("ID", "id", h.id).Secret("Key", "key", h.key).URL("URL", "url", "")
}
func (h secretHolder) Format(f fmt.State, verb rune) { h.view().Format(f, verb) }
func (h secretHolder) LogValue() slog.Value          { return h.view().LogValue() }

func TestView(t *testing.T) {
	h := secretHolder{id: "app", key: "2F5A520D12AA3E70337058A00C4B6F864BDC6704"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		assert.Equal(t, "pkg.Holder{ID: app, Key: 2F5A…(40)}", fmt.Sprintf(verb, h), verb)
	}
	assert.Equal(t, `"pkg.Holder{ID: app, Key: 2F5A…(40)}"`, fmt.Sprintf("%q", h))
	var b bytes.Buffer
	slog.New(slog.NewJSONHandler(&b, nil)).Info("m", "h", h)
	assert.Contains(t, b.String(), `"h":{"id":"app","key":"2F5A…(40)"}`)
}
