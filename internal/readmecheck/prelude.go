package readmecheck

// header starts every generated snippet file: the imports snippets use, each used once, so that a
// snippet need not use it.
const header = `package snippets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/filestore"
	"github.com/shoptoken/shoptoken/otelshoptoken"
	"github.com/shoptoken/shoptoken/restyauth"
	"github.com/shoptoken/shoptoken/xoauth2"
	"github.com/shoptoken/shoptoken/reauth"
	"github.com/shoptoken/shoptoken/redisstore"
	"github.com/shoptoken/shoptoken/seal"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/veapi"
	"github.com/shoptoken/shoptoken/vipauth"
	"github.com/shoptoken/shoptoken/vvtool"
	"github.com/shoptoken/shoptoken/youzan"
)

var (
	_ = context.Background
	_ = errors.Is
	_ = fmt.Sprint
	_ = log.Print
	_ = slog.Default
	_ = http.NewRequest
	_ = os.Getenv
	_ sync.Mutex
	_ = time.Now
	_ = redis.NewClient
	_ = resty.New
	_ = oauth2.NewClient
	_ = otelshoptoken.New
	_ = restyauth.Use
	_ = xoauth2.NewSource
	_ = shoptoken.NewCache
	_ = filestore.New
	_ = reauth.New
	_ = redisstore.New
	_ = seal.New
	_ = shops.New
	_ = veapi.NewApp
	_ = vipauth.NewApp
	_ = vvtool.NewSource
	_ = youzan.NewApp
	_ *sql.DB
)

`

// prelude declares the names the snippets take as given.
const prelude = `package snippets

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/seal"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/veapi"
	"github.com/shoptoken/shoptoken/vipauth"
	"github.com/shoptoken/shoptoken/vvtool"
	"github.com/shoptoken/shoptoken/youzan"
)

// What the snippets take as given.
var (
	ctx                                 = context.Background()
	rdb                                 redis.UniversalClient
	store                               shoptoken.Store
	logger                              = slog.Default()
	id, secret, shop, kdtID, tid        string
	vekey, account, accessKey, openID   string
	granted, code, state, key, shopID   string
	src, cache                          *shoptoken.Cache
	cookie                              *http.Cookie
	req                                 *http.Request
	app                                 *shops.App
	clientID, clientSecret, tokenURL    string
	apiURL                              string
	kdtIDs                              []string
	rejected                            *shoptoken.Token
	youzanCfg                           youzan.Config
	veapiCfg                            veapi.Config
	vvtoolCfg                           vvtool.Config
	vipCfg                              vipauth.Config
	kr                                  *seal.Keyring
	newKey32, oldKey32, reauthKey       []byte
	db                                  *sql.DB
	w                                   http.ResponseWriter
	r                                   *http.Request
)

func notifyMerchant(string)        {}
func retryLater()                  {}
func alert(string, error)          {}
func askToReauthorize(string)      {}
func callMyPlatform(context.Context, *shoptoken.Token) (*shoptoken.Token, error) { return nil, nil }
`
