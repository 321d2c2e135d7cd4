package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoptoken/shoptoken/shoptokentest"
)

// emulator is what the four shoptokentest emulators share.
type emulator interface {
	Close()
	Handler() http.Handler
	Stats() shoptokentest.Stats
	ResetStats()
	FailNext(shoptokentest.Fault, int)
	FailAPI(shoptokentest.Fault, int)
	SetLatency(time.Duration)
	ExpireNow()
}

func (c *cli) emulateCommand() *cobra.Command {
	var listen string
	var grants, redirects []string
	var latency, tokenTTL, refreshTTL time.Duration
	var lenient bool
	var clientID string
	cmd := &cobra.Command{
		Use:   "emulate PLATFORM...",
		Short: "Serve the platform emulators on one port, with faults triggered over HTTP",
		Long: `emulate serves the shoptokentest emulators of the platforms named (youzan, vipauth, veapi, vvtool)
on --listen, one base path each: http://ADDR/youzan, http://ADDR/vipauth (OAuth2 endpoints under
/vipauth/oauth2), http://ADDR/veapi, http://ADDR/vvtool. Give these as the SDK's BaseURL, or to a
program in any language. The emulators are strict: they accept only the documented wire formats.
The app credentials are --client-id (default each emulator's: "id", veapi "vekey", vv-tool
"account") and the secret in SHOPTOKEN_EMULATE_SECRET (default "secret", vv-tool "key").

Control endpoints (POST unless said otherwise; PLATFORM is a base path):
  GET  /_emulator                           the base URLs, as JSON
  GET  /_emulator/PLATFORM/stats            what the emulator counted, as JSON
  POST /_emulator/PLATFORM/reset-stats
  POST /_emulator/PLATFORM/expire-now       every access token issued so far expires now
  POST /_emulator/PLATFORM/expire-refresh-now   every refresh token too (youzan, veapi)
  POST /_emulator/PLATFORM/revoke?grant=ID  end a grant: Youzan kdt_id, vip.com open_id, veapi subject
  POST /_emulator/PLATFORM/rate-limit?n=N   the next N API calls answer "too many requests" (youzan 4101)
  POST /_emulator/PLATFORM/fail-next?n=N&fault=F   the next N token requests fail with F
  POST /_emulator/PLATFORM/fail-api?n=N&fault=F    the next N API calls fail with F
       F: unavailable, html, html200, truncated, wrongtypes, drop, slow
  POST /_emulator/PLATFORM/latency?d=500ms  every answer waits d (0: none)
  POST /_emulator/youzan/code?grant=ID      a single-use authorization code for ID (tool apps)
  POST /_emulator/veapi/grant?subject=S     authorize S; answers its first refresh token
  POST /_emulator/vipauth/deny-next         the next authorization is refused
  POST /_emulator/vipauth/consent-as?open_id=ID   who consents on later authorizations

It prints the base URLs (JSON with --json) once listening, and runs until SIGTERM or SIGINT.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var opts []shoptokentest.Option
			if len(grants) > 0 {
				opts = append(opts, shoptokentest.WithGrants(splitAll(grants)...))
			}
			if len(redirects) > 0 {
				opts = append(opts, shoptokentest.WithRedirectURIs(splitAll(redirects)...))
			}
			if lenient {
				opts = append(opts, shoptokentest.Lenient())
			}
			opts = append(opts, shoptokentest.WithLatency(latency), shoptokentest.WithTokenTTL(tokenTTL),
				shoptokentest.WithRefreshTTL(refreshTTL))
			if clk := c.clock(); clk != nil {
				opts = append(opts, shoptokentest.WithClock(clk))
			}
			return c.emulate(cmd.Context(), listen, args, opts, clientID)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8080", "address to serve on (port 0: any free port)")
	f.StringSliceVar(&grants, "grants", nil, "Youzan grant ids (kdt_id) that exist (default 88888); a range a-b is expanded")
	f.StringSliceVar(&redirects, "redirect-uri", nil, "vip.com registered redirect URIs (default https://isv.example.com/vip/callback)")
	f.DurationVar(&latency, "latency", 0, "every answer waits this long")
	f.DurationVar(&tokenTTL, "token-ttl", 0, "access-token lifetime (default the platform's)")
	f.DurationVar(&refreshTTL, "refresh-ttl", 0, "refresh-token lifetime (default the platform's)")
	f.BoolVar(&lenient, "lenient", false, "accept the departures from the documented wire formats too")
	f.StringVar(&clientID, "client-id", "", "the app id the emulators accept (secret: SHOPTOKEN_EMULATE_SECRET)")
	return cmd
}

// splitAll splits comma lists and expands numeric ranges "a-b".
func splitAll(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			lo, hi, isRange := strings.Cut(s, "-")
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if isRange && err1 == nil && err2 == nil && b >= a && b-a < 10_000_000 {
				for i := a; i <= b; i++ {
					out = append(out, strconv.Itoa(i))
				}
				continue
			}
			if s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func (c *cli) emulate(ctx context.Context, listen string, names []string, opts []shoptokentest.Option, clientID string) error {
	ems := map[string]emulator{}
	defer func() {
		for _, e := range ems {
			e.Close()
		}
	}()
	var yz *shoptokentest.Youzan
	var ve *shoptokentest.Veapi
	var va *shoptokentest.VipAuth
	secretOf := func(def string) string {
		if s := c.getenv("SHOPTOKEN_EMULATE_SECRET"); s != "" {
			return s
		}
		return def
	}
	creds := func(defID, defSecret string) []shoptokentest.Option {
		if clientID == "" && c.getenv("SHOPTOKEN_EMULATE_SECRET") == "" {
			return opts
		}
		return append(opts[:len(opts):len(opts)], shoptokentest.WithCredentials(orDefault(clientID, defID), secretOf(defSecret)))
	}
	for _, n := range names {
		if ems[n] != nil {
			continue
		}
		switch n {
		case "youzan":
			yz = shoptokentest.NewYouzan(creds("id", "secret")...)
			ems[n] = yz
		case "vipauth":
			va = shoptokentest.NewVipAuth(creds("id", "secret")...)
			ems[n] = va
		case "veapi":
			ve = shoptokentest.NewVeapi(creds("vekey", "")...)
			ems[n] = ve
		case "vvtool":
			ems[n] = shoptokentest.NewVVTool(creds("account", "key")...)
		default:
			return usagef("emulate: no emulator of %q (youzan, vipauth, veapi, vvtool)", n)
		}
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return usagef("--listen: %v", err)
	}
	base := "http://" + ln.Addr().String()
	urls := map[string]string{}
	mux := http.NewServeMux()
	for n, e := range ems {
		urls[n] = base + "/" + n
		mux.Handle("/"+n+"/", http.StripPrefix("/"+n, e.Handler()))
	}
	if va != nil {
		urls["vipauth_oauth2"] = base + "/vipauth/oauth2"
	}
	ctl := &control{ems: ems, yz: yz, ve: ve, va: va}
	mux.HandleFunc("GET /_emulator", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, urls) })
	mux.HandleFunc("/_emulator/{platform}/{action}", ctl.serve)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	if c.jsonOut {
		_ = json.NewEncoder(c.stdout).Encode(map[string]any{"listen": ln.Addr().String(), "urls": urls})
	} else {
		fmt.Fprintf(c.stdout, "emulators listening on %s\n", base)
		for _, n := range names {
			fmt.Fprintf(c.stdout, "  %-8s %s\n", n, urls[n])
		}
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, e := range ems {
		e.Close() // ends waits on latency and FaultSlow, so Shutdown need not wait for them
	}
	_ = srv.Shutdown(sctx)
	return nil
}

// control serves /_emulator/{platform}/{action}.
type control struct {
	ems map[string]emulator
	yz  *shoptokentest.Youzan
	ve  *shoptokentest.Veapi
	va  *shoptokentest.VipAuth
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (ctl *control) serve(w http.ResponseWriter, r *http.Request) {
	p, action := r.PathValue("platform"), r.PathValue("action")
	e := ctl.ems[p]
	if e == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no emulator of " + strconv.Quote(p) + " is running"})
		return
	}
	if action == "stats" {
		writeJSON(w, http.StatusOK, e.Stats())
		return
	}
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use POST"})
		return
	}
	q := r.URL.Query()
	n := 1
	if s := q.Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "n must be a number >= 0"})
			return
		}
		n = v
	}
	bad := func(msg string) { writeJSON(w, http.StatusBadRequest, map[string]string{"error": msg}) }
	ok := func(extra ...string) {
		res := map[string]string{"ok": "true"}
		for i := 0; i+1 < len(extra); i += 2 {
			res[extra[i]] = extra[i+1]
		}
		writeJSON(w, http.StatusOK, res)
	}
	switch action {
	case "reset-stats":
		e.ResetStats()
	case "expire-now":
		e.ExpireNow()
	case "expire-refresh-now":
		switch {
		case p == "youzan":
			ctl.yz.ExpireRefreshNow()
		case p == "veapi":
			ctl.ve.ExpireRefreshNow()
		default:
			bad(p + " issues no refresh tokens")
			return
		}
	case "revoke":
		g := q.Get("grant")
		if g == "" {
			bad("grant is required")
			return
		}
		switch p {
		case "youzan":
			ctl.yz.Revoke(g)
		case "veapi":
			ctl.ve.Revoke(g)
		case "vipauth":
			ctl.va.RevokeUser(g)
		default:
			bad(p + " has no grants to revoke")
			return
		}
	case "rate-limit":
		if p != "youzan" {
			bad("rate-limit is emulated for youzan (4101) only")
			return
		}
		ctl.yz.FailAPIWith(4101, n)
	case "fail-next", "fail-api":
		f, err := shoptokentest.ParseFault(q.Get("fault"))
		if err != nil {
			bad(err.Error())
			return
		}
		if action == "fail-next" {
			e.FailNext(f, n)
		} else {
			e.FailAPI(f, n)
		}
	case "latency":
		d, err := time.ParseDuration(q.Get("d"))
		if err != nil {
			bad("d must be a duration such as 500ms")
			return
		}
		e.SetLatency(d)
	case "code":
		if p != "youzan" || q.Get("grant") == "" {
			bad("code is for youzan, with grant=kdt_id")
			return
		}
		ok("code", ctl.yz.NewCode(q.Get("grant")))
		return
	case "grant":
		if p != "veapi" || q.Get("subject") == "" {
			bad("grant is for veapi, with subject=")
			return
		}
		ok("refresh_token", ctl.ve.NewGrant(q.Get("subject")))
		return
	case "deny-next":
		if p != "vipauth" {
			bad("deny-next is for vipauth")
			return
		}
		ctl.va.DenyNext()
	case "consent-as":
		if p != "vipauth" || q.Get("open_id") == "" {
			bad("consent-as is for vipauth, with open_id=")
			return
		}
		ctl.va.ConsentAs(q.Get("open_id"))
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no action " + strconv.Quote(action)})
		return
	}
	ok()
}
