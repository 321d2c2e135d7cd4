package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/veapi"
	"github.com/shoptoken/shoptoken/vipauth"
	"github.com/shoptoken/shoptoken/vvtool"
	"github.com/shoptoken/shoptoken/youzan"
)

// youzanDemo: obtain with refresh:false, warm reads, a token superseded by another process and
// recovered with one compare-and-refresh while 50 concurrent API calls each retry once.
func youzanDemo(ctx context.Context, p *printer) error {
	yz := shoptokentest.NewYouzan()
	defer yz.Close()
	cfg := youzan.Config{ClientID: "id", ClientSecret: "secret", BaseURL: yz.URL}
	shop := shoptokentest.YouzanGrantID // the shop's kdt_id
	src, err := youzan.NewSource(cfg, shop, shoptoken.WithStore(shoptoken.NewMemoryStore()),
		shoptoken.WithMinInterval(200*time.Millisecond))
	if err != nil {
		return err
	}
	defer shutdown(src)
	if err := parallel(100, func() error { _, err := src.Token(ctx); return err }); err != nil {
		return err
	}
	tok, _ := src.Token(ctx)
	st := yz.Stats()
	p.row("youzan", "100 callers, cold start", fmt.Sprintf("%d token issued, subject %s, %d scopes", st.Issued, tok.Subject, len(tok.Scope)), st.Issued == 1 && tok.Subject == "88888")

	cl, err := youzan.NewClient(cfg, src)
	if err != nil {
		return err
	}
	var info struct{ Name string }
	if err := cl.Call(ctx, "youzan.shop.get", "3.0.0", nil, &info); err != nil {
		return err
	}
	time.Sleep(250 * time.Millisecond)
	if _, err := cfg.FetchToken(ctx, shop, true); err != nil { // another process forces a new token
		return err
	}
	before := yz.Stats()
	err = parallel(50, func() error {
		return cl.Call(ctx, "youzan.trade.get", "4.0.2", map[string]string{"tid": "E2026"}, nil)
	})
	after := yz.Stats()
	p.row("youzan", "token superseded; 50 API calls", fmt.Sprintf("%d errors, %d rejected then retried, %d token request (refresh:false)",
		countErr(err), after.Rejected-before.Rejected, after.TokenRequests-before.TokenRequests),
		err == nil && after.TokenRequests-before.TokenRequests == 1)
	return nil
}

// vvtoolDemo: two workers share a store; every fetch kills the previous token, so the fleet must
// fetch once, and once again after an outside fetch.
func vvtoolDemo(ctx context.Context, p *printer) error {
	vv := shoptokentest.NewVVTool()
	defer vv.Close()
	cfg := vvtool.Config{Account: "account", AccessKey: "key", TokenURL: vv.URL + "/oauth/token"}
	store := shoptoken.NewMemoryStore()
	var clients []*http.Client
	for range 2 {
		src, err := vvtool.NewSource(cfg, shoptoken.WithStore(store), shoptoken.WithMinInterval(200*time.Millisecond))
		if err != nil {
			return err
		}
		defer shutdown(src)
		cl, err := vvtool.NewClient(cfg, src)
		if err != nil {
			return err
		}
		clients = append(clients, cl.HTTPClient())
	}
	call := func(i int) error {
		resp, err := clients[i%2].Get(vv.URL + "/tool/members/info")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	}
	var n atomic.Int64
	err := parallel(100, func() error { return call(int(n.Add(1))) })
	p.row("vvtool", "2 workers x 50 calls", fmt.Sprintf("%d errors, %d token fetch", countErr(err), vv.Stats().Issued), err == nil && vv.Stats().Issued == 1)

	time.Sleep(250 * time.Millisecond)
	if _, err := cfg.FetchToken(ctx); err != nil { // a server outside the fleet fetches: ours is dead
		return err
	}
	err = parallel(100, func() error { return call(int(n.Add(1))) })
	issued := vv.Stats().Issued
	p.row("vvtool", "outside fetch kills it; 100 calls", fmt.Sprintf("%d errors, fetches now %d (1 + outside + 1 recovery)", countErr(err), issued), err == nil && issued == 3)
	return nil
}

