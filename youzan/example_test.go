package youzan_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/youzan"
)

func ExampleNewSource() {
	yz := shoptokentest.NewYouzan() // a local emulator: the example runs offline
	defer yz.Close()
	src, err := youzan.NewSource(youzan.Config{ClientID: "id", ClientSecret: "secret", BaseURL: yz.URL}, "88888")
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	tok, err := src.Token(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.Subject, src.Key())
	fmt.Println(tok.Expiry.Sub(tok.IssuedAt).Round(1e9))
	// Output:
	// 88888 youzan/id/88888
	// 168h0m0s
}

// An App keeps the tokens of many shops under SDK-built keys, in one Store, with one Keeper.
func ExampleNewApp() {
	yz := shoptokentest.NewYouzan(shoptokentest.WithGrants("42587152", "42587153"))
	defer yz.Close()
	store := shoptoken.NewMemoryStore() // redisstore.New(rdb) in production
	app, err := youzan.NewApp(youzan.Config{ClientID: "id", ClientSecret: "secret", BaseURL: yz.URL},
		shops.WithStore(store))
	if err != nil {
		log.Fatal(err)
	}
	defer app.Close()
	ctx := context.Background()
	for _, shop := range []string{"42587152", "42587153"} {
		var out struct {
			Name string `json:"name"`
		}
		if err := app.Call(ctx, shop, "youzan.shop.get", "3.0.0", nil, &out); err != nil {
			log.Fatal(err)
		}
		tok, _, _ := store.Load(ctx, app.Key(shop).String())
		fmt.Println(app.Key(shop), "called", out.Name, "token stored:", tok != nil)
	}
	// go app.Run(ctx) keeps idle shops' tokens fresh; app.Shutdown(ctx) when the process exits.
	// Output:
	// youzan/id/42587152 called youzan.shop.get token stored: true
	// youzan/id/42587153 called youzan.shop.get token stored: true
}

// App.Client gives a Client for one shop that shares the App's HTTP client and 4101 back-off: it
// is cheap enough to make per request, and the advice still grows as the gateway asks.
func ExampleApp_Client() {
	clk := shoptokentest.NewClock(time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)) // time moves on Advance
	yz := shoptokentest.NewYouzan(shoptokentest.WithClock(clk))
	defer yz.Close()
	app, err := youzan.NewApp(youzan.Config{ClientID: "id", ClientSecret: "secret", BaseURL: yz.URL, Clock: clk})
	if err != nil {
		log.Fatal(err)
	}
	defer app.Close()
	ctx := context.Background()
	yz.FailAPIWith(4101, 3)
	for range 3 {
		err := app.Client("88888").Call(ctx, "youzan.trade.get", "4.0.2", nil, nil)
		wait, _ := youzan.RetryAfter(err)
		fmt.Println("wait", wait)
		clk.Advance(wait) // the caller waits as advised, and is limited again
	}
	// Output:
	// wait 3s
	// wait 6s
	// wait 12s
}

// NewClient takes any TokenSource: here a token managed elsewhere. A rejection then comes back
// as ErrTokenInvalid, since a static source cannot get a new token.
func ExampleNewClient() {
	yz := shoptokentest.NewYouzan()
	defer yz.Close()
	cfg := youzan.Config{ClientID: "id", ClientSecret: "secret", BaseURL: yz.URL}
	tok, err := cfg.FetchToken(context.Background(), "88888", false)
	if err != nil {
		log.Fatal(err)
	}
	cl, err := youzan.NewClient(cfg, shoptoken.StaticSource(tok))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	fmt.Println(cl.Call(ctx, "youzan.shop.get", "3.0.0", nil, nil))
	yz.FailAPIWith(4203, 1)
	err = cl.Call(ctx, "youzan.shop.get", "3.0.0", nil, nil)
	fmt.Println(errors.Is(err, shoptoken.ErrTokenInvalid))
	_, err = youzan.NewClient(cfg, nil)
	fmt.Println(errors.Is(err, shoptoken.ErrBadRequest))
	// Output:
	// <nil>
	// true
	// true
}

