package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRegression_SnippetLeaksUnlistedSecrets: Snippet promises that the values of secret members and
// parameters are shortened even when the caller does not know them (a new token in an answer).
// Each body below carries such a value in a spelling the name-based redaction does not see.
func TestRegression_SnippetLeaksUnlistedSecrets(t *testing.T) {
	// What Go's encoding/json (and other HTML-safe encoders) writes for a URL with two parameters:
	// '&' becomes \u0026, so queryParamRe reads the name as "u0026access_token".
	goEscaped, err := json.Marshal(map[string]string{"msg": "bad request", "url": "/api?app_id=1&access_token=" + secretAccess})
	require.NoError(t, err)
	require.Contains(t, string(goEscaped), `\u0026access_token=`)

	tests := []struct{ name, body string }{
		{"JSON-escaped & before a secret query parameter", string(goEscaped)},
		// Entities are decoded after the JSON pass, and only the query pass runs again.
		{"HTML page showing an escaped JSON answer", `<html><body><pre>{&quot;access_token&quot;:&quot;` + secretAccess + `&quot;}</pre></body></html>`},
		// IsSecretParam knows accesskey/clientsecret/appsecret/sessionkey but not the camelCase tokens.
		{"camelCase token members", `{"accessToken":"` + secretAccess + `","refreshToken":"` + secretRefresh + `"}`},
		// A JSON document inside a JSON string: the outer member swallows the inner one.
		{"JSON answer encoded as a string", `{"code":0,"data":"{\"access_token\":\"` + secretAccess + `\"}"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertNoSecret(t, "Snippet", Snippet([]byte(tt.body)))
		})
	}
}

// TestRegression_DebugLogLeaksNewToken: the same gap through the Client's debug log, with a token
// answer whose new token no caller could list in Request.Secrets.
func TestRegression_DebugLogLeaksNewToken(t *testing.T) {
	t.Parallel()
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		_, _ = io.WriteString(w, `{"code":0,"data":{"accessToken":"`+secretAccess+`","expiresIn":7200}}`)
	})
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := New(fastConfig(Config{Logger: logger}))
	_, err := c.Do(context.Background(), Request{Op: "token", Method: "POST", URL: srv.URL, Form: map[string][]string{"client_secret": {secretClient}}, Secrets: []string{secretClient}})
	require.NoError(t, err)
	assertNoSecret(t, "debug log", logs.String())
}

// TestRegression_SnippetDashedNamesAndSpacedEmbeddedJSON: secret names with dashes or a prefix
// (X-Access-Token), and JSON carried in a string with spaces around its colons.
func TestRegression_SnippetDashedNamesAndSpacedEmbeddedJSON(t *testing.T) {
	const s = "SECRETVALUE0123456789abcdef"
	for _, body := range []string{
		`{"access-token":"` + s + `"}`,
		`{"X-Access-Token":"` + s + `"}`,
		`<p>see /cb?access-token=` + s + `</p>`,
		`error: bad request /api?refresh-token=` + s,
		`{"data":"{\"accessToken\": \"` + s + `\"}"}`,
		`{"data":"{\"access_token\" : \"` + s + `\"}"}`,
	} {
		got := Snippet([]byte(body))
		if strings.Contains(got, s) {
			t.Errorf("leak: %s -> %s", body, got)
		}
	}
}
