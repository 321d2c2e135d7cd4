package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/youzan"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	if id := os.Getenv("YOUZAN_CLIENT_ID"); id != "" {
		err = online(ctx, youzan.Config{
			ClientID:     id,
			ClientSecret: os.Getenv("YOUZAN_CLIENT_SECRET"),
		}, os.Getenv("YOUZAN_GRANT_ID"))
	} else {
		err = offline(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func offline(ctx context.Context) error {
	yz := shoptokentest.NewYouzan()
	defer yz.Close()
	fmt.Println("offline: Youzan emulator at", yz.URL, "(set YOUZAN_CLIENT_ID, YOUZAN_CLIENT_SECRET, YOUZAN_GRANT_ID for the real platform)")
	cfg := youzan.Config{ClientID: "id", ClientSecret: "secret", BaseURL: yz.URL}
	const shop = shoptokentest.YouzanGrantID // the shop's kdt_id

	src, err := youzan.NewSource(cfg, shop, shoptoken.WithEvents(func(e shoptoken.Event) {
		if e.Kind == shoptoken.EventRefreshed {
			fmt.Printf("   [cache] token call (%s): got %v\n", e.Reason, e.Token.AccessToken[:4]+"…")
		}
	}))
	if err != nil {
		return err
	}
	defer shutdown(src)
	cl, err := youzan.NewClient(cfg, src)
	if err != nil {
		return err
	}

	var out struct {
		Name string `json:"name"`
	}
	fmt.Println("1. call youzan.trade.get 4.0.2")
	if err := cl.Call(ctx, "youzan.trade.get", "4.0.2", map[string]string{"tid": "E20240501"}, &out); err != nil {
		return err
	}
	mine := src.Current()
	fmt.Printf("   ok, with token %s…\n", mine.AccessToken[:4])

	fmt.Println("2. another process asks for a new token (refresh:true): ours is superseded")
	theirs, err := cfg.FetchToken(ctx, shop, true)
	if err != nil {
		return err
	}
	fmt.Printf("   their token %s…; ours still accepted: %v\n", theirs.AccessToken[:4], yz.Valid(mine.AccessToken))

	fmt.Println("3. call again: 4203 -> invalidate -> refresh:false (adopts their token) -> retry once")
	yz.ResetStats()
	start := time.Now()
	if err := cl.Call(ctx, "youzan.trade.get", "4.0.2", map[string]string{"tid": "E20240501"}, &out); err != nil {
		return err
	}
	st := yz.Stats()
	fmt.Printf("   ok in %v (token calls for a key are spaced %v apart)\n", time.Since(start).Round(100*time.Millisecond), youzan.DefaultMinInterval)
	fmt.Printf("   platform saw: %d API calls, %d rejected, %d token call, %d new tokens issued\n",
		st.APICalls, st.Rejected, st.TokenRequests, st.Issued)
	now := src.Current()
	fmt.Printf("   now using %s… (theirs: %v); their token still works: %v\n",
		now.AccessToken[:4], now.AccessToken == theirs.AccessToken, yz.Valid(theirs.AccessToken))
	if st.Rejected != 1 || st.TokenRequests != 1 || st.Issued != 0 || now.AccessToken != theirs.AccessToken {
		return fmt.Errorf("unexpected platform traffic: %+v", st)
	}
	return manyShops(ctx)
}

// manyShops runs one App for three shops of the app, on one store: the SDK names each shop's
// token, and App.Call takes the shop as its first argument.
func manyShops(ctx context.Context) error {
	kdtIDs := []string{"42587152", "42587153", "42587154"}
	yz := shoptokentest.NewYouzan(shoptokentest.WithGrants(kdtIDs...))
	defer yz.Close()
	store := shoptoken.NewMemoryStore() // redisstore.New(rdb) for a fleet
	app, err := youzan.NewApp(youzan.Config{ClientID: "id", ClientSecret: "secret", BaseURL: yz.URL}, shops.WithStore(store))
	if err != nil {
		return err
	}
	defer app.Shutdown(ctx)
	fmt.Println("4. many shops: one App, one store, three shops, two calls each")
	for range 2 {
		for _, shop := range kdtIDs {
			if err := app.Call(ctx, shop, "youzan.shop.get", "3.0.0", nil, nil); err != nil {
				return err
			}
		}
	}
	for _, shop := range kdtIDs {
		tok, _, err := store.Load(ctx, app.Key(shop).String())
		if err != nil {
			return err
		}
		fmt.Printf("   %s: token %s… stored\n", app.Key(shop), tok.AccessToken[:4])
	}
	st := yz.Stats()
	fmt.Printf("   platform saw: %d API calls, %d token calls\n", st.APICalls, st.TokenRequests)
	if st.APICalls != 6 || st.TokenRequests != 3 {
		return fmt.Errorf("unexpected platform traffic: %+v", st)
	}
	return nil
}

func online(ctx context.Context, cfg youzan.Config, shop string) error {
	fmt.Println("real platform:", youzan.DefaultBaseURL, "shop", shop)
	src, err := youzan.NewSource(cfg, shop)
	if err != nil {
		return err
	}
	defer shutdown(src)
	tok, err := src.Token(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("token for shop %s, expires %s, %d scopes\n", tok.Subject, tok.Expiry.Format(time.RFC3339), len(tok.Scope))

	cl, err := youzan.NewClient(cfg, src)
	if err != nil {
		return err
	}
	var info map[string]any
	if err := cl.Call(ctx, "youzan.shop.get", "3.0.0", nil, &info); err != nil {
		return err
	}
	for _, k := range []string{"id", "name", "intro", "url"} {
		if v, ok := info[k]; ok {
			fmt.Printf("shop %s: %v\n", k, v)
		}
	}
	return nil
}

// shutdown stops src (a Cache or an App) the way a process about to exit should: it waits, up to
// 10 s, for refreshes under way and for their new tokens to be saved, so that a rotation in
// flight is never lost.
func shutdown(src interface{ Shutdown(context.Context) error }) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := src.Shutdown(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "shutdown:", err)
	}
}
