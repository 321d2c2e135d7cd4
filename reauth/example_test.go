package reauth_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"regexp"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/reauth"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/vipauth"
	"github.com/shoptoken/shoptoken/youzan"
)

// The handler in an ISV's web app, for a Youzan tool app; the Youzan emulator stands in for
// Youzan, and an http.Client with a cookie jar for the merchant's browser.
func Example() {
	mux := http.NewServeMux() // the ISV's web app
	srv := httptest.NewServer(mux)
	defer srv.Close()

	yz := shoptokentest.NewYouzan(shoptokentest.WithRedirectURIs(srv.URL + "/reauth/callback"))
	defer yz.Close()
	cfg := youzan.Config{ClientID: "id", ClientSecret: "secret", BaseURL: yz.URL, AuthorizeURL: yz.AuthorizeURL}
	store := shoptoken.NewMemoryStore() // redisstore or sqlstore, shared by the fleet, in production
	app, err := youzan.NewToolApp(cfg, shops.WithStore(store))
	if err != nil {
		log.Fatal(err)
	}
	defer app.Shutdown(context.Background())

	key := make([]byte, 32) // in production: from your secret manager, the same in every process
	_, _ = rand.Read(key)
	h, err := reauth.New(reauth.Config{
		BaseURL:    srv.URL + "/reauth", // register BaseURL+"/callback" as the app's callback address
		SigningKey: key,
		Store:      store,
		OnAuthorized: func(k shoptoken.Key, _ *shoptoken.Token) {
			fmt.Println("authorized:", k)
		},
	}, reauth.YouzanTool(cfg, app))
	if err != nil {
		log.Fatal(err)
	}
	mux.Handle("/reauth/", h)

	// The Keeper reported shop 88888 (shops.WithOnReauthorize): send its merchant a link.
	link, err := h.Link(app.Key("88888"), 72*time.Hour)
	if err != nil {
		log.Fatal(err)
	}

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	fmt.Println(open(browser, link)) // link → Youzan's page → callback → the success page
	tok, err := app.Token(context.Background(), "88888")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("token for shop", tok.Subject, "valid:", yz.Valid(tok.AccessToken))
	fmt.Println(open(browser, link)) // a link works once
	// Output:
	// authorized: youzan/id/88888
	// 200 authorized
	// token for shop 88888 valid: true
	// 409 link-used
}

// open gets u, following redirects, and returns the page's status and reason.
func open(c *http.Client, u string) string {
	resp, err := c.Get(u)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`data-reason="([^"]*)"`).FindSubmatch(body)
	if m == nil {
		return fmt.Sprint(resp.StatusCode)
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, m[1])
}

// A vip.com user who presses "deny" on vip.com's page gets a page that says nothing changed;
// the same link works when they change their mind.
func ExampleVipAuth() {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()

	vip := shoptokentest.NewVipAuth(shoptokentest.WithRedirectURIs(srv.URL + "/reauth/callback"))
	defer vip.Close()
	cfg := vipauth.Config{ClientID: "id", ClientSecret: "secret", BaseURL: vip.OAuthURL}
	store := shoptoken.NewMemoryStore()
	app, err := vipauth.NewApp(cfg, shops.WithStore(store))
	if err != nil {
		log.Fatal(err)
	}
	defer app.Shutdown(context.Background())

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	h, err := reauth.New(reauth.Config{BaseURL: srv.URL + "/reauth", SigningKey: key, Store: store,
		OnFailed: func(k shoptoken.Key, err error) { fmt.Println("failed:", k.Shop, err) },
	}, reauth.VipAuth(cfg, app))
	if err != nil {
		log.Fatal(err)
	}
	mux.Handle("/reauth/", h)

	link, err := h.Link(app.Key(shoptokentest.VipAuthOpenID), 24*time.Hour) // a user is an open_id
	if err != nil {
		log.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}

	vip.DenyNext() // the user presses "deny"
	fmt.Println(open(browser, link))
	fmt.Println(open(browser, link)) // and then authorizes
	tok, err := app.Token(context.Background(), shoptokentest.VipAuthOpenID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("token for", tok.Subject)
	// Output:
	// failed: 69BA0D43AF9E3821EE93F72D3BB14724 vipauth: reauth_callback: the merchant did not authorize the app
	// 403 denied
	// 200 authorized
	// token for 69BA0D43AF9E3821EE93F72D3BB14724
}
