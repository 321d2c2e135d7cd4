package shoptoken_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoptoken/shoptoken"
)

func ExampleNewCache() {
	var calls atomic.Int64
	platform := shoptoken.RefresherFunc(func(ctx context.Context, current *shoptoken.Token, why shoptoken.Reason) (*shoptoken.Token, error) {
		calls.Add(1)
		return &shoptoken.Token{AccessToken: "2F5A520D12AA3E70337058A00C4B6F864BDC6704", Expiry: time.Now().Add(time.Hour)}, nil
	})
	src, err := shoptoken.NewCache(platform, shoptoken.WithEarlyRefresh(10*time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := src.Token(context.Background()); err != nil {
				log.Fatal(err)
			}
		}()
	}
	wg.Wait()
	tok, _ := src.Token(context.Background())
	fmt.Println("platform calls:", calls.Load())
	fmt.Println(tok.AccessToken == "2F5A520D12AA3E70337058A00C4B6F864BDC6704")
	fmt.Printf("%v\n", tok.AccessToken[:4]+"…")
	// Output:
	// platform calls: 1
	// true
	// 2F5A…
}

func ExampleToken_String() {
	tok := shoptoken.Token{AccessToken: "2F5A520D12AA3E70337058A00C4B6F864BDC6704", Subject: "42587152",
		Expiry: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	fmt.Println(tok)
	fmt.Printf("%+v\n", &tok)
	// Output:
	// Token{access_token: 2F5A…(40), expiry: 2026-12-01T00:00:00Z, subject: 42587152}
	// Token{access_token: 2F5A…(40), expiry: 2026-12-01T00:00:00Z, subject: 42587152}
}

func ExampleCache_Invalidate() {
	n := 0
	src, err := shoptoken.NewCache(shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
		n++
		return &shoptoken.Token{AccessToken: fmt.Sprintf("token-%d", n), Expiry: time.Now().Add(time.Hour)}, nil
	}), shoptoken.WithMinInterval(0))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	used, _ := src.Token(ctx)
	// Two requests were rejected with the same token: only the first report refreshes.
	a, _ := src.Invalidate(ctx, used)
	b, _ := src.Invalidate(ctx, used)
	fmt.Println(a.AccessToken, b.AccessToken, "platform calls:", n)
	// Output: token-2 token-2 platform calls: 2
}

func ExampleWithStore() {
	store := shoptoken.NewMemoryStore() // redisstore or filestore in production
	var calls atomic.Int64
	platform := shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
		calls.Add(1)
		return &shoptoken.Token{AccessToken: "shared-token-0123456789", Expiry: time.Now().Add(time.Hour)}, nil
	})
	// Two processes of a fleet: one platform call serves both.
	key := shoptoken.Key{Platform: "myplatform", App: "my-app-id", Shop: "88888"}
	worker1, err := shoptoken.NewCache(platform, shoptoken.WithKey(key), shoptoken.WithStore(store))
	if err != nil {
		log.Fatal(err)
	}
	worker2, _ := shoptoken.NewCache(platform, shoptoken.WithKey(key), shoptoken.WithStore(store))
	t1, _ := worker1.Token(context.Background())
	t2, _ := worker2.Token(context.Background())
	_, version, _ := store.Load(context.Background(), key.String())
	fmt.Println(t1.AccessToken == t2.AccessToken, "platform calls:", calls.Load(), "version:", version, "key:", key)
	// Output: true platform calls: 1 version: 1 key: myplatform/my-app-id/88888
}

func ExampleError() {
	var err error = &shoptoken.Error{Platform: "youzan", Op: "token", Code: "1000", Message: "应用信息错误",
		RequestID: "5f2c9a", Kind: shoptoken.ErrCredentials}
	err = fmt.Errorf("sync shop 88888: %w", err)
	var e *shoptoken.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.RequestID)
	}
	fmt.Println(errors.Is(err, shoptoken.ErrCredentials), shoptoken.IsPermanent(err))
	fmt.Println(err)
	// Output:
	// 1000 5f2c9a
	// true true
	// sync shop 88888: youzan: token: 1000 应用信息错误 (request_id 5f2c9a)
}

// Transport attaches the token to every request and, when the API rejects it, reports that very
// token (one refresh for any number of such answers) and sends the request once more. Here the API
// rejects the first token it sees.
func ExampleTransport() {
	var issued atomic.Int64
	src, err := shoptoken.NewCache(shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
		n := issued.Add(1)
		return &shoptoken.Token{AccessToken: fmt.Sprintf("token-%d-0123456789", n), Expiry: time.Now().Add(time.Hour)}, nil
	}), shoptoken.WithMinInterval(0))
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer token-1-0123456789" {
			w.WriteHeader(http.StatusUnauthorized) // the platform killed it
			return
		}
		fmt.Fprint(w, "orders for ", r.URL.Query().Get("shop"))
	}))
	defer api.Close()

	hc := &http.Client{Transport: &shoptoken.Transport{Source: src}} // Bearer, 401 = rejected
	resp, err := hc.Get(api.URL + "/orders?shop=42")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body), "tokens issued:", issued.Load())
	// Output: 200 orders for 42 tokens issued: 2
}
