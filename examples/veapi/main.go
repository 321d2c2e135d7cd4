package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/filestore"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/veapi"
)

func main() {
	var err error
	if os.Getenv("VEAPI_VEKEY") != "" {
		err = realMode()
	} else {
		err = offlineMode()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func offlineMode() error {
	ctx := context.Background()
	emu := shoptokentest.NewVeapi(shoptokentest.WithTokenTTL(time.Second))
	defer emu.Close()
	granted := emu.NewGrant("shop-1")
	fmt.Println("offline: veapi emulator at", emu.URL, "(tokens live 1s)")
	fmt.Println("granted:", shoptoken.Token{RefreshToken: granted})

	store := shoptoken.NewMemoryStore()
	cfg := veapi.Config{VEKey: "vekey", App: "example", BaseURL: emu.URL}
	rotations := make(chan shoptoken.Event, 16)
	// The one-second tokens need a smaller expiry skew and minimum interval than veapi's real
	// 90-day tokens; everything else is NewSource's default.
	short := []shoptoken.Option{
		shoptoken.WithStore(store), // under veapi/example/shop-1
		shoptoken.WithExpirySkew(50 * time.Millisecond),
		shoptoken.WithMinInterval(50 * time.Millisecond),
		shoptoken.WithEvents(func(e shoptoken.Event) {
			if e.Kind == shoptoken.EventPersisted || e.Kind == shoptoken.EventGrantLost {
				rotations <- e
			}
		}),
	}

	src, err := veapi.NewSource(cfg, "shop-1", append(short,
		shoptoken.WithToken(&shoptoken.Token{RefreshToken: granted}))...)
	if err != nil {
		return err
	}
	if _, err := src.Token(ctx); err != nil {
		return err
	}
	for n := 1; n <= 4; n++ {
		if err := printRotation(n, rotations); err != nil {
			return err
		}
	}
	shutdown(src)

	before := emu.Stats().TokenRequests
	fmt.Println("restart: a new Cache on the same store, no WithToken")
	src, err = veapi.NewSource(cfg, "shop-1", short...)
	if err != nil {
		return err
	}
	defer shutdown(src)
	tok, err := src.Token(ctx)
	if err != nil {
		return err
	}
	if emu.Stats().TokenRequests == before {
		fmt.Println("  loaded from the store, no platform call:", tok)
	} else {
		fmt.Println("  the stored token had expired: refreshed with the stored refresh token")
	}
	if err := printRotation(5, rotations); err != nil {
		return err
	}

	s := emu.Stats()
	fmt.Printf("done: %d refreshes, %d with a dead refresh token\n", s.Issued, s.DeadRefreshUsed)
	if s.DeadRefreshUsed != 0 {
		return errors.New("the chain was broken")
	}
	return nil
}

// printRotation waits for the next saved rotation and prints it.
func printRotation(n int, events <-chan shoptoken.Event) error {
	select {
	case e := <-events:
		if e.Kind != shoptoken.EventPersisted {
			return e.Err
		}
		fmt.Printf("rotation %d: saved as version %d: %v\n", n, e.Version, e.Token)
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("no rotation within 5s")
	}
}

func realMode() error {
	dir := os.Getenv("VEAPI_STORE_DIR")
	if dir == "" {
		// A refresh kills the refresh token it uses: running without somewhere to keep the new one
		// would end the merchant's authorization.
		return errors.New("VEAPI_STORE_DIR is required in real mode: the rotated refresh token must be saved")
	}
	shop := os.Getenv("VEAPI_SHOP")
	if shop == "" {
		shop = "default"
	}
	app := os.Getenv("VEAPI_APP")
	if app == "" {
		app = "example"
	}
	cfg := veapi.Config{
		VEKey:   os.Getenv("VEAPI_VEKEY"),
		App:     app,
		BaseURL: os.Getenv("VEAPI_BASE_URL"),
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	key := shoptoken.Key{Platform: "veapi", App: app, Shop: shop}.String()
	store, err := filestore.New(dir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Make sure the store can be written before anything is rotated.
	const probe = "veapi-example-probe"
	_, ver, _ := store.Load(ctx, probe) // 0 when absent; a crashed earlier run may have left one
	if _, err := store.Save(ctx, probe, &shoptoken.Token{AccessToken: "probe"}, ver); err != nil {
		return fmt.Errorf("store %s is not writable: %w", store.Dir(), err)
	}
	_ = store.Delete(ctx, probe)

	var mu sync.Mutex
	var refreshed bool
	opts := []shoptoken.Option{
		shoptoken.WithStore(store),
		shoptoken.WithEvents(func(e shoptoken.Event) {
			if e.Kind == shoptoken.EventRefreshed {
				mu.Lock()
				refreshed = true
				mu.Unlock()
			}
		}),
	}
	if rt := os.Getenv("VEAPI_REFRESH_TOKEN"); rt != "" {
		opts = append(opts, shoptoken.WithToken(&shoptoken.Token{RefreshToken: rt}))
	}
	src, err := veapi.NewSource(cfg, shop, opts...)
	if err != nil {
		return err
	}
	defer shutdown(src)

	tok, err := src.Token(ctx)
	if err != nil {
		return err
	}
	mu.Lock()
	didRefresh := refreshed
	mu.Unlock()
	fmt.Println("token:", tok)
	fmt.Println("access token expires:", tok.Expiry.Format(time.RFC3339), "grant ends:", tok.RefreshExpiry.Format(time.RFC3339))
	if !didRefresh {
		fmt.Printf("no refresh needed: the token stored in %s under %q is valid\n", store.Dir(), key)
		return nil
	}
	// The old refresh token is dead now: the new one must be in the store before we exit.
	// Shutdown waits for the save (retried at once if it failed) and tells us if it never happened.
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := src.Shutdown(sctx); err != nil && src.Pending() {
		// Last resort, so that the authorization is not lost with this process: write the refresh
		// token to a file only this user can read (os.CreateTemp makes it 0600) and say where. It
		// never goes to the terminal, where it would end up in logs.
		tok := src.Current()
		f, ferr := os.CreateTemp("", "veapi-refresh-token-*.txt")
		if ferr == nil {
			_, ferr = f.WriteString(tok.RefreshToken + "\n")
			if cerr := f.Close(); ferr == nil {
				ferr = cerr
			}
		}
		if ferr != nil {
			return fmt.Errorf("could not save the rotated token (%w), nor write it to a file (%v): the grant is lost", err, ferr)
		}
		fmt.Fprintf(os.Stderr, "could not save the rotated token (%v).\nIts refresh token, the only live one, is in %s: keep it, then delete the file.\n",
			err, f.Name())
		return err
	}
	_, version, _ := store.Load(ctx, key)
	fmt.Println("refreshed: the refresh token you started from is now dead.")
	fmt.Printf("the new one is saved in %s under key %q (version %d); use this store from now on.\n",
		store.Dir(), key, version)
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
