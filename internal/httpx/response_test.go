package httpx

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
)

type tokenAnswer struct {
	AccessToken string   `json:"access_token"`
	ExpiresIn   int64    `json:"expires_in"`
	Scope       []string `json:"scope"`
	Data        *struct {
		Expires float64 `json:"expires"`
	} `json:"data"`
}

const (
	syntaxErr = "syntax"
	typeErr   = "type"
)

func TestResponse_DecodeJSON(t *testing.T) {
	const html503 = "<!DOCTYPE html>\n<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\n" +
		"<body>\n<center><h1>503 Service Temporarily Unavailable</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n"
	tests := []struct {
		name     string
		status   int
		body     string
		wantKind error  // nil: decodes
		wantMsg  string // substring of Message
		wantErr  string // type of Err, when there is one: syntaxErr or typeErr
		check    func(t *testing.T, v tokenAnswer)
	}{
		{name: "object", status: 200, body: `{"access_token":"abc","expires_in":7200,"scope":["a","b"]}`,
			check: func(t *testing.T, v tokenAnswer) {
				assert.Equal(t, "abc", v.AccessToken)
				assert.Equal(t, int64(7200), v.ExpiresIn)
				assert.Equal(t, []string{"a", "b"}, v.Scope)
			}},
		{name: "BOM is stripped", status: 200, body: "\xEF\xBB\xBF{\"access_token\":\"bom\"}",
			check: func(t *testing.T, v tokenAnswer) { assert.Equal(t, "bom", v.AccessToken) }},
		{name: "surrounding whitespace", status: 200, body: "\n\t {\"access_token\":\"ws\"} \r\n",
			check: func(t *testing.T, v tokenAnswer) { assert.Equal(t, "ws", v.AccessToken) }},
		{name: "invalid UTF-8 inside a string is replaced", status: 200, body: "{\"access_token\":\"a\xffb\"}",
			check: func(t *testing.T, v tokenAnswer) { assert.Equal(t, "a\uFFFDb", v.AccessToken) }},
		{name: "JSON error envelope on 400 decodes", status: 400, body: `{"access_token":""}`,
			check: func(t *testing.T, v tokenAnswer) { assert.Empty(t, v.AccessToken) }},

		{name: "empty", status: 200, body: "", wantKind: shoptoken.ErrBadResponse, wantMsg: "empty body"},
		{name: "whitespace only", status: 200, body: " \r\n\t ", wantKind: shoptoken.ErrBadResponse, wantMsg: "empty body"},
		{name: "BOM only", status: 200, body: "\xEF\xBB\xBF", wantKind: shoptoken.ErrBadResponse, wantMsg: "empty body"},
		{name: "empty 401", status: 401, body: "", wantKind: shoptoken.ErrTokenInvalid, wantMsg: "HTTP 401: empty body"},
		{name: "HTML page on 200", status: 200, body: html503, wantKind: shoptoken.ErrBadResponse,
			wantMsg: "HTML page instead of JSON: 503 Service Temporarily Unavailable 503 Service Temporarily Unavailable nginx"},
		{name: "HTML page on 503", status: 503, body: html503, wantKind: shoptoken.ErrUnavailable,
			wantMsg: "HTTP 503: HTML page instead of JSON: 503 Service"},
		{name: "HTML page on 429", status: 429, body: "<html><body>slow down</body></html>", wantKind: shoptoken.ErrRateLimited,
			wantMsg: "HTML page instead of JSON: slow down"},
		{name: "XML", status: 200, body: `<?xml version="1.0"?><error><code>7</code></error>`, wantKind: shoptoken.ErrBadResponse,
			wantMsg: "markup instead of JSON: 7"},
		{name: "truncated", status: 200, body: `{"access_token":"abc","expi`, wantKind: shoptoken.ErrBadResponse,
			wantMsg: `truncated JSON: {"access_token":"…(3)","expi`, wantErr: syntaxErr},
		{name: "truncated on 502", status: 502, body: `{"access_token":"ab`, wantKind: shoptoken.ErrUnavailable,
			wantMsg: "HTTP 502: truncated JSON", wantErr: syntaxErr},
		{name: "string where number", status: 200, body: `{"expires_in":"7200"}`, wantKind: shoptoken.ErrBadResponse,
			wantMsg: "wrong JSON type for expires_in: string, want int64", wantErr: typeErr},
		{name: "number where string", status: 200, body: `{"access_token":12345}`, wantKind: shoptoken.ErrBadResponse,
			wantMsg: "wrong JSON type for access_token", wantErr: typeErr},
		{name: "wrong type on 503 is still a bad response", status: 503, body: `{"expires_in":true}`,
			wantKind: shoptoken.ErrBadResponse, wantMsg: "HTTP 503: wrong JSON type", wantErr: typeErr},
		{name: "array instead of object", status: 200, body: `[{"access_token":"x"}]`, wantKind: shoptoken.ErrBadResponse,
			wantMsg: "wrong JSON type: array, want httpx.tokenAnswer", wantErr: typeErr},
		{name: "string instead of object", status: 200, body: `"ok"`, wantKind: shoptoken.ErrBadResponse,
			wantMsg: "wrong JSON type", wantErr: typeErr},
		{name: "huge integer", status: 200, body: `{"expires_in":99999999999999999999999}`, wantKind: shoptoken.ErrBadResponse,
			wantMsg: "wrong JSON type for expires_in: number 99999999999999999999999", wantErr: typeErr},
		{name: "huge float", status: 200, body: `{"data":{"expires":1e400}}`, wantKind: shoptoken.ErrBadResponse,
			wantMsg: "wrong JSON type for data.expires: number 1e400", wantErr: typeErr},
		{name: "null", status: 200, body: " null ", wantKind: shoptoken.ErrBadResponse, wantMsg: "JSON null instead of a value: null"},
		{name: "invalid UTF-8 outside strings", status: 200, body: "\xff\xfe{\"a\":1}", wantKind: shoptoken.ErrBadResponse,
			wantMsg: "malformed JSON: \uFFFD{", wantErr: syntaxErr},
		{name: "UTF-16 encoded", status: 200, body: "\xff\xfe{\x00}\x00", wantKind: shoptoken.ErrBadResponse,
			wantMsg: "malformed JSON", wantErr: syntaxErr},
		{name: "trailing garbage", status: 200, body: `{"access_token":"x"} <br/>`, wantKind: shoptoken.ErrBadResponse,
			wantMsg: "malformed JSON", wantErr: syntaxErr},
		{name: "two values", status: 200, body: `{}{}`, wantKind: shoptoken.ErrBadResponse, wantMsg: "malformed JSON"},
		{name: "single quotes", status: 200, body: `{'access_token':'x'}`, wantKind: shoptoken.ErrBadResponse, wantMsg: "malformed JSON"},
		{name: "JSONP", status: 200, body: `cb({"access_token":"x"})`, wantKind: shoptoken.ErrBadResponse, wantMsg: "malformed JSON"},
		{name: "plain text on 404", status: 404, body: "404 page not found\n", wantKind: shoptoken.ErrBadRequest,
			wantMsg: "HTTP 404: malformed JSON: 404 page not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &Response{StatusCode: tt.status, Body: []byte(tt.body), Request: "POST https://x.example/token"}
			var v tokenAnswer
			err := r.DecodeJSON("youzan", "token", &v)
			if tt.wantKind == nil {
				require.NoError(t, err)
				tt.check(t, v)
				return
			}
			require.Error(t, err)
			require.ErrorIs(t, err, tt.wantKind)
			var e *shoptoken.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "youzan", e.Platform)
			assert.Equal(t, "token", e.Op)
			assert.Equal(t, tt.status, e.StatusCode)
			assert.Equal(t, tt.wantKind, e.Kind)
			assert.Contains(t, e.Message, tt.wantMsg)
			assert.NotContains(t, e.Message, "\n")
			assert.True(t, strings.HasPrefix(err.Error(), "youzan: token: "), err.Error())
			switch tt.wantErr {
			case syntaxErr:
				var se *json.SyntaxError
				require.ErrorAs(t, err, &se)
			case typeErr:
				var te *json.UnmarshalTypeError
				require.ErrorAs(t, err, &te)
			}
		})
	}
}

