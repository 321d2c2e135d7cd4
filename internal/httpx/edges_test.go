package httpx

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken/internal/testkit"
)

// TestSnippet_escapedMemberNames: a member or parameter whose name a decoder reads as a secret's
// has its value shortened however the name is spelled.
func TestSnippet_escapedMemberNames(t *testing.T) {
	for _, body := range []string{
		`{"access\u005ftoken":"` + secretAccess + `"}`,
		`{"\u0061ccess_token":"` + secretAccess + `"}`,
		`{"ACCESS_TOKEN":"` + secretAccess + `"}`,
		`{"acceſs_token":"` + secretAccess + `"}`, // encoding/json folds long s to s
		`{"data":"{\"refresh\\u005ftoken\":\"` + secretAccess + `\"}"}`,
		`<a href="/cb?access%5Ftoken=` + secretAccess + `">`,
		`error at /api?refresh%5ftoken=` + secretAccess,
	} {
		testkit.NoSecret(t, "Snippet of "+body, []string{secretAccess}, Snippet([]byte(body)))
	}
}

// TestClient_Do_debugLogEscapedMemberName: the debug log's body of a token answer whose member
// name is JSON-escaped shows no piece of the new token.
func TestClient_Do_debugLogEscapedMemberName(t *testing.T) {
	t.Parallel()
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		_, _ = io.WriteString(w, `{"access\u005ftoken":"`+secretAccess+`","expires_in":7200}`)
	})
	logger, logs := testkit.Logger()
	c := New(fastConfig(Config{Logger: logger}))
	_, err := c.Do(context.Background(), Request{Op: "token", Method: "POST", URL: srv.URL})
	require.NoError(t, err)
	require.Contains(t, logs.String(), `"body"`)
	testkit.NoSecret(t, "debug log", []string{secretAccess}, logs.String())
}
