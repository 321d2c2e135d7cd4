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
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/vipauth"
)

func (c *cli) authorizeCommand() *cobra.Command {
	var listen, clientIP string
	var oob bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "authorize",
		Short: "Authorize a shop (vip.com code flow, Youzan tool app code) and store its token for the fleet",
		Long: `authorize obtains a new grant and stores its token where the fleet reads it (App.Set: saved to the
store first, so every process picks it up).

vip.com: prints the authorization URL, then either
  - runs a loopback callback server (--listen 127.0.0.1:PORT; the redirect URL is
    http://127.0.0.1:PORT/callback unless the app's redirect_url says otherwise, and must be
    registered with vip.com), checks state, exchanges the code and answers the browser; or
  - with --oob, uses vip.com's out-of-band flow: the page shows a code, which the command reads
    from SHOPTOKEN_AUTH_CODE or standard input.
Youzan tool apps: reads the authorization code the merchant's browser brought to your redirect
URL from SHOPTOKEN_AUTH_CODE or standard input, and exchanges it.

Codes are read from the environment or standard input, never from flags (a command line shows in
ps). The client secret comes from the app's configuration.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), wait)
			defer cancel()
			e, err := c.open(ctx, true)
			if err != nil {
				return err
			}
			defer c.reportTrips()
			a := e.apps[0]
			var tok *shoptoken.Token
			switch {
			case a.cfg.Platform == "vipauth":
				tok, err = c.authorizeVip(ctx, a, listen, oob, clientIP)
			case a.cfg.Platform == "youzan" && a.cfg.Tool:
				tok, err = c.authorizeYouzan(ctx, a)
			default:
				err = usagef("authorize is for vip.com apps and Youzan tool apps (tool: true); %s renews its grants without a person", a.name())
			}
			if err == nil {
				err = a.set(ctx, tok.Subject, tok)
			}
			sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer scancel()
			if serr := e.shutdown(sctx); err == nil {
				err = serr
			}
			if err != nil {
				return err
			}
			v := view(a, a.app.Key(tok.Subject), tok, 0, nil, e.now())
			return c.out(v, func(w io.Writer) {
				fmt.Fprintf(w, "authorized %s; its token is stored for the fleet\n", v.Key)
				v.print(w)
			})
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8085", "vip.com: the loopback address of the callback server")
	cmd.Flags().BoolVar(&oob, "oob", false, "vip.com: the out-of-band flow (the code is shown on the page and read here)")
	cmd.Flags().StringVar(&clientIP, "client-ip", "127.0.0.1", "vip.com --oob: the user's IP address to report (request_client_ip)")
	cmd.Flags().DurationVar(&wait, "wait", 10*time.Minute, "give up waiting for the authorization after this long")
	return cmd
}

// readCode reads an authorization code from SHOPTOKEN_AUTH_CODE or one line of standard input.
func (c *cli) readCode() (string, error) {
	if s := strings.TrimSpace(c.getenv("SHOPTOKEN_AUTH_CODE")); s != "" {
		return s, nil
	}
	fmt.Fprint(c.stderr, "authorization code: ")
	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	if s := strings.TrimSpace(line); s != "" {
		return s, nil
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return "", usagef("no authorization code (SHOPTOKEN_AUTH_CODE or standard input)")
}

func (c *cli) authorizeYouzan(ctx context.Context, a *appRT) (*shoptoken.Token, error) {
	code, err := c.readCode()
	if err != nil {
		return nil, err
	}
	return a.yz.ExchangeCode(ctx, code, a.cfg.RedirectURL)
}

// urlTo prints where the user must go: on standard error for people, and as the first line of
// standard output (JSON with --json) for scripts that drive a browser.
func (c *cli) urlTo(u string) {
	if c.jsonOut {
		fmt.Fprintf(c.stdout, "{\"authorize_url\":%q}\n", u)
	} else {
		fmt.Fprintf(c.stdout, "open this URL to authorize:\n%s\n", u)
	}
}

func (c *cli) authorizeVip(ctx context.Context, a *appRT, listen string, oob bool, clientIP string) (*shoptoken.Token, error) {
	cfg := a.vip
	if _, err := secret(c.getenv, "client secret", a.cfg.ClientSecretFile, a.cfg.ClientSecretEnv, "SHOPTOKEN_VIPAUTH_CLIENT_SECRET"); err != nil {
		return nil, err
	}
	state := vipauth.NewState()
	if oob {
		cfg.RedirectURL = vipauth.OOB
		u, err := cfg.AuthCodeURL(state)
		if err != nil {
			return nil, err
		}
		c.urlTo(u)
		code, err := c.readCode()
		if err != nil {
			return nil, err
		}
		return cfg.Exchange(ctx, code, clientIP)
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, usagef("--listen %q: %v", listen, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, usagef("--listen %q: the callback server listens on a loopback address only", listen)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, usagef("--listen: %v", err)
	}
	defer ln.Close()
	if cfg.RedirectURL == "" || cfg.RedirectURL == vipauth.OOB {
		cfg.RedirectURL = "http://" + ln.Addr().String() + "/callback"
	}
	ru, err := url.Parse(cfg.RedirectURL)
	if err != nil {
		return nil, usagef("redirect_url: %v", err)
	}
	u, err := cfg.AuthCodeURL(state)
	if err != nil {
		return nil, err
	}
	type result struct {
		tok *shoptoken.Token
		err error
	}
	done := make(chan result, 1)
	mux := http.NewServeMux()
	mux.HandleFunc(ru.Path, func(w http.ResponseWriter, r *http.Request) {
		code, err := vipauth.ParseCallback(r.URL.Query(), state)
		var tok *shoptoken.Token
		if err == nil {
			tok, err = cfg.Exchange(r.Context(), code, r.RemoteAddr)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "<!DOCTYPE html><title>授权失败 Authorization failed</title><p>授权失败 Authorization failed: %s</p>", html.EscapeString(err.Error()))
		} else {
			fmt.Fprint(w, "<!DOCTYPE html><title>授权成功 Authorized</title><p>授权成功,可以关闭此页面。Authorized: you may close this page.</p>")
		}
		if errors.Is(err, vipauth.ErrStateMismatch) {
			return // a forged or stale callback: keep waiting for the real one
		}
		select {
		case done <- result{tok, err}:
		default:
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	c.urlTo(u)
	fmt.Fprintf(c.stderr, "waiting for the callback on %s\n", cfg.RedirectURL)
	select {
	case r := <-done:
		return r.tok, r.err
	case <-ctx.Done():
		return nil, &shoptoken.Error{Platform: "vipauth", Op: "authorize", Kind: shoptoken.ErrUnavailable,
			Message: "no authorization arrived in time", Err: ctx.Err()}
	}
}
