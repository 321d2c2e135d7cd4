module github.com/shoptoken/shoptoken/internal/readmecheck

go 1.24.0

replace (
	github.com/shoptoken/shoptoken => ../..
	github.com/shoptoken/shoptoken/otelshoptoken => ../../otelshoptoken
	github.com/shoptoken/shoptoken/redisstore => ../../redisstore
	github.com/shoptoken/shoptoken/xoauth2 => ../../xoauth2
)

require (
	github.com/go-resty/resty/v2 v2.16.5
	github.com/redis/go-redis/v9 v9.17.3
	github.com/shoptoken/shoptoken v0.0.0-00010101000000-000000000000
	github.com/shoptoken/shoptoken/otelshoptoken v0.0.0-00010101000000-000000000000
	github.com/shoptoken/shoptoken/redisstore v0.0.0-00010101000000-000000000000
	github.com/shoptoken/shoptoken/xoauth2 v0.0.0-00010101000000-000000000000
	golang.org/x/oauth2 v0.30.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dgryski/go-rendezvous v0.0.0-20200823014737-9f7001d12a5f // indirect
	github.com/go-logr/logr v1.4.3 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	go.opentelemetry.io/auto/sdk v1.2.1 // indirect
	go.opentelemetry.io/otel v1.41.0 // indirect
	go.opentelemetry.io/otel/metric v1.41.0 // indirect
	go.opentelemetry.io/otel/trace v1.41.0 // indirect
	golang.org/x/net v0.33.0 // indirect
)
