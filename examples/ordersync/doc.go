// Ordersync is an order-sync job for hundreds of shops on two platforms in one process: 200
// Youzan shops (one app, silent authorization by kdt_id) and 120 Vipshop shops through veapi (one
// account, rotating refresh tokens), sharing one store and one key prefix, each app with its own
// Keeper, the engine's events turned into counters, and a summary at the end.
//
// It runs offline against the built-in emulators. With a Redis at 127.0.0.1:6379 (or REDIS_ADDR)
// it keeps the tokens and due times there, under a fresh random prefix it deletes afterwards;
// without one it uses the in-memory store. Midway, both platforms expire every token at once (the
// kind of event that turns into a storm of platform calls without shoptoken): each shop's token is
// fetched again once, by one worker, and no order call fails for good.
//
//	cd examples/ordersync && go run .
//
// It is a module of its own (its go.mod builds it from this checkout) because it uses redisstore,
// which is one too: the SDK's own module never requires go-redis.
//
// What it shows: shoptoken.Key names every token (youzan/<client id>/<kdt_id>,
// veapi/<account>/<shop>), so two platforms share one store and one prefix without crossing; each
// App's Keeper sees only its own shops; the App is built once per app and serves every shop (the
// shop is a parameter); shutting down waits for refreshes in flight.
package main
