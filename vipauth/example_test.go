package vipauth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/vipauth"
)

func ExampleConfig_AuthCodeURL() {
	cfg := vipauth.Config{ClientID: "0123456789", RedirectURL: "https://isv.example.com/vip/callback"}
	u, err := cfg.AuthCodeURL("Q2xhcmEK")
	fmt.Println(u, err)

	// A native application: vip.com shows the code on its page.
	native := vipauth.Config{ClientID: "0123456789", RedirectURL: vipauth.OOB}
	u, err = native.AuthCodeURL("1212", vipauth.Mobile())
	fmt.Println(u, err)

	// A redirect_uri that is not a web address would hand the code to a script.
	bad := vipauth.Config{ClientID: "0123456789", RedirectURL: "javascript:alert(1)"}
	_, err = bad.AuthCodeURL("1212")
	fmt.Println(errors.Is(err, shoptoken.ErrBadRequest))
	// Output:
	// https://auth.vip.com/oauth2/authorize?client_id=0123456789&response_type=code&redirect_uri=https%3A%2F%2Fisv.example.com%2Fvip%2Fcallback&state=Q2xhcmEK <nil>
	// https://auth.vip.com/oauth2/authorize?client_id=0123456789&response_type=code&redirect_uri=urn%3Aietf%3Awg%3Aoauth%3A2.0%3Aoob&state=1212&display=mobile <nil>
	// true
}

func ExampleParseCallback() {
	// The query of the request vip.com redirected to RedirectURL, and the state kept in a cookie.
	q, _ := url.ParseQuery("code=23456&state=Q2xhcmEK")
	code, err := vipauth.ParseCallback(q, "Q2xhcmEK")
	fmt.Println(code, err)

	q, _ = url.ParseQuery("error=access_denied&error_description=user+refused&state=Q2xhcmEK")
	_, err = vipauth.ParseCallback(q, "Q2xhcmEK")
	fmt.Println(errors.Is(err, shoptoken.ErrReauthorize), errors.Is(err, vipauth.ErrDenied))

	_, err = vipauth.ParseCallback(url.Values{"code": {"23456"}, "state": {"forged"}}, "Q2xhcmEK")
	fmt.Println(err)
	// Output:
	// 23456 <nil>
	// true true
	// vipauth: callback: state missing or does not match: possible cross-site request forgery, start the authorization again
}

func ExampleConfig_Exchange() {
	emu := shoptokentest.NewVipAuth() // a local emulator: the example runs offline
	defer emu.Close()
	cfg := vipauth.Config{
		ClientID: "id", ClientSecret: "secret",
		RedirectURL: "https://isv.example.com/vip/callback",
		BaseURL:     emu.OAuthURL,
	}
	code := emu.NewCode(shoptokentest.VipAuthOpenID, cfg.RedirectURL) // as if the user had consented
	tok, err := cfg.Exchange(context.Background(), code, "203.0.113.9")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.Subject, tok.TokenType, tok.Expiry.Sub(tok.IssuedAt))

	_, err = cfg.Exchange(context.Background(), code, "203.0.113.9") // codes are single use
	fmt.Println(errors.Is(err, shoptoken.ErrReauthorize))
	// Output:
	// 69BA0D43AF9E3821EE93F72D3BB14724 Bearer 720h0m0s
	// true
}

func ExampleConfig_TokenInfo() {
	emu := shoptokentest.NewVipAuth()
	defer emu.Close()
	cfg := vipauth.Config{ClientID: "id", ClientSecret: "secret", RedirectURL: vipauth.OOB, BaseURL: emu.OAuthURL}
	ctx := context.Background()
	tok, err := cfg.Exchange(ctx, emu.NewCode("69BA0D4", vipauth.OOB), "203.0.113.9")
	if err != nil {
		log.Fatal(err)
	}
	info, err := cfg.TokenInfo(ctx, tok.AccessToken)
	if err != nil {
		log.Fatal(err)
	}
	_, offset := info.ExpiresAt.Zone()
	fmt.Println(info.OpenID, info.ExpiresAt.Sub(info.CreatedAt), offset/3600)

	emu.RevokeUser("69BA0D4") // the user cancelled the grant
	_, err = cfg.TokenInfo(ctx, tok.AccessToken)
	fmt.Println(errors.Is(err, shoptoken.ErrReauthorize))
	// Output:
	// 69BA0D4 720h0m0s 8
	// true
}

func ExampleConfig_Revoke() {
	emu := shoptokentest.NewVipAuth()
	defer emu.Close()
	cfg := vipauth.Config{ClientID: "id", ClientSecret: "secret", RedirectURL: vipauth.OOB, BaseURL: emu.OAuthURL}
	ctx := context.Background()
	tok, err := cfg.Exchange(ctx, emu.NewCode("69BA0D4", vipauth.OOB), "203.0.113.9")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.Revoke(ctx, tok.AccessToken))
	err = cfg.Revoke(ctx, tok.AccessToken)
	fmt.Println(errors.Is(err, shoptoken.ErrTokenInvalid), err)
	// Output:
	// <nil>
	// true vipauth: revoke: 30111 access token invalid
}

