package apiclient

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/defaultclient"
)

func TestBase(t *testing.T) {
	def := Base(nil)
	assert.Equal(t, defaultclient.Timeout, def.Timeout, "nil is the SDK's default, never one without a timeout")
	mine := &http.Client{Timeout: 3 * time.Second}
	got := Base(mine)
	got.Timeout = time.Minute
	assert.Equal(t, 3*time.Second, mine.Timeout, "the caller's client is copied, not modified")
}

func TestCheckSource(t *testing.T) {
	var nilCache *shoptoken.Cache
	var nilFunc shoptoken.TokenSourceFunc
	for name, src := range map[string]shoptoken.TokenSource{"nil": nil, "nil *Cache": nilCache, "nil func": nilFunc} {
		err := CheckSource("veapi", src)
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, name)
		var e *shoptoken.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, "veapi", e.Platform)
		assert.Equal(t, "veapi: new_client: the token source is nil", err.Error())
	}
	require.NoError(t, CheckSource("veapi", shoptoken.StaticSource(&shoptoken.Token{AccessToken: "a"})))
}

func TestInvalidator(t *testing.T) {
	c, err := shoptoken.NewCache(shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
		return nil, nil
	}))
	require.NoError(t, err)
	defer c.Close()
	assert.Same(t, c, Invalidator(c).(*shoptoken.Cache), "an Invalidator is used as it is")

	tok := &shoptoken.Token{AccessToken: "a", Expiry: time.Now().Add(time.Hour)}
	inv := Invalidator(shoptoken.StaticSource(tok))
	got, err := inv.Token(context.Background())
	require.NoError(t, err)
	assert.Same(t, tok, got)
	again, err := inv.Invalidate(context.Background(), tok)
	require.NoError(t, err)
	assert.Same(t, tok, again, "nothing to refresh: the rejected token comes back, and the Transport returns the rejection")
}
