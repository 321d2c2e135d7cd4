package readmecheck

// The packages the README's snippets use, imported here so that this module requires them (the
// snippets themselves are generated while the test runs).
import (
	_ "github.com/go-resty/resty/v2"
	_ "github.com/redis/go-redis/v9"
	_ "golang.org/x/oauth2"

	_ "github.com/shoptoken/shoptoken"
	_ "github.com/shoptoken/shoptoken/filestore"
	_ "github.com/shoptoken/shoptoken/otelshoptoken"
	_ "github.com/shoptoken/shoptoken/reauth"
	_ "github.com/shoptoken/shoptoken/redisstore"
	_ "github.com/shoptoken/shoptoken/restyauth"
	_ "github.com/shoptoken/shoptoken/seal"
	_ "github.com/shoptoken/shoptoken/shops"
	_ "github.com/shoptoken/shoptoken/veapi"
	_ "github.com/shoptoken/shoptoken/vipauth"
	_ "github.com/shoptoken/shoptoken/vvtool"
	_ "github.com/shoptoken/shoptoken/xoauth2"
	_ "github.com/shoptoken/shoptoken/youzan"
)