func ExampleConfig_FetchToken() {
	yz := shoptokentest.NewYouzan()
	defer yz.Close()
	cfg := youzan.Config{ClientID: "id", ClientSecret: "secret", BaseURL: yz.URL}
	ctx := context.Background()

	a, _ := cfg.FetchToken(ctx, "88888", false) // issues the shop's token
	b, _ := cfg.FetchToken(ctx, "88888", false) // non-destructive: the same token again
	c, _ := cfg.FetchToken(ctx, "88888", true)  // a new token; a and b stop working
	fmt.Println(a.AccessToken == b.AccessToken, c.AccessToken == a.AccessToken, yz.Valid(a.AccessToken))
	// Output: true false false
}

func ExampleClient_Call() {
	yz := shoptokentest.NewYouzan()
	defer yz.Close()
	cfg := youzan.Config{ClientID: "id", ClientSecret: "secret", BaseURL: yz.URL}
	src, err := youzan.NewSource(cfg, "88888", shoptoken.WithMinInterval(0))
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	cl, err := youzan.NewClient(cfg, src)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	var out struct {
		Name string `json:"name"`
	}
	if err := cl.Call(ctx, "youzan.trade.get", "4.0.2", map[string]string{"tid": "E20240501"}, &out); err != nil {
		log.Fatal(err)
	}
	fmt.Println("called", out.Name)

	// Another process takes a new token: ours is superseded (4203). Call recovers by itself.
	if _, err := cfg.FetchToken(ctx, "88888", true); err != nil {
		log.Fatal(err)
	}
	yz.ResetStats()
	if err := cl.Call(ctx, "youzan.trade.get", "4.0.2", map[string]string{"tid": "E20240501"}, &out); err != nil {
		log.Fatal(err)
	}
	st := yz.Stats()
	fmt.Printf("api calls %d, rejected %d, token calls %d\n", st.APICalls, st.Rejected, st.TokenRequests)
	// Output:
	// called youzan.trade.get
	// api calls 2, rejected 1, token calls 1
}

func ExampleNewToolSource() {
	yz := shoptokentest.NewYouzan()
	defer yz.Close()
	cfg := youzan.Config{ClientID: "id", ClientSecret: "secret", BaseURL: yz.URL}
	ctx := context.Background()

	// The merchant authorized the tool app; the browser brought back a code.
	first, err := cfg.ExchangeCode(ctx, yz.NewCode("88888"), "https://isv.example/youzan/callback")
	if err != nil {
		log.Fatal(err)
	}
	store := shoptoken.NewMemoryStore() // use redisstore or filestore in production
	src, err := youzan.NewToolSource(cfg, first.Subject, shoptoken.WithToken(first), shoptoken.WithStore(store),
		shoptoken.WithMinInterval(0))
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()

	tok, err := src.Token(ctx) // the authorized token, now saved in the store
	if err != nil {
		log.Fatal(err)
	}
	next, err := src.Invalidate(ctx, tok) // as after a 4202: redeem the refresh token
	if err != nil {
		log.Fatal(err)
	}
	saved, _, _ := store.Load(ctx, src.Key().String())
	fmt.Println("key:", src.Key())
	fmt.Println("rotated:", next.RefreshToken != first.RefreshToken)
	fmt.Println("saved:", saved.RefreshToken == next.RefreshToken)
	_, err = cfg.Refresh(ctx, first.RefreshToken)
	fmt.Println("old refresh token:", errors.Is(err, shoptoken.ErrReauthorize))
	// Output:
	// key: youzan/id/88888
	// rotated: true
	// saved: true
	// old refresh token: true
}

func ExampleRetryAfter() {
	yz := shoptokentest.NewYouzan()
	defer yz.Close()
	app, err := youzan.NewApp(youzan.Config{ClientID: "id", ClientSecret: "secret", BaseURL: yz.URL})
	if err != nil {
		log.Fatal(err)
	}
	defer app.Close()

	yz.FailAPIWith(4101, 1)
	err = app.Call(context.Background(), "88888", "youzan.shop.get", "3.0.0", nil, nil)
	if wait, ok := youzan.RetryAfter(err); ok {
		fmt.Println(errors.Is(err, shoptoken.ErrRateLimited), "wait", wait)
	}
	// Output: true wait 3s
}
