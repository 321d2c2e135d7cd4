package youzan_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/youzan"
)

func ExampleNewSource() {
	yz := shoptokentest.NewYouzan() // a local emulator: the example runs offline
	defer yz.Close()
	src, err := youzan.NewSource(youzan.Config{
		ClientID: "id", ClientSecret: "secret", GrantID: "88888", BaseURL: yz.URL,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	tok, err := src.Token(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.Subject)
	fmt.Println(tok.Expiry.Sub(tok.IssuedAt).Round(1e9))
	// Output:
	// 88888
	// 168h0m0s
}

func ExampleConfig_FetchToken() {
	yz := shoptokentest.NewYouzan()
	defer yz.Close()
	cfg := youzan.Config{ClientID: "id", ClientSecret: "secret", GrantID: "88888", BaseURL: yz.URL}
	ctx := context.Background()

	a, _ := cfg.FetchToken(ctx, false) // issues the shop's token
	b, _ := cfg.FetchToken(ctx, false) // non-destructive: the same token again
	c, _ := cfg.FetchToken(ctx, true)  // a new token; a and b stop working
	fmt.Println(a.AccessToken == b.AccessToken, c.AccessToken == a.AccessToken, yz.Valid(a.AccessToken))
	// Output: true false false
}

func ExampleClient_Call() {
	yz := shoptokentest.NewYouzan()
	defer yz.Close()
	cfg := youzan.Config{ClientID: "id", ClientSecret: "secret", GrantID: "88888", BaseURL: yz.URL}
	src, err := youzan.NewSource(cfg, shoptoken.WithMinInterval(0))
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	cl := youzan.NewClient(cfg, src)
	ctx := context.Background()

	var out struct {
		Name string `json:"name"`
	}
	if err := cl.Call(ctx, "youzan.trade.get", "4.0.2", map[string]string{"tid": "E20240501"}, &out); err != nil {
		log.Fatal(err)
	}
	fmt.Println("called", out.Name)

	// Another process takes a new token: ours is superseded (4203). Call recovers by itself.
	if _, err := cfg.FetchToken(ctx, true); err != nil {
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
	src, err := youzan.NewToolSource(cfg, shoptoken.WithToken(first), shoptoken.WithStore(store, "youzan:88888"),
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
	saved, _, _ := store.Load(ctx, "youzan:88888")
	fmt.Println("rotated:", next.RefreshToken != first.RefreshToken)
	fmt.Println("saved:", saved.RefreshToken == next.RefreshToken)
	_, err = cfg.Refresh(ctx, first.RefreshToken)
	fmt.Println("old refresh token:", errors.Is(err, shoptoken.ErrReauthorize))
	// Output:
	// rotated: true
	// saved: true
	// old refresh token: true
}

func ExampleRetryAfter() {
	yz := shoptokentest.NewYouzan()
	defer yz.Close()
	cfg := youzan.Config{ClientID: "id", ClientSecret: "secret", GrantID: "88888", BaseURL: yz.URL}
	src, _ := youzan.NewSource(cfg)
	defer src.Close()
	cl := youzan.NewClient(cfg, src)

	yz.FailAPIWith(4101, 1)
	err := cl.Call(context.Background(), "youzan.shop.get", "3.0.0", nil, nil)
	if wait, ok := youzan.RetryAfter(err); ok {
		fmt.Println(errors.Is(err, shoptoken.ErrRateLimited), "wait", wait)
	}
	// Output: true wait 3s
}
