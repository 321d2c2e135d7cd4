package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/vvtool"
)

func main() { os.Exit(run()) }

func run() int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	if os.Getenv("VVTOOL_ACCOUNT") != "" || os.Getenv("VVTOOL_ACCESS_KEY") != "" {
		err = live(ctx)
	} else {
		err = offline(ctx)
	}
	switch {
	case errors.Is(err, errNotConfirmed):
		return 2
	case err != nil:
		fmt.Fprintln(os.Stderr, "vvtool example:", err)
		return 1
	}
	return 0
}

var errNotConfirmed = errors.New("VVTOOL_I_UNDERSTAND=1 is not set")

func offline(ctx context.Context) error {
	emu := shoptokentest.NewVVTool(shoptokentest.WithIPHeader("X-Forwarded-For"))
	defer emu.Close()
	fmt.Println("offline: vv-tool emulator at", emu.URL, "(set VVTOOL_ACCOUNT and VVTOOL_ACCESS_KEY for the real platform)")
	cfg := vvtool.Config{Account: "account", AccessKey: "key", TokenURL: emu.URL + "/oauth/token", HTTPClient: fromIP("10.0.0.1")}
	infoURL := emu.URL + "/tool/members/info"

	// Two workers, as two servers behind one egress IP would be, sharing one store (Redis in
	// production). The default minimum interval between fetches is 60 s; the demo shortens it.
	// The store key is built by the package from the Account ("vvtool/account"): every worker
	// finds the same token.
	store := shoptoken.NewMemoryStore()
	var workers []*vvtool.Client
	for range 2 {
		src, err := vvtool.NewSource(cfg, shoptoken.WithStore(store), shoptoken.WithMinInterval(300*time.Millisecond))
		if err != nil {
			return err
		}
		defer shutdown(src)
		cl, err := vvtool.NewClient(cfg, src) // API calls leave through cfg.HTTPClient too: 10.0.0.1
		if err != nil {
			return err
		}
		workers = append(workers, cl)
	}
	const perWorker = 50

	fmt.Printf("\n1. 2 workers, %d concurrent calls each, starting with no token\n", perWorker)
	if err := burst(ctx, workers, infoURL, perWorker); err != nil {
		return err
	}
	st := emu.Stats()
	fmt.Printf("   all %d calls succeeded; token fetches the platform saw: %d\n", st.APICalls, st.TokenRequests)
	if st.TokenRequests != 1 {
		return fmt.Errorf("want 1 fetch, the platform saw %d", st.TokenRequests)
	}

	fmt.Println("\n2. another server fetches a token with the same Account: ours is dead now")
	if _, err := cfg.FetchToken(ctx); err != nil {
		return err
	}
	emu.ResetStats()
	if err := burst(ctx, workers, infoURL, perWorker); err != nil {
		return err
	}
	st = emu.Stats()
	fmt.Printf("   all calls succeeded; %d were rejected (身份凭证无效) and sent again; recovery fetches: %d\n", st.Rejected, st.TokenRequests)
	if st.TokenRequests != 1 {
		return fmt.Errorf("want 1 recovery fetch, the platform saw %d", st.TokenRequests)
	}

	fmt.Println("\n3. a third worker whose calls leave from 10.0.0.2 while the token was fetched from 10.0.0.1")
	src, err := vvtool.NewSource(cfg) // its own Cache, default settings; fetches from 10.0.0.1
	if err != nil {
		return err
	}
	defer shutdown(src)
	emu.ResetStats()
	other := cfg
	other.HTTPClient = fromIP("10.0.0.2")
	elsewhere, err := vvtool.NewClient(other, src)
	if err != nil {
		return err
	}
	var last error
	for range 5 {
		last = call(ctx, elsewhere, infoURL)
	}
	if !errors.Is(last, shoptoken.ErrPermission) {
		return fmt.Errorf("want an IP binding error, got %v", last)
	}
	fmt.Printf("   5 calls failed, token fetches: %d; the error says:\n   %v\n", emu.Stats().TokenRequests, unwrapURL(last))
	fmt.Println("\nok")
	return nil
}

func burst(ctx context.Context, workers []*vvtool.Client, url string, n int) error {
	var failed atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for _, hc := range workers {
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := call(ctx, hc, url); err != nil {
					failed.Add(1)
					first.CompareAndSwap(nil, err)
				}
			}()
		}
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d calls failed, the first with: %v", n, first.Load())
	}
	return nil
}

// call makes one API call and fails unless the answer is HTTP 200 with code 0.
func call(ctx context.Context, hc *vvtool.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"code":0`) {
		return fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, body)
	}
	return nil
}

// unwrapURL drops the *url.Error around a transport error, for a shorter line.
func unwrapURL(err error) error {
	var e *shoptoken.Error
	if errors.As(err, &e) {
		return e
	}
	return err
}

// fromIP returns a client whose requests tell the emulator they come from ip.
func fromIP(ip string) *http.Client {
	return &http.Client{Transport: headerTransport{ip: ip}}
}

type headerTransport struct{ ip string }

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", h.ip)
	return http.DefaultTransport.RoundTrip(r)
}

func live(ctx context.Context) error {
	cfg := vvtool.Config{
		Account:    os.Getenv("VVTOOL_ACCOUNT"),
		AccessKey:  os.Getenv("VVTOOL_ACCESS_KEY"),
		TokenURL:   os.Getenv("VVTOOL_TOKEN_URL"),
		HTTPClient: &http.Client{Timeout: 20 * time.Second}, // the token request and the API call
	}
	infoURL := os.Getenv("VVTOOL_API_URL")
	if infoURL == "" {
		infoURL = "http://api.vv-tool.com/tool/members/info"
	}
	if os.Getenv("VVTOOL_I_UNDERSTAND") != "1" {
		fmt.Fprintln(os.Stderr, "WARNING: fetching a vv-tool token kills the token every other server using this Account holds,")
		fmt.Fprintln(os.Stderr, "and the new token works only from this machine's IP address. Their next calls will fail")
		fmt.Fprintln(os.Stderr, "with 身份凭证无效 until they fetch again. Set VVTOOL_I_UNDERSTAND=1 to go ahead.")
		return errNotConfirmed
	}
	src, err := vvtool.NewSource(cfg)
	if err != nil {
		return err
	}
	defer shutdown(src)
	hc, err := vvtool.NewClient(cfg, src)
	if err != nil {
		return err
	}
	fmt.Println("real platform: fetching a token for account", cfg.Account, "and calling", infoURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, infoURL, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return unwrapURL(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if tok := src.Current(); tok != nil {
		fmt.Printf("token: %v, fetched by %s (%s)\n", tok, tok.Extra[vvtool.ExtraFetchedBy], tok.Extra[vvtool.ExtraFetchedFrom])
	}
	fmt.Printf("HTTP %d: %.300s\n", resp.StatusCode, body)
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), "身份凭证无效") {
		return errors.New("the call did not succeed")
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