// veapiDemo: a rotating refresh token, persisted before use; a restart continues the chain.
func veapiDemo(ctx context.Context, p *printer) error {
	va := shoptokentest.NewVeapi(shoptokentest.WithTokenTTL(time.Second))
	defer va.Close()
	cfg := veapi.Config{VEKey: "vekey", App: "demo", BaseURL: va.URL}
	store := shoptoken.NewMemoryStore()
	granted := va.NewGrant("shop-1")
	opts := []shoptoken.Option{shoptoken.WithStore(store), shoptoken.WithEarlyRefresh(time.Second),
		shoptoken.WithMinInterval(0), shoptoken.WithExpirySkew(0)}
	src, err := veapi.NewSource(cfg, "shop-1", append(opts, shoptoken.WithToken(&shoptoken.Token{RefreshToken: granted, Subject: "shop-1"}))...)
	if err != nil {
		return err
	}
	if _, err := src.Token(ctx); err != nil {
		return err
	}
	time.Sleep(1600 * time.Millisecond)                          // 1-second tokens: planned rotations run in the background
	stored, version, err := store.Load(ctx, "veapi/demo/shop-1") // the Key the SDK built: veapi/<App>/<shop>
	if err != nil {
		return err
	}
	cur := src.Current()
	shutdown(src)
	p.row("veapi", "rotations while callers read", fmt.Sprintf("%d rotations, store version %d holds the latest refresh token: %v",
		va.Stats().Issued, version, stored.RefreshToken == cur.RefreshToken), stored.RefreshToken == cur.RefreshToken && va.Stats().Issued >= 2)

	restarted, err := veapi.NewSource(cfg, "shop-1", opts...) // a new process: no WithToken, the store has it
	if err != nil {
		return err
	}
	defer restarted.Close()
	if _, err := restarted.Refresh(ctx); err != nil {
		return err
	}
	dead := va.Stats().DeadRefreshUsed
	p.row("veapi", "restart, then rotate again", fmt.Sprintf("chain continues; dead refresh tokens used: %d", dead), dead == 0)
	return nil
}

// vipauthDemo: exchange a code, use the token, revoke it: the next call asks for a person.
func vipauthDemo(ctx context.Context, p *printer) error {
	vip := shoptokentest.NewVipAuth()
	defer vip.Close()
	cfg := vipauth.Config{ClientID: "id", ClientSecret: "secret", RedirectURL: "https://isv.example.com/vip/callback", BaseURL: vip.OAuthURL}
	code := vip.NewCode(shoptokentest.VipAuthOpenID, cfg.RedirectURL)
	tok, err := cfg.Exchange(ctx, code, "203.0.113.7")
	if err != nil {
		return err
	}
	info, err := cfg.TokenInfo(ctx, tok.AccessToken)
	if err != nil {
		return err
	}
	p.row("vipauth", "exchange code, token_info", fmt.Sprintf("open_id %s…, expires %s (China time)", tok.Subject[:8], info.ExpiresAt.Format("2006-01-02 15:04")), info.OpenID == tok.Subject)
	src, err := vipauth.NewSource(cfg, tok.Subject, shoptoken.WithToken(tok))
	if err != nil {
		return err
	}
	defer shutdown(src)
	cl, err := vipauth.NewClient(cfg, src)
	if err != nil {
		return err
	}
	api := cl.HTTPClient()
	resp, err := api.Get(vip.URL + "/api/account/info")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if err := cfg.Revoke(ctx, tok.AccessToken); err != nil {
		return err
	}
	_, err = api.Get(vip.URL + "/api/account/info")
	p.row("vipauth", "revoke, then call the API", "ErrReauthorize: "+fmt.Sprint(errors.Is(err, shoptoken.ErrReauthorize)), errors.Is(err, shoptoken.ErrReauthorize))
	return nil
}

// parallel runs fn n times concurrently and returns the errors joined.
func parallel(n int, fn func() error) error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func countErr(err error) int {
	if err == nil {
		return 0
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return len(j.Unwrap())
	}
	return 1
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
