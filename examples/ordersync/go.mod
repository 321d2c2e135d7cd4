module github.com/shoptoken/shoptoken/examples/ordersync

go 1.24

// A module of its own because it uses Redis (redisstore, a module of its own): the SDK's root module
// never requires go-redis. The replace directives build it from this checkout.
replace (
	github.com/shoptoken/shoptoken => ../..
	github.com/shoptoken/shoptoken/redisstore => ../../redisstore
)

require (
	github.com/redis/go-redis/v9 v9.17.3
	github.com/shoptoken/shoptoken v0.0.0-00010101000000-000000000000
	github.com/shoptoken/shoptoken/redisstore v0.0.0-00010101000000-000000000000
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dgryski/go-rendezvous v0.0.0-20200823014737-9f7001d12a5f // indirect
	github.com/go-resty/resty/v2 v2.16.5 // indirect
	golang.org/x/net v0.33.0 // indirect
)
