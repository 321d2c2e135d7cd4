package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoptoken/shoptoken"
)

// engineDemo shows the engine on its own, against a local fake platform: a stampede, warm reads,
// a refresh ahead of expiry that nobody waits for, a failure while the token is valid, and
// compare-and-refresh across two "processes" sharing a store.
func engineDemo(ctx context.Context, p *printer) error {
	var calls atomic.Int64
	var failing atomic.Bool
	platform := shoptoken.RefresherFunc(func(ctx context.Context, cur *shoptoken.Token, why shoptoken.Reason) (*shoptoken.Token, error) {
		n := calls.Add(1)
		time.Sleep(50 * time.Millisecond) // a slow platform
		if failing.Load() {
			return nil, &shoptoken.Error{Platform: "fake", Op: "refresh", Kind: shoptoken.ErrUnavailable, Message: "502 bad gateway"}
		}
		return &shoptoken.Token{AccessToken: fmt.Sprintf("FAKE%036d", n), Expiry: time.Now().Add(2 * time.Second)}, nil
	})
	store := shoptoken.NewMemoryStore()
	src, err := shoptoken.NewCache(platform, shoptoken.WithStore(store), shoptoken.WithKey(shoptoken.Key{Platform: "fake", App: "demo", Shop: "shop-1"}),
		shoptoken.WithEarlyRefresh(time.Second), shoptoken.WithJitter(0), shoptoken.WithMinInterval(0),
		shoptoken.WithExpirySkew(0), shoptoken.WithBackoff(100*time.Millisecond, 200*time.Millisecond))
	if err != nil {
		return err
	}

	// 1. Stampede on a cold cache.
	var wg sync.WaitGroup
	for range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = src.Token(ctx)
		}()
	}
	wg.Wait()
	p.row("engine", "1000 callers on a cold cache", fmt.Sprintf("%d platform call", calls.Load()), calls.Load() == 1)

	// 2. Warm reads.
	start := time.Now()
	const reads = 1_000_000
	for range reads {
		if _, err := src.Token(ctx); err != nil {
			return err
		}
	}
	per := time.Since(start) / reads
	p.row("engine", "1,000,000 warm reads", fmt.Sprintf("%v each, %d platform call", per, calls.Load()), calls.Load() == 1)

	// 3. Refresh ahead: the token lives 2 s; from 1 s before expiry one background refresh runs.
	first, _ := src.Token(ctx)
	var worst time.Duration
	for time.Since(start) < 1600*time.Millisecond {
		t := time.Now()
		_, _ = src.Token(ctx)
		worst = max(worst, time.Since(t))
		time.Sleep(time.Millisecond)
	}
	now, _ := src.Token(ctx)
	p.row("engine", "refresh ahead of expiry", fmt.Sprintf("new token %v, slowest caller %v", now.AccessToken != first.AccessToken, worst.Round(time.Microsecond)),
		now.AccessToken != first.AccessToken && worst < 20*time.Millisecond)

	// 4. The platform fails while the token is still valid: callers don't notice.
	failing.Store(true)
	errs := 0
	deadline := time.Now().Add(700 * time.Millisecond)
	for time.Now().Before(deadline) {
		if _, err := src.Token(ctx); err != nil {
			errs++
		}
		time.Sleep(time.Millisecond)
	}
	failing.Store(false)
	p.row("engine", "platform down while token valid", fmt.Sprintf("%d caller errors", errs), errs == 0)
	time.Sleep(300 * time.Millisecond) // the backed-off background retry now succeeds

	src.Close() // no more background refreshes from here: the next count is exact

	// 5. Two processes share the store; both see the same token rejected; one refresh.
	shared := []shoptoken.Option{shoptoken.WithStore(store), shoptoken.WithKey(shoptoken.Key{Platform: "fake", App: "demo", Shop: "shop-2"}), shoptoken.WithMinInterval(0), shoptoken.WithExpirySkew(0)}
	one, err := shoptoken.NewCache(platform, shared...)
	if err != nil {
		return err
	}
	defer one.Close()
	other, err := shoptoken.NewCache(platform, shared...)
	if err != nil {
		return err
	}
	defer other.Close()
	mine, err := one.Token(ctx)
	if err != nil {
		return err
	}
	theirs, err := other.Token(ctx)
	if err != nil {
		return err
	}
	before := calls.Load()
	a, err := one.Invalidate(ctx, mine)
	if err != nil {
		return err
	}
	b, err := other.Invalidate(ctx, theirs)
	if err != nil {
		return err
	}
	p.row("engine", "2 processes reject the same token", fmt.Sprintf("%d platform call, same new token: %v", calls.Load()-before, a.AccessToken == b.AccessToken),
		calls.Load()-before == 1 && a.AccessToken == b.AccessToken)
	shown := fmt.Sprint(a)
	p.row("engine", "what a log line shows of a token", shown, !strings.Contains(shown, a.AccessToken))
	return nil
}
