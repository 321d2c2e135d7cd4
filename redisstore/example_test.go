package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/redisstore"
)

// When Redis cannot be reached, Load and Save fail with an error that is neither ErrNotFound nor
// ErrConflict, so a caller never mistakes an outage for "no token" or "someone else won"; KindOf
// classifies it as ErrUnavailable. (The example points at a port nothing listens on, so it runs
// without Redis.)
func Example_redisDown() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
	defer rdb.Close()
	store := redisstore.New(rdb, redisstore.WithPrefix("myapp:"))
	defer store.Close()

	ctx := context.Background()
	_, _, err := store.Load(ctx, "youzan:88888")
	fmt.Println("not found:", errors.Is(err, shoptoken.ErrNotFound))
	_, err = store.Save(ctx, "youzan:88888", &shoptoken.Token{AccessToken: "..."}, 0)
	fmt.Println("conflict:", errors.Is(err, shoptoken.ErrConflict))
	fmt.Println("unavailable:", shoptoken.KindOf(err) == shoptoken.ErrUnavailable)
	// Output:
	// not found: false
	// conflict: false
	// unavailable: true
}
