package httpx

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/redact"
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

// TestClient_Do_redirectToAnotherOriginNotFollowed: whatever the status, and whatever the
// caller's CheckRedirect or FollowSameOrigin allow, a request is never sent to another origin; the
// answer is a typed error naming the status, without the Location's query.
func TestClient_Do_redirectToAnotherOriginNotFollowed(t *testing.T) {
	t.Parallel()
	for _, status := range testkit.RedirectStatuses() {
		for _, follow := range []bool{false, true} {
			r := testkit.NewRedirect(t, status, "access_token="+secretAccess+"&client_secret="+secretClient, `{"access_token":"forged"}`)
			hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
			c := New(fastConfig(Config{HTTPClient: hc, FollowSameOrigin: follow}))
			resp, err := c.Do(context.Background(), Request{Op: "token", Method: "POST", URL: r.From.URL + "/oauth/token",
				Form: map[string][]string{"client_secret": {secretClient}}, Secrets: []string{secretClient}})
			require.Nil(t, resp)
			require.ErrorIs(t, err, shoptoken.ErrBadResponse)
			var e *shoptoken.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, status, e.StatusCode)
			assert.Contains(t, err.Error(), "HTTP "+strconv.Itoa(status)+" redirect to another host")
			assert.Zero(t, r.Hits(), "status %d: the other host got %s", status, r.Seen())
			testkit.NoSecret(t, "error", []string{secretAccess, secretClient}, testkit.ErrorTexts(err)...)
		}
	}
}

// TestClient_Do_sameOriginRedirect: not followed unless FollowSameOrigin says so.
func TestClient_Do_sameOriginRedirect(t *testing.T) {
	t.Parallel()
	srv, hits := countingServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusTemporaryRedirect)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	_, err := New(fastConfig(Config{})).Do(context.Background(), Request{Op: "token", Method: "POST", URL: srv.URL + "/old", JSON: []byte(`{}`)})
	require.ErrorIs(t, err, shoptoken.ErrBadResponse)
	assert.Contains(t, err.Error(), "HTTP 307 redirect within the same host not followed")
	assert.Equal(t, int32(1), hits.Load())

	resp, err := New(fastConfig(Config{FollowSameOrigin: true})).Do(context.Background(), Request{Op: "token", Method: "POST", URL: srv.URL + "/old", JSON: []byte(`{}`)})
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, int32(3), hits.Load())
}

func TestLine(t *testing.T) {
	assert.Equal(t, "a b [31mred", Line("a\nb \x1b[31mred", 0))
	assert.Equal(t, "x evil y", Line("x \u202Eevil\u202C y", 0))
	assert.Equal(t, "bad \uFFFD", Line("bad \xff", 0))
	long := Line(strings.Repeat("失", 300), MaxMessage)
	assert.Equal(t, MaxMessage, utf8.RuneCountInString(long))
	assert.True(t, strings.HasSuffix(long, "…"))
	assert.Equal(t, "short", Line("short", MaxMessage))
}

// TestSetMessage: the message an error shows is one bounded, printable line; the whole text stays
// on RawMessage; known secrets are shortened in both.
func TestSetMessage(t *testing.T) {
	hostile := testkit.HostileMessage() + " " + secretClient
	e := SetMessage(&shoptoken.Error{Platform: "youzan", Op: "token"}, hostile, secretClient)
	testkit.PrintableLine(t, "Error()", e.Error(), 1024)
	assert.LessOrEqual(t, utf8.RuneCountInString(e.Message), MaxMessage)
	assert.Equal(t, redact.Known(hostile, secretClient), e.RawMessage)
	assert.Greater(t, len(e.RawMessage), 600_000)
	testkit.NoSecret(t, "error", []string{secretClient}, e.RawMessage, e.Message)
	assert.Equal(t, "ab cd", Short("ab\ncd"))
}

func TestCheckBaseURL(t *testing.T) {
	ok := []struct {
		raw   string
		plain PlainHTTP
	}{
		{"", HTTPLoopbackOnly},
		{"https://open.youzanyun.com", HTTPLoopbackOnly},
		{"https://auth.vip.com/oauth2/", HTTPLoopbackOnly},
		{"http://127.0.0.1:8080", HTTPLoopbackOnly},
		{"http://[::1]:8080/oauth2", HTTPLoopbackOnly},
		{"http://localhost:9", HTTPLoopbackOnly},
		{"http://emu.localhost", HTTPLoopbackOnly},
		{"http://api.veapi.cn", HTTPAllowed},
		{"http://api.vv-tool.com/oauth/token", HTTPAllowed},
	}
	for _, tt := range ok {
		assert.NoError(t, CheckBaseURL("p", "op", "Config.BaseURL", tt.raw, tt.plain), tt.raw)
	}
	bad := []struct {
		raw   string
		plain PlainHTTP
		want  string
	}{
		{"open.youzanyun.com", HTTPAllowed, "absolute"},
		{"/oauth/token", HTTPAllowed, "absolute"},
		{"ftp://h/x", HTTPAllowed, "absolute"},
		{"https://", HTTPAllowed, "absolute"},
		{"http:opaque", HTTPAllowed, "absolute"},
		{"https://user:" + secretClient + "@h/x", HTTPAllowed, "user information"},
		{"https://h/x?client_secret=" + secretClient, HTTPAllowed, "query"},
		{"https://h/x?", HTTPAllowed, "query"},
		{"https://h/x#" + secretClient, HTTPAllowed, "fragment"},
		{"http://open.youzanyun.com", HTTPLoopbackOnly, "plain http"},
		{"http://10.0.0.8:8080", HTTPLoopbackOnly, "plain http"},
		{"http://localhost.example.com", HTTPLoopbackOnly, "plain http"},
	}
	for _, tt := range bad {
		err := CheckBaseURL("p", "op", "Config.BaseURL", tt.raw, tt.plain)
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, tt.raw)
		assert.Contains(t, err.Error(), "Config.BaseURL")
		assert.Contains(t, err.Error(), tt.want, tt.raw)
		testkit.NoSecret(t, "error", []string{secretClient}, err.Error())
	}
}
