package xoauth2_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"golang.org/x/oauth2"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/xoauth2"
)

// A shoptoken source (a Cache, an App's Source(shop), a StaticSource) drives an oauth2 HTTP
// client.
func ExampleNewTokenSource() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Header.Get("Authorization"))
	}))
	defer api.Close()

	src := shoptoken.StaticSource(&shoptoken.Token{AccessToken: "example-token", Expiry: time.Now().Add(time.Hour)})
	hc := oauth2.NewClient(context.Background(), xoauth2.NewTokenSource(src))
	resp, err := hc.Get(api.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: Bearer example-token
}

// A grant of a standard OAuth2 platform kept alive by the engine: refreshed ahead of expiry, once
// for a fleet, the rotated refresh token saved before the new access token is used.
func ExampleNewSource() {
	p := newPlatform(7200) // a local platform that rotates refresh tokens: the example runs offline
	defer p.Close()
	granted := p.NewGrant() // the refresh token the merchant's authorization gave you

	store := shoptoken.NewMemoryStore() // in production: redisstore or sqlstore, shared by the fleet
	cache, err := xoauth2.NewSource(xoauth2.Config{
		Platform: "acme",
		OAuth2: &oauth2.Config{
			ClientID:     "client-1",
			ClientSecret: testSecret,
			Endpoint:     oauth2.Endpoint{TokenURL: p.URL + "/token", AuthStyle: oauth2.AuthStyleInParams},
		},
		SubjectField: "open_id",
	}, "shop-1",
		shoptoken.WithToken(&shoptoken.Token{RefreshToken: granted}),
		shoptoken.WithStore(store),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()

	ctx := context.Background()
	tok, err := cache.Token(ctx)
	if err != nil {
		log.Fatal(err)
	}
	stored, version, _ := store.Load(ctx, cache.Key().String())
	fmt.Println(cache.Key(), tok.Subject, tok.Scope)
	fmt.Println("rotated:", tok.RefreshToken != granted, "stored:", stored.RefreshToken == tok.RefreshToken, "version:", version)
	// Output:
	// acme/client-1/shop-1 open-1 [user_info item.read]
	// rotated: true stored: true version: 2
}

// A refresh token that is dead (redeemed elsewhere, revoked, expired) is ErrReauthorize: only the
// merchant authorizing again helps, and the Cache does not retry it in a loop.
func ExampleNewRefresher_invalidGrant() {
	p := newPlatform(7200)
	defer p.Close()
	r, err := xoauth2.NewRefresher(p.Config())
	if err != nil {
		log.Fatal(err)
	}
	cache, err := shoptoken.NewCache(r,
		shoptoken.WithToken(&shoptoken.Token{RefreshToken: "rt-revoked-0123456789abcdef"}))
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()

	_, err = cache.Token(context.Background())
	fmt.Println(err)
	fmt.Println(errors.Is(err, shoptoken.ErrReauthorize))
	// Output:
	// testplat: refresh: invalid_grant unknown refresh token
	// true
}

// The token of an authorization (oauth2.Config.Exchange) starts a Cache.
func ExampleFromOAuth2() {
	exchanged := (&oauth2.Token{
		AccessToken:  "at-from-exchange",
		TokenType:    "bearer",
		RefreshToken: "rt-from-exchange",
		Expiry:       time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
	}).WithExtra(map[string]any{"scope": "user_info", "open_id": "o-42"})

	tok := xoauth2.FromOAuth2(exchanged, "open_id")
	fmt.Println(tok.Expiry.Format(time.RFC3339), tok.Scope, tok.Extra["open_id"])
	fmt.Println(tok)
	// Output:
	// 2026-03-01T10:00:00Z [user_info] o-42
	// Token{access_token: at-f…(16), type: bearer, refresh_token: rt-f…(16), expiry: 2026-03-01T10:00:00Z}
}
