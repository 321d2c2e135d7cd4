module github.com/shoptoken/shoptoken/bench

go 1.26.0

replace (
	github.com/shoptoken/shoptoken => ../
	github.com/shoptoken/shoptoken/redisstore => ../redisstore
)

require (
	github.com/shoptoken/shoptoken v0.0.0-00010101000000-000000000000
	github.com/shoptoken/shoptoken/redisstore v0.0.0-00010101000000-000000000000
)

require (
	github.com/go-resty/resty/v2 v2.16.5 // indirect
	golang.org/x/net v0.61.0 // indirect
)

require (
	cloud.google.com/go/auth v0.24.3
	cloud.google.com/go/compute/metadata v0.10.0 // indirect
	github.com/aws/aws-sdk-go-v2 v1.47.7
	github.com/aws/smithy-go v1.28.8 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dgryski/go-rendezvous v0.0.0-20200823014737-9f7001d12a5f // indirect
	github.com/googleapis/gax-go/v2 v2.27.0 // indirect
	github.com/redis/go-redis/v9 v9.17.3
	golang.org/x/oauth2 v0.37.0
	golang.org/x/sys v0.49.0 // indirect
)
