package redact

import (
	"errors"
	"fmt"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

func TestKnown_escapesInEitherCase(t *testing.T) {
	const sec = "ab/cd+ef=gh<ij"
	for _, spelled := range []string{
		"ab%2fcd%2bef%3dgh%3cij", // lower-case percent escapes, as some encoders write them
		"ab%2Fcd%2bef%3Dgh%3cij", // mixed
		`ab/cd+ef=gh\u003Cij`,    // upper-case JSON escape
	} {
		got := Known("x "+spelled+" y", sec)
		assert.Equal(t, "x "+Secret(spelled)+" y", got, spelled)
	}
	assert.Equal(t, "ab%2Xcd", Known("ab%2Xcd", "ab%2Xcd-not-this"), "not an escape: nothing to fold")
}

func TestRemove(t *testing.T) {
	const sec = "ab/cd+ef=gh<ij"
	loc := "https://h/x?access_token=ab%2fcd%2bef%3dgh%3cij&id=1&again=" + url.QueryEscape(sec)
	assert.Equal(t, "https://h/x?access_token=&id=1&again=", Remove(loc, sec))
	assert.Equal(t, "abc", Remove("abc", "abc"), "secrets under four bytes are not searched")
}

func TestIsSecretParam_foldsLikeEncodingJSON(t *testing.T) {
	// encoding/json matches member names with bytes.EqualFold: these all fill an access_token field.
	for _, name := range []string{"access_token", "ACCESS_TOKEN", "acceſs_token", "Access-Token"} {
		assert.True(t, IsSecretParam(name), name)
	}
	assert.True(t, IsSecretParam("ve\u212Aey"), "Kelvin sign folds to k")
	assert.False(t, IsSecretParam("expires_in"))
}

func TestURL_keepsPathAsWritten(t *testing.T) {
	once := URL("https://h/shop/ATKN…(40)/orders?access_token=2F5A520D12AA3E70337058A00C4B6F864BDC6704#f")
	assert.Equal(t, "https://h/shop/ATKN…(40)/orders?access_token=2F5A…(40)", once)
	assert.Equal(t, once, URL(once), "URL of URL's result is that result")
}

func TestErr(t *testing.T) {
	const sec = "2F5A520D12AA3E70337058A00C4B6F864BDC6704"
	base := errors.New("reset")
	err := Err(&url.Error{Op: "Get", URL: "https://h/x/" + sec + "?vekey=V123M56789abcdef", Err: fmt.Errorf("proxy %s: %w", sec, base)}, sec)
	assert.NotContains(t, err.Error(), sec[:8])
	assert.NotContains(t, err.Error(), "V123M567")
	require.ErrorIs(t, err, base)
	var ue *url.Error
	require.ErrorAs(t, err, &ue)
	assert.NotContains(t, ue.URL, sec[:8], "the *url.Error errors.As finds is clean too")
	assert.Same(t, base, Err(base, sec), "an error without secrets is returned as is")
	assert.NoError(t, Err(nil, sec))
}
