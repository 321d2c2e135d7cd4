package shops_test

import (
	"context"
	"fmt"
	"log"
	"sync/atomic"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/shoptokentest"
)

// myPlatform describes a platform of your own to shops.New. (For the four built-in platforms,
// youzan.NewApp, veapi.NewApp and vipauth.NewApp do this.)
func myPlatform(calls *atomic.Int64, clk shoptoken.Clock) shops.Platform {
	return shops.Platform{
		Name: "myplatform",
		App:  "my-app-id", // a public id, never a secret
		Refresher: func(shop string) (shoptoken.Refresher, error) {
			return shoptoken.RefresherFunc(func(ctx context.Context, cur *shoptoken.Token, why shoptoken.Reason) (*shoptoken.Token, error) {
				calls.Add(1) // one platform call
				now := clk.Now()
				return &shoptoken.Token{AccessToken: fmt.Sprintf("token-of-%s-%d", shop, calls.Load()), IssuedAt: now,
					Expiry: now.Add(2 * time.Hour), Subject: shop}, nil
			}), nil
		},
		Options: []shoptoken.Option{shoptoken.WithEarlyRefresh(30 * time.Minute), shoptoken.WithJitter(0)},
		Clock:   clk,
	}
}

func ExampleNew() {
	var calls atomic.Int64
	store := shoptoken.NewMemoryStore() // redisstore, sqlstore or filestore in production
	app, err := shops.New(myPlatform(&calls, shoptokentest.NewClock(time.Now())), shops.WithStore(store))
	if err != nil {
		log.Fatal(err)
	}
	defer app.Shutdown(context.Background())

	ctx := context.Background()
	for range 3 { // three order syncs of the same shop: one platform call
		if _, err := app.Token(ctx, "shop-42"); err != nil {
			log.Fatal(err)
		}
	}
	tok, _ := app.Token(ctx, "shop-42")
	fmt.Println("key:", app.Key("shop-42"))
	fmt.Println("subject:", tok.Subject, "platform calls:", calls.Load())
	// Output:
	// key: myplatform/my-app-id/shop-42
	// subject: shop-42 platform calls: 1
}

// A Keeper (Sweep, or Run in a loop) refreshes the grants of shops nobody asks for, before they
// lapse; here, a later process that holds nothing in memory sweeps two hours' worth of due shops.
func ExampleApp_Sweep() {
	var calls atomic.Int64
	clk := shoptokentest.NewClock(time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	store := shoptoken.NewMemoryStore()
	ctx := context.Background()

	first, err := shops.New(myPlatform(&calls, clk), shops.WithStore(store))
	if err != nil {
		log.Fatal(err)
	}
	for _, shop := range []string{"a", "b", "c"} {
		if _, err := first.Token(ctx, shop); err != nil {
			log.Fatal(err)
		}
	}
	_ = first.Shutdown(ctx) // writes the due times

	keeper, err := shops.New(myPlatform(&calls, clk), shops.WithStore(store), shops.WithRate(1000))
	if err != nil {
		log.Fatal(err)
	}
	defer keeper.Shutdown(ctx)
	clk.Advance(100 * time.Minute) // past each token's planned refresh, 30 minutes before expiry
	res, err := keeper.Sweep(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("due:", res.Due, "refreshed:", res.Refreshed, "platform calls:", calls.Load())
	// Output: due: 3 refreshed: 3 platform calls: 6
}
