package redact

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSecret(t *testing.T) {
	assert.Equal(t, "", Secret(""))
	assert.Equal(t, "…(8)", Secret("abcdefgh"), "short secrets show no prefix")
	assert.Equal(t, "2F5A…(40)", Secret("2F5A520D12AA3E70337058A00C4B6F864BDC6704"))
	assert.Equal(t, "令牌秘密…(30)", Secret("令牌秘密令牌秘密令牌"), "cut on a rune boundary")
}

func TestURL(t *testing.T) {
	got := URL("https://open.youzanyun.com/api/youzan.trade.get/4.0.2?access_token=774ae7b675f8db2aa65d38bf5de710b&tid=E2026")
	assert.Equal(t, "https://open.youzanyun.com/api/youzan.trade.get/4.0.2?access_token=774a…(31)&tid=E2026", got)
	assert.NotContains(t, URL("https://u:p4ssw0rd-long-secret@h/x?code=abcdefghijk#frag"), "p4ssw0rd")
	assert.NotContains(t, URL("http://h/x?vekey=V123M56789&refresh_token=70D016791459CADBF0DC"), "70D016791459")
	assert.Equal(t, "::bad?…", URL("::bad?access_token=secretsecret"))
}

func TestKnown(t *testing.T) {
	const hexTok = "2F5A520D12AA3E70337058A00C4B6F864BDC6704"
	assert.Equal(t, "echo 2F5A…(40)!", Known("echo "+hexTok+"!", hexTok, ""))
	assert.Equal(t, "abc abc", Known("abc abc", "abc"), "secrets under four bytes are not searched")

	// A secret with characters that URL and JSON encoders escape is found in each spelling.
	const sec = "ab/cd+ef=gh<ij"
	for _, spelled := range []string{
		sec,
		url.QueryEscape(sec),  // ab%2Fcd%2Bef%3Dgh%3Cij
		url.PathEscape(sec),   // ab%2Fcd+ef=gh%3Cij
		`ab/cd+ef=gh\u003cij`, // encoding/json
		`ab\/cd+ef=gh<ij`,     // PHP's json_encode
	} {
		got := Known("x "+spelled+" y", sec)
		assert.NotContains(t, got, spelled[4:], spelled)
		assert.Equal(t, "x "+Secret(spelled)+" y", got, spelled)
	}
}
