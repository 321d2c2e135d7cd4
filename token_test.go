package shoptoken

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken/internal/testkit"
)

const (
	secretAccess  = "AT7f3c9e1d5b2a4086ACCESSxSECRETx9f8e7d6c" // 40 characters
	secretRefresh = "RT0a1b2c3d4e5f60718REFRESHxSECRETx293a4b" // 40 characters
)

func secretToken() *Token {
	return &Token{
		AccessToken: secretAccess, RefreshToken: secretRefresh, TokenType: "Bearer",
		Expiry:        time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		RefreshExpiry: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		IssuedAt:      time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		Scope:         []string{"trade", "item"}, Subject: "42587152",
		Extra: map[string]string{"status": "NORMAL"},
	}
}

// assertNoSecret fails if any 8-character piece of either secret shows in s (testkit.NoSecret).
func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	testkit.NoSecret(t, "output", []string{secretAccess, secretRefresh}, s)
}

func TestToken_redactedInEveryVerb(t *testing.T) {
	tok := secretToken()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10v", "%-40s"} {
		for name, arg := range map[string]any{"value": *tok, "pointer": tok, "in slice": []*Token{tok},
			"in struct": struct{ T *Token }{tok}, "in map": map[string]Token{"k": *tok}} {
			t.Run(verb+" "+name, func(t *testing.T) {
				out := fmt.Sprintf(verb, arg)
				assertNoSecret(t, out)
			})
		}
	}
	assert.Contains(t, tok.String(), "AT7f…(40)")
	assert.Contains(t, tok.String(), "RT0a…(40)")
	assert.Contains(t, fmt.Sprintf("%#v", tok), "shoptoken.Token{")
}

func TestToken_redactedInSlog(t *testing.T) {
	tok := secretToken()
	for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
		"json": func(b *bytes.Buffer) slog.Handler {
			return slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})
		},
		"text": func(b *bytes.Buffer) slog.Handler {
			return slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})
		},
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			l := slog.New(h(&buf))
			l.Info("token", "tok", tok, "value", *tok)
			l.Debug("event", "e", Event{Kind: EventRefreshed, Token: tok})
			out := buf.String()
			assertNoSecret(t, out)
			assert.Contains(t, out, "AT7f…(40)")
			assert.Contains(t, out, "42587152")
		})
	}
}

func TestToken_JSONRoundTrip(t *testing.T) {
	tok := secretToken()
	b, err := json.Marshal(tok)
	require.NoError(t, err)
	var back Token
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, *tok, back)
	// The persisted form carries the secrets (stores need them); only display redacts.
	assert.Contains(t, string(b), secretAccess)
	assert.Contains(t, string(b), `"refresh_expiry":"2027-01-01T00:00:00Z"`)
}

func TestToken_Valid(t *testing.T) {
	var nilTok *Token
	assert.False(t, nilTok.Valid())
	assert.False(t, (&Token{}).Valid())
	assert.True(t, (&Token{AccessToken: "a"}).Valid(), "zero Expiry does not expire")
	assert.True(t, (&Token{AccessToken: "a", Expiry: time.Now().Add(time.Minute)}).Valid())
	assert.False(t, (&Token{AccessToken: "a", Expiry: time.Now().Add(-time.Second)}).Valid())
}

func TestToken_CloneIsDeep(t *testing.T) {
	tok := secretToken()
	c := tok.Clone()
	c.Scope[0] = "changed"
	c.Extra["status"] = "changed"
	assert.Equal(t, "trade", tok.Scope[0])
	assert.Equal(t, "NORMAL", tok.Extra["status"])
	assert.Nil(t, (*Token)(nil).Clone())
}

func FuzzTokenJSON(f *testing.F) {
	b, _ := json.Marshal(secretToken())
	f.Add(b)
	f.Add([]byte(`{"access_token":"a","expiry":"not a time"}`))
	f.Add([]byte(`{"scope":"x"}`))
	f.Add([]byte(`{"extra":{"a":1}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var tok Token
		if err := json.Unmarshal(data, &tok); err != nil {
			return
		}
		_ = tok.String()
		_ = fmt.Sprintf("%+v %#v %q", tok, &tok, tok)
		out, err := json.Marshal(&tok)
		if err != nil {
			t.Fatalf("a decoded token must encode: %v", err)
		}
		var again Token
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if again.AccessToken != tok.AccessToken || again.RefreshToken != tok.RefreshToken || !again.Expiry.Equal(tok.Expiry) {
			t.Fatalf("round trip changed the token")
		}
		// The secret may legitimately equal text in a field that is not secret (token_type, say):
		// count its appearances with and without the secret fields set.
		bare := tok
		bare.AccessToken, bare.RefreshToken = "", ""
		if len(tok.AccessToken) > 8 && strings.Count(tok.String(), tok.AccessToken) > strings.Count(bare.String(), tok.AccessToken) {
			t.Fatalf("String shows the access token")
		}
	})
}
