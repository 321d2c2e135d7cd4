package reauth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/reauth"
	"github.com/shoptoken/shoptoken/vipauth"
)

func TestNew_invalid(t *testing.T) {
	e := newEnv(t)
	key := []byte(signingKey)
	good := reauth.Config{BaseURL: "https://isv.example.com/reauth", SigningKey: key}
	yz := reauth.YouzanTool(e.yzCfg, e.yzApp)
	with := func(f func(*reauth.Config)) reauth.Config {
		c := good
		f(&c)
		return c
	}
	wrongID := e.yzCfg
	wrongID.ClientID = "another"
	wrongVip := e.vipCfg
	wrongVip.ClientID = "another"
	for name, tc := range map[string]struct {
		cfg  reauth.Config
		apps []reauth.Authorizer
		want string
	}{
		"no BaseURL":          {with(func(c *reauth.Config) { c.BaseURL = "" }), []reauth.Authorizer{yz}, "Config.BaseURL is required"},
		"relative BaseURL":    {with(func(c *reauth.Config) { c.BaseURL = "/reauth" }), []reauth.Authorizer{yz}, "Config.BaseURL must be an absolute"},
		"plain http":          {with(func(c *reauth.Config) { c.BaseURL = "http://isv.example.com/reauth" }), []reauth.Authorizer{yz}, "plain http"},
		"BaseURL with query":  {with(func(c *reauth.Config) { c.BaseURL = "https://isv.example.com/r?x=1" }), []reauth.Authorizer{yz}, "query"},
		"no key":              {with(func(c *reauth.Config) { c.SigningKey = nil }), []reauth.Authorizer{yz}, "at least 32 bytes, got 0"},
		"short key":           {with(func(c *reauth.Config) { c.SigningKey = key[:31] }), []reauth.Authorizer{yz}, "got 31"},
		"negative FlowTTL":    {with(func(c *reauth.Config) { c.FlowTTL = -time.Second }), []reauth.Authorizer{yz}, "FlowTTL"},
		"no app":              {good, nil, "no Authorizer"},
		"nil app":             {good, []reauth.Authorizer{nil}, "Authorizer 0 is nil"},
		"nil youzan App":      {good, []reauth.Authorizer{reauth.YouzanTool(e.yzCfg, nil)}, "the App is nil"},
		"nil vip App":         {good, []reauth.Authorizer{reauth.VipAuth(e.vipCfg, (*vipauth.App)(nil))}, "the App is nil"},
		"youzan ClientID":     {good, []reauth.Authorizer{reauth.YouzanTool(wrongID, e.yzApp)}, "ClientID is not the App's"},
		"vip ClientID":        {good, []reauth.Authorizer{reauth.VipAuth(wrongVip, e.vipApp)}, "ClientID is not the App's"},
		"one app given twice": {good, []reauth.Authorizer{yz, reauth.YouzanTool(e.yzCfg, e.yzApp)}, "youzan/id is given twice"},
	} {
		h, err := reauth.New(tc.cfg, tc.apps...)
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, name)
		assert.Contains(t, err.Error(), tc.want, name)
		assert.Nil(t, h, name)
		testkit.NoSecret(t, name, []string{signingKey}, testkit.ErrorTexts(err)...)
	}
}

func TestHandler_Link_invalid(t *testing.T) {
	e := newEnv(t)
	k := e.yzKey()
	for name, tc := range map[string]struct {
		k    shoptoken.Key
		ttl  time.Duration
		want string
	}{
		"no shop":        {e.yzApp.Key(""), time.Hour, "names no shop"},
		"blank shop":     {e.yzApp.Key(" "), time.Hour, "names no shop"},
		"no platform":    {shoptoken.Key{App: "id", Shop: "1"}, time.Hour, "platform is empty"},
		"another app":    {shoptoken.Key{Platform: "youzan", App: "other", Shop: "1"}, time.Hour, "youzan/other is not an app of this handler"},
		"zero ttl":       {k, 0, "ttl must be in"},
		"negative ttl":   {k, -time.Hour, "ttl must be in"},
		"ttl too long":   {k, reauth.MaxLinkTTL + time.Second, "ttl must be in"},
		"the longest ok": {k, reauth.MaxLinkTTL, ""},
	} {
		l, err := e.h.Link(tc.k, tc.ttl)
		if tc.want == "" {
			require.NoError(t, err, name)
			assert.True(t, strings.HasPrefix(l, e.srv.URL+"/reauth/start?link="), name)
			continue
		}
		require.ErrorIs(t, err, shoptoken.ErrBadRequest, name)
		assert.Contains(t, err.Error(), tc.want, name)
		assert.Empty(t, l, name)
	}
}

// TestHandler_Link_unique: links are random, so two links for one shop are two single uses.
func TestHandler_Link_unique(t *testing.T) {
	e := newEnv(t)
	seen := map[string]bool{}
	for range 100 {
		l := e.link(e.yzKey(), time.Hour)
		require.False(t, seen[l])
		seen[l] = true
		assert.Less(t, len(l), 300, "short enough for a chat message")
	}
}

func TestConfig_printsNoKey(t *testing.T) {
	e := newEnv(t)
	cfg := reauth.Config{BaseURL: "https://isv.example.com/reauth", SigningKey: []byte(signingKey), Store: e.store}
	outs := append(testkit.Printed(cfg), testkit.Printed(e.h)...)
	testkit.NoSecret(t, "Config and Handler", []string{signingKey}, outs...)
	assert.Equal(t, "reauth.Config{BaseURL: https://isv.example.com/reauth, SigningKey: …(44 bytes), Store: *shoptoken.MemoryStore}", cfg.String())
	assert.Contains(t, e.h.String(), "Apps: vipauth/vip-id youzan/id")
}