func TestResponse_DecodeJSON_snippetIsShortAndRedacted(t *testing.T) {
	body := `{"success":false,"code":1000,"message":"bad secret ` + secretClient + `","access_token":"` +
		secretAccess + `","pad":"` + strings.Repeat("z", 500)
	r := &Response{StatusCode: 200, Body: []byte(body)}
	err := r.DecodeJSON("youzan", "token", &tokenAnswer{}, secretClient)
	require.ErrorIs(t, err, shoptoken.ErrBadResponse)
	var e *shoptoken.Error
	require.ErrorAs(t, err, &e)
	snippet := strings.TrimPrefix(e.Message, "truncated JSON: ")
	require.NotEqual(t, e.Message, snippet)
	assert.LessOrEqual(t, utf8.RuneCountInString(snippet), 120)
	assert.True(t, strings.HasSuffix(snippet, "…"))
	assert.Contains(t, snippet, `"code":1000`)
	assert.Contains(t, snippet, "CSEC…(40)")
	assertNoSecretInError(t, err)
}

func TestResponse_StatusError(t *testing.T) {
	tests := []struct {
		status   int
		body     string
		wantKind error
		wantMsg  string
	}{
		{200, `{}`, nil, ""},
		{204, ``, nil, ""},
		{503, "<html><title>503 Service Temporarily Unavailable</title>nginx</html>", shoptoken.ErrUnavailable,
			"HTTP 503 Service Unavailable: 503 Service Temporarily Unavailable nginx"},
		{502, "", shoptoken.ErrUnavailable, "HTTP 502 Bad Gateway"},
		{401, `{"error":"invalid_token"}`, shoptoken.ErrTokenInvalid, `HTTP 401 Unauthorized: {"error":"invalid_token"}`},
		{403, "forbidden", shoptoken.ErrPermission, "HTTP 403 Forbidden: forbidden"},
		{429, "", shoptoken.ErrRateLimited, "HTTP 429 Too Many Requests"},
		{404, "nope", shoptoken.ErrBadRequest, "HTTP 404 Not Found: nope"},
		{302, "", shoptoken.ErrBadResponse, "HTTP 302 Found"},
		{599, "?", shoptoken.ErrUnavailable, "HTTP 599: ?"},
	}
	for _, tt := range tests {
		r := &Response{StatusCode: tt.status, Body: []byte(tt.body)}
		err := r.StatusError("vvtool", "token")
		if tt.wantKind == nil {
			assert.NoError(t, err)
			continue
		}
		require.ErrorIs(t, err, tt.wantKind, tt.status)
		var e *shoptoken.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, tt.wantMsg, e.Message)
		assert.Equal(t, tt.status, e.StatusCode)
		assert.Equal(t, "vvtool: token: "+tt.wantMsg, err.Error())
	}
}

func TestResponse_StatusError_redacts(t *testing.T) {
	r := &Response{StatusCode: 401, Body: []byte(`{"msg":"token ` + secretBearer + ` expired","refresh_token":"` + secretRefresh + `"}`)}
	err := r.StatusError("vvtool", "call", secretBearer)
	require.ErrorIs(t, err, shoptoken.ErrTokenInvalid)
	assertNoSecretInError(t, err)
	assert.Contains(t, err.Error(), "BEAR…(40)")
	assert.Contains(t, err.Error(), "RTKN…(40)")
}
