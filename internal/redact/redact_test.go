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

func TestValuesAndKnown(t *testing.T) {
	v := Values(url.Values{"client_secret": {"c209580b23b9530c1485699d5c4b2xxx"}, "grant_type": {"client_credentials"}})
	assert.Equal(t, "c209…(32)", v.Get("client_secret"))
	assert.Equal(t, "client_credentials", v.Get("grant_type"))
	assert.Equal(t, "echo 2F5A…(40)!", Known("echo 2F5A520D12AA3E70337058A00C4B6F864BDC6704!", "2F5A520D12AA3E70337058A00C4B6F864BDC6704", ""))
}
