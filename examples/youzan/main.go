package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/shoptoken/shoptoken"
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
			GrantID:      os.Getenv("YOUZAN_GRANT_ID"),
		})
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
	cfg := youzan.Config{ClientID: "id", ClientSecret: "secret", GrantID: "88888", BaseURL: yz.URL}

	src, err := youzan.NewSource(cfg, shoptoken.WithEvents(func(e shoptoken.Event) {
		if e.Kind == shoptoken.EventRefreshed {
			fmt.Printf("   [cache] token call (%s): got %v\n", e.Reason, e.Token.AccessToken[:4]+"…")
		}
	}))
	if err != nil {
		return err
	}
	defer shutdown(src)
	cl := youzan.NewClient(cfg, src)

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
	theirs, err := cfg.FetchToken(ctx, true)
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
	return nil
}

func online(ctx context.Context, cfg youzan.Config) error {
	fmt.Println("real platform:", youzan.DefaultBaseURL, "shop", cfg.GrantID)
	src, err := youzan.NewSource(cfg)
	if err != nil {
		return err
	}
	defer shutdown(src)
	tok, err := src.Token(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("token for shop %s, expires %s, %d scopes\n", tok.Subject, tok.Expiry.Format(time.RFC3339), len(tok.Scope))

	var shop map[string]any
	if err := youzan.NewClient(cfg, src).Call(ctx, "youzan.shop.get", "3.0.0", nil, &shop); err != nil {
		return err
	}
	for _, k := range []string{"id", "name", "intro", "url"} {
		if v, ok := shop[k]; ok {
			fmt.Printf("shop %s: %v\n", k, v)
		}
	}
	return nil
}

// shutdown stops src the way a process about to exit should: it waits, up to 10 s, for a refresh
// under way and for its new token to be saved, so that a rotation in flight is never lost.
func shutdown(src *shoptoken.Cache) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := src.Shutdown(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "shutdown:", err)
	}
}
