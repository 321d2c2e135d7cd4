module github.com/shoptoken/shoptoken/internal/readmecheck

go 1.26.0

replace github.com/shoptoken/shoptoken => ../..

require (
	github.com/redis/go-redis/v9 v9.23.0
	github.com/shoptoken/shoptoken v0.0.0-00010101000000-000000000000
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-resty/resty/v2 v2.16.5 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/net v0.33.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)
