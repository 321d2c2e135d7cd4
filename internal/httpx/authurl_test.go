package httpx

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAuthQuery_URL_keepsOrderAndEscapes(t *testing.T) {
	var q AuthQuery
	q.Set("client_id", "app 1")
	q.Set("response_type", "code")
	q.Set("redirect_uri", "https://isv.example/cb?a=1&b=2")
	q.Set("client_id", "app&2") // replaced in place
	v, ok := q.Get("client_id")
	assert.True(t, ok)
	assert.Equal(t, "app&2", v)
	_, ok = q.Get("state")
	assert.False(t, ok)
	assert.Equal(t, "https://p.example/authorize?client_id=app%262&response_type=code&redirect_uri=https%3A%2F%2Fisv.example%2Fcb%3Fa%3D1%26b%3D2",
		q.URL("https://p.example/authorize"))
	var empty AuthQuery
	assert.Equal(t, "https://p.example/authorize", empty.URL("https://p.example/authorize"))
}

func TestRedirectURIOK(t *testing.T) {
	for uri, want := range map[string]bool{
		"https://isv.example/cb?x=1":  true,
		"http://127.0.0.1:8080/cb":    true,
		"javascript:alert(1)":         false,
		"data:text/html,hi":           false,
		"/relative/cb":                false,
		"https://user:pw@isv.example": false,
		"https://isv.example/cb#frag": false,
		"https://isv.example/cb#":     false,
		"ftp://isv.example/cb":        false,
		"https:opaque":                false,
		"":                            false,
	} {
		assert.Equal(t, want, RedirectURIOK(uri), uri)
	}
}
