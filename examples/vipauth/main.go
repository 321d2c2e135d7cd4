package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/vipauth"
)

const stateCookie = "vip_state"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if os.Getenv("VIP_CLIENT_ID") == "" {
		err = offline(ctx)
	} else {
		err = online(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vipauth example:", err)
		os.Exit(1)
	}
}

// app is the web application: it keeps every user's token in users, one per open_id.
type app struct {
	cfg    vipauth.Config
	users  *vipauth.App
	secure bool                  // the callback is https: the state cookie is Secure
	done   chan *shoptoken.Token // receives each new token (buffered; never blocks)
}

func newApp(cfg vipauth.Config) (*app, error) {
	// In production, add shops.WithStore(redisstore.New(...)) so that every process serves the
	// token any of them installed, and run the Keeper (users.Run) to hear of grants about to lapse.
	users, err := vipauth.NewApp(cfg,
		shops.WithEvents(func(e shoptoken.Event) {
			switch e.Kind {
			case shoptoken.EventGrantExpiring:
				fmt.Printf("   event: the grant of %s lapses soon: ask the user to authorize again\n", e.Key.Shop)
			case shoptoken.EventGrantLost:
				fmt.Printf("   event: grant of %s lost (%v)\n", e.Key.Shop, e.Reason)
			}
		}),
		shops.WithOnReauthorize(func(k shoptoken.Key, err error) {
			fmt.Printf("   keeper: %s must authorize again: %v\n", k.Shop, err)
		}))
	if err != nil {
		return nil, err
	}
	return &app{cfg: cfg, users: users, secure: strings.HasPrefix(cfg.RedirectURL, "https:"), done: make(chan *shoptoken.Token, 1)}, nil
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", a.login)
	path := "/callback"
	if u, err := url.Parse(a.cfg.RedirectURL); err == nil && u.Path != "" {
		path = u.Path
	}
	mux.HandleFunc("GET "+path, a.callback)
	return mux
}

// login sends the browser to vip.com with a fresh state, which a cookie keeps for the callback.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	state := vipauth.NewState()
	http.SetCookie(w, &http.Cookie{
		Name: stateCookie, Value: state, Path: "/", MaxAge: 600,
		HttpOnly: true, Secure: a.secure,
		SameSite: http.SameSiteLaxMode, // sent on the top-level redirect back from vip.com
	})
	authURL, err := a.cfg.AuthCodeURL(state)
	if err != nil {
		http.Error(w, "misconfigured: "+err.Error(), http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, authURL, http.StatusFound)
}

// callback checks the state, exchanges the code and shows who authorized.
func (a *app) callback(w http.ResponseWriter, r *http.Request) {
	want := ""
	if c, err := r.Cookie(stateCookie); err == nil {
		want = c.Value
	}
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: a.secure})

	code, err := vipauth.ParseCallback(r.URL.Query(), want)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, vipauth.ErrDenied) {
			status = http.StatusForbidden
		}
		http.Error(w, err.Error(), status)
		fmt.Println("   callback refused:", err)
		return
	}
	// Behind a reverse proxy, take the browser's address from X-Forwarded-For instead.
	tok, err := a.cfg.Exchange(r.Context(), code, r.RemoteAddr)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		fmt.Println("   exchange failed:", err)
		return
	}
	if err := a.users.Set(r.Context(), tok.Subject, tok); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	select {
	case a.done <- tok:
	default:
	}
	fmt.Fprintf(w, "<p>Authorized: open_id <b>%s</b>, token valid until %s.</p>\n",
		html.EscapeString(tok.Subject), tok.Expiry.Format(time.RFC3339))
}