func ExampleNewSource() {
	emu := shoptokentest.NewVipAuth()
	defer emu.Close()
	cfg := vipauth.Config{ClientID: "id", ClientSecret: "secret", RedirectURL: vipauth.OOB, BaseURL: emu.OAuthURL}
	ctx := context.Background()
	tok, err := cfg.Exchange(ctx, emu.NewCode("69BA0D4", vipauth.OOB), "203.0.113.9")
	if err != nil {
		log.Fatal(err)
	}

	src, err := vipauth.NewSource(cfg, tok.Subject, shoptoken.WithToken(tok),
		shoptoken.WithEvents(func(e shoptoken.Event) {
			if e.Kind == shoptoken.EventGrantExpiring {
				// Three days before the token lapses: ask the user to authorize again.
				fmt.Println("ask", e.Key.Shop, "to authorize again")
			}
		}))
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	got, _ := src.Token(ctx)
	fmt.Println(src.Key(), got.Subject)

	emu.RevokeUser("69BA0D4")
	_, err = src.Invalidate(ctx, got) // what NewClient does when vip.com rejects the token
	fmt.Println(errors.Is(err, shoptoken.ErrReauthorize))
	// Output:
	// vipauth/id/69BA0D4 69BA0D4
	// true
}

func ExampleNewClient() {
	emu := shoptokentest.NewVipAuth()
	defer emu.Close()
	cfg := vipauth.Config{ClientID: "id", ClientSecret: "secret", RedirectURL: vipauth.OOB, BaseURL: emu.OAuthURL}
	ctx := context.Background()
	tok, err := cfg.Exchange(ctx, emu.NewCode("69BA0D4", vipauth.OOB), "203.0.113.9")
	if err != nil {
		log.Fatal(err)
	}
	src, err := vipauth.NewSource(cfg, tok.Subject, shoptoken.WithToken(tok))
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	api, err := vipauth.NewClient(cfg, src) // adds ?access_token= to every request
	if err != nil {
		log.Fatal(err)
	}

	req, err := http.NewRequest(http.MethodGet, emu.URL+"/api/account/info", nil)
	if err != nil {
		log.Fatal(err)
	}
	resp, err := api.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))

	emu.RevokeUser("69BA0D4")
	_, err = api.HTTPClient().Get(emu.URL + "/api/account/info") // for a library that takes an *http.Client
	fmt.Println(errors.Is(err, shoptoken.ErrReauthorize))
	// Output:
	// {"code":0,"data":{"open_id":"69BA0D4"}}
	// true
}

func ExampleNewApp() {
	clock := shoptokentest.NewClock(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)) // a fake clock: the example moves time
	emu := shoptokentest.NewVipAuth(shoptokentest.WithClock(clock))
	defer emu.Close()
	cfg := vipauth.Config{ClientID: "id", ClientSecret: "secret", RedirectURL: vipauth.OOB, BaseURL: emu.OAuthURL, Clock: clock}
	store := shoptoken.NewMemoryStore() // in production: redisstore, shared by every process
	app, err := vipauth.NewApp(cfg, shops.WithStore(store),
		shops.WithOnReauthorize(func(k shoptoken.Key, err error) {
			fmt.Println("keeper: ask", k.Shop, "to authorize again:", errors.Is(err, shoptoken.ErrReauthorize))
		}))
	if err != nil {
		log.Fatal(err)
	}
	defer app.Close()
	ctx := context.Background()

	// The callback of each user's authorization: exchange the code, install the token.
	for _, user := range []string{"69BA0D4", "7C11E02"} {
		tok, err := cfg.Exchange(ctx, emu.NewCode(user, vipauth.OOB), "203.0.113.9")
		if err != nil {
			log.Fatal(err)
		}
		if err := app.Set(ctx, tok.Subject, tok); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(app.Key("7C11E02"), "holds", app.Len(), "users")

	// Day 28: both tokens lapse within three days. The Keeper (Run calls Sweep) says so once.
	clock.Advance(27*24*time.Hour + time.Hour)
	res, err := app.Sweep(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("due:", res.Due, "need a person:", len(res.Reauthorize))

	// One user authorizes again: Set installs the new token (in the store first, for every process).
	tok, err := cfg.Exchange(ctx, emu.NewCode("69BA0D4", vipauth.OOB), "203.0.113.9")
	if err != nil {
		log.Fatal(err)
	}
	if err := app.Set(ctx, "69BA0D4", tok); err != nil {
		log.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, emu.URL+"/api/account/info", nil)
	if err != nil {
		log.Fatal(err)
	}
	resp, err := app.Client("69BA0D4").Do(req)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))
	// Output:
	// vipauth/id/7C11E02 holds 2 users
	// keeper: ask 69BA0D4 to authorize again: true
	// keeper: ask 7C11E02 to authorize again: true
	// due: 2 need a person: 2
	// {"code":0,"data":{"open_id":"69BA0D4"}}
}
