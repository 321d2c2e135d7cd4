package httpx

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSnippet(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		secrets []string
		want    string
	}{
		{"empty", "", nil, ""},
		{"short JSON kept as is", `{"code":0,"msg":"ok"}`, nil, `{"code":0,"msg":"ok"}`},
		{"known secret anywhere", "your key " + secretClient + " is wrong", []string{secretClient},
			"your key CSEC…(40) is wrong"},
		{"short known secrets are not searched", "abc abc", []string{"abc"}, "abc abc"},
		{"JSON secret members by name", `{"access_token":"` + secretAccess + `","refresh_token":"` + secretRefresh + `","expires_in":7200}`, nil,
			`{"access_token":"ATKN…(40)","refresh_token":"RTKN…(40)","expires_in":7200}`},
		{"JSON names are case-insensitive, spacing ignored", `{"Client_Secret" : "` + secretClient + `"}`, nil,
			`{"Client_Secret" : "CSEC…(40)"}`},
		{"vekey and sign", `{"vekey":"` + secretVekey + `","sign":"0123456789abcdef"}`, nil,
			`{"vekey":"VEKY…(40)","sign":"0123…(16)"}`},
		{"numeric code is a status, kept", `{"code":200,"success":true}`, nil, `{"code":200,"success":true}`},
		{"short string code is a status, kept", `{"code":"4201","msg":"invalid"}`, nil, `{"code":"4201","msg":"invalid"}`},
		{"long code is an authorization code", `{"code":"AUTHc0de9x8y7z6w5v4u"}`, nil, `{"code":"AUTH…(20)"}`},
		{"escaped quotes inside a secret value", `{"token":"ab\"cdefghijkl","x":1}`, nil, `{"token":"ab\"…(14)","x":1}`},
		{"unterminated secret value", `{"refresh_token":"` + secretRefresh[:30], nil, `{"refresh_token":"RTKN…(30)`},
		{"query string", "access_token=" + secretAccess + "&expires_in=3600&code=XYZ123abc", nil,
			"access_token=ATKN…(40)&expires_in=3600&code=XYZ1…(9)"},
		{"URL in a JSON message", `{"msg":"redirect to https://cb.example/?code=` + secretRefresh + `&state=s1"}`, nil,
			`{"msg":"redirect to https://cb.example/?code=RTKN…(40)&state=s1"}`},
		{"URL-escaped known secret", "key=" + url.QueryEscape("ab/cd+ef=gh") + " end", []string{"ab/cd+ef=gh"},
			"key=ab%2…(17) end"},
		{"JSON slash-escaped known secret", `{"msg":"ab\/cd\/efgh"}`, []string{"ab/cd/efgh"}, `{"msg":"ab\/…(12)"}`},
		{"HTML reduced to its text", "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title><style>body{color:red}</style>" +
			"<script>var t='x';</script></head><body><!-- c --><h1>502 Bad Gateway</h1><hr>nginx/1.18</body></html>", nil,
			"502 Bad Gateway 502 Bad Gateway nginx/1.18"},
		{"HTML entities decoded, then redacted", "<html><body>access_token&#61;" + secretAccess + " &amp; more</body></html>", nil,
			"access_token=ATKN…(40) & more"},
		{"secret in an HTML attribute", `<html><a href="/cb?code=` + secretRefresh + `">go</a></html>`, nil, "go"},
		{"XML element", "<xml><access_token>" + secretAccess + "</access_token><expires_in>7</expires_in></xml>", nil,
			"ATKN…(40) 7"},
		{"whitespace collapsed to one line", "a\r\n\tb    c\n\n", nil, "a b c"},
		{"control characters", "a\x00b\x1b[31mc\u0085d", nil, "a b [31mc d"},
		{"invalid UTF-8", "ok \xff\xfe end", nil, "ok \uFFFD end"},
		{"BOM stripped", "\xEF\xBB\xBF{}", nil, "{}"},
		{"Chinese kept", `{"error":"1","msg":"应用信息错误"}`, nil, `{"error":"1","msg":"应用信息错误"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Snippet([]byte(tt.body), tt.secrets...))
		})
	}
}

func TestSnippet_truncates(t *testing.T) {
	s := Snippet([]byte(strings.Repeat("应", 500)))
	assert.Equal(t, 120, utf8.RuneCountInString(s))
	assert.True(t, strings.HasSuffix(s, "…"))
	assert.True(t, utf8.ValidString(s))

	exact := strings.Repeat("x", 120)
	assert.Equal(t, exact, Snippet([]byte(exact)))
}

func TestSnippet_redactsBeforeTruncating(t *testing.T) {
	// The secret straddles the 120th character: cut first, it would be unrecognisable.
	body := strings.Repeat("a ", 50) + secretClient + " tail"
	s := Snippet([]byte(body), secretClient)
	assert.NotContains(t, s, secretClient[:8])
	assert.Contains(t, s, "CSEC…(40)")
}

func TestSnippet_windowNeverCutsASecret(t *testing.T) {
	// A secret that crosses the end of the window Snippet looks at is dropped, not shown in part.
	pad := strings.Repeat(" ", snippetWindow-20)
	s := Snippet([]byte(pad+secretBearer+" after"), secretBearer)
	assert.NotContains(t, s, secretBearer[:8])
	assert.Empty(t, s)

	s = Snippet([]byte("head "+pad+secretBearer), secretBearer)
	assert.Equal(t, "head", s)
}

func TestSnippet_largeBody(t *testing.T) {
	body := []byte(`{"access_token":"` + secretAccess + `","pad":"` + strings.Repeat("p", 1<<20) + `"}`)
	s := Snippet(body)
	assert.LessOrEqual(t, utf8.RuneCountInString(s), snippetMax)
	// The run of p's crosses the end of the window Snippet reads, so it is left out.
	assert.Equal(t, `{"access_token":"ATKN…(40)","pad":"`, s)
}

func TestScrubError_keepsChain(t *testing.T) {
	base := errors.New("bad key " + secretClient)
	err := scrubError(base, []string{secretClient})
	assert.Equal(t, "bad key CSEC…(40)", err.Error())
	require.ErrorIs(t, err, base)
	assert.Same(t, base, scrubError(base, []string{secretAccess}), "an error without secrets is returned as is")
	assert.NoError(t, scrubError(nil, []string{secretAccess}))
}