// offline runs the whole flow against the emulator and checks each step.
func offline(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	site := "http://" + ln.Addr().String()
	// The emulator, like vip.com, gives codes only to the app's registered redirect URI.
	emu := shoptokentest.NewVipAuth(shoptokentest.WithRedirectURIs(site + "/callback"))
	defer emu.Close()
	cfg := vipauth.Config{ClientID: "id", ClientSecret: "secret", RedirectURL: site + "/callback", BaseURL: emu.OAuthURL}
	a, err := newApp(cfg)
	if err != nil {
		return err
	}
	defer shutdown(a.users)
	srv := &http.Server{Handler: a.routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	fmt.Println("offline: vip.com emulator at", emu.URL+", web app at", site)

	// 1. The browser: /login → vip.com authorize (the emulator's user consents) → /callback.
	jar, _ := cookiejar.New(nil)
	hops := 0
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		hops++
		return nil
	}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, site+"/login", nil)
	resp, err := browser.Do(req)
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("callback answered %s: %s", resp.Status, page)
	}
	fmt.Printf("1. browser followed /login → vip.com → /callback (%d redirects): %s", hops, stripTags(string(page)))
	tok := <-a.done

	// 2. What vip.com knows about the token.
	info, err := cfg.TokenInfo(ctx, tok.AccessToken)
	if err != nil {
		return err
	}
	fmt.Printf("2. token_info: %v\n", info)

	// 3. An API call: the user's token goes in ?access_token=.
	api := a.users.Client(tok.Subject)
	body, err := get(ctx, api, emu.URL+"/api/account/info")
	if err != nil {
		return err
	}
	fmt.Println("3. API call answered", body)

	// 4. Revoke, then the next call must say "authorize again".
	if err := cfg.Revoke(ctx, tok.AccessToken); err != nil {
		return err
	}
	fmt.Println("4. revoked the token")
	_, err = get(ctx, api, emu.URL+"/api/account/info")
	if !errors.Is(err, shoptoken.ErrReauthorize) {
		return fmt.Errorf("after revoke: want ErrReauthorize, got %v", err)
	}
	fmt.Println("5. next API call:", shortErr(err), "→ send the user to /login again")
	fmt.Printf("emulator saw %d token request(s), %d API call(s), %d rejected\n",
		emu.Stats().TokenRequests, emu.Stats().APICalls, emu.Stats().Rejected)
	return nil
}

// online serves the real flow until ctx ends.
func online(ctx context.Context) error {
	cfg := vipauth.Config{
		ClientID:     os.Getenv("VIP_CLIENT_ID"),
		ClientSecret: os.Getenv("VIP_CLIENT_SECRET"),
		RedirectURL:  os.Getenv("VIP_REDIRECT_URL"),
	}
	if cfg.ClientSecret == "" || cfg.RedirectURL == "" {
		return errors.New("set VIP_CLIENT_SECRET and VIP_REDIRECT_URL as well as VIP_CLIENT_ID")
	}
	if cfg.RedirectURL == vipauth.OOB {
		return native(ctx, cfg)
	}
	u, err := url.Parse(cfg.RedirectURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("VIP_REDIRECT_URL %q is not an absolute URL", cfg.RedirectURL)
	}
	addr := os.Getenv("VIP_LISTEN")
	if addr == "" {
		addr = ":8080"
		if u.Port() != "" {
			addr = u.Host
		}
	}
	a, err := newApp(cfg)
	if err != nil {
		return err
	}
	defer shutdown(a.users)
	srv := &http.Server{Addr: addr, Handler: a.routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		for tok := range a.done {
			fmt.Printf("authorized: open_id %s, expires %s\n", tok.Subject, tok.Expiry.Format(time.RFC3339))
			if info, err := cfg.TokenInfo(ctx, tok.AccessToken); err == nil {
				fmt.Printf("token_info: %v\n", info)
			} else {
				fmt.Println("token_info:", err)
			}
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Printf("listening on %s; open %s://%s/login in a browser (Ctrl-C to stop)\n", addr, u.Scheme, u.Host)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// native runs the out-of-band flow: vip.com shows the code, the user pastes it here.
func native(ctx context.Context, cfg vipauth.Config) error {
	fmt.Println("open this URL, authorize, and paste the code vip.com shows:")
	authURL, err := cfg.AuthCodeURL(vipauth.NewState(), vipauth.Mobile())
	if err != nil {
		return err
	}
	fmt.Println(authURL)
	fmt.Print("code: ")
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return err
	}
	ip := os.Getenv("VIP_CLIENT_IP")
	if ip == "" {
		ip = "127.0.0.1" // the platform's own example value
	}
	tok, err := cfg.Exchange(ctx, strings.TrimSpace(line), ip)
	if err != nil {
		return err
	}
	fmt.Printf("authorized: open_id %s, expires %s\n", tok.Subject, tok.Expiry.Format(time.RFC3339))
	return nil
}

func get(ctx context.Context, c *vipauth.Client, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return strings.TrimSpace(string(b)), err
}

// shortErr drops the *url.Error wrapper that http.Client adds.
func shortErr(err error) string {
	var e *shoptoken.Error
	if errors.As(err, &e) {
		return e.Error()
	}
	return err.Error()
}

func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
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
