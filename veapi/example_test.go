package veapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/veapi"
)

func ExampleNewSource() {
	ve := shoptokentest.NewVeapi() // a local emulator of veapi.cn: the example runs offline
	defer ve.Close()
	granted := ve.NewGrant("shop-1") // the refresh token the merchant's authorization gave you

	store := shoptoken.NewMemoryStore() // in production: redisstore or filestore
	src, err := veapi.NewSource(veapi.Config{VEKey: "vekey", App: "acme", BaseURL: ve.URL}, "shop-1",
		shoptoken.WithToken(&shoptoken.Token{RefreshToken: granted}),
		shoptoken.WithStore(store),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()

	tok, err := src.Token(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	stored, version, _ := store.Load(context.Background(), src.Key().String())
	fmt.Println(src.Key(), tok.Subject, tok.Extra["status"], ve.Valid(tok.AccessToken))
	fmt.Println("rotated:", tok.RefreshToken != granted, "stored:", stored.RefreshToken == tok.RefreshToken, "version:", version)
	// Output:
	// veapi/acme/shop-1 shop-1 NORMAL true
	// rotated: true stored: true version: 2
}

func ExampleNewSource_noToken() {
	ve := shoptokentest.NewVeapi()
	defer ve.Close()
	src, err := veapi.NewSource(veapi.Config{VEKey: "vekey", App: "acme", BaseURL: ve.URL}, "shop-2",
		shoptoken.WithStore(shoptoken.NewMemoryStore()))
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()

	_, err = src.Token(context.Background())
	fmt.Println(err)
	fmt.Println(errors.Is(err, shoptoken.ErrReauthorize), ve.Stats().TokenRequests)
	// Output:
	// veapi: refresh: no refresh token: authorize the shop first
	// true 0
}

func ExampleConfig_Refresh() {
	ve := shoptokentest.NewVeapi()
	defer ve.Close()
	granted := ve.NewGrant("shop-1")
	cfg := veapi.Config{VEKey: "vekey", BaseURL: ve.URL}

	tok, err := cfg.Refresh(context.Background(), granted)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(time.Until(tok.Expiry).Round(24*time.Hour), time.Until(tok.RefreshExpiry).Round(24*time.Hour))

	// The refresh token sent is dead now: only tok.RefreshToken continues the chain.
	_, err = cfg.Refresh(context.Background(), granted)
	var e *shoptoken.Error
	if errors.As(err, &e) {
		fmt.Println(errors.Is(err, shoptoken.ErrReauthorize), e.Code, e.Message)
	}
	// Output:
	// 2160h0m0s 4320h0m0s
	// true 10012 refresh_token已失效
}

func ExampleNewClient() {
	ve := shoptokentest.NewVeapi()
	defer ve.Close()
	cfg := veapi.Config{VEKey: "vekey", App: "acme", BaseURL: ve.URL}
	held, err := cfg.Refresh(context.Background(), ve.NewGrant("shop-1")) // a token you hold
	if err != nil {
		log.Fatal(err)
	}
	src, err := veapi.NewSource(cfg, "shop-1", shoptoken.WithToken(held),
		shoptoken.WithStore(shoptoken.NewMemoryStore()))
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	// sessionkey=<access token> and vekey go on the copy of each request that is sent: the URL
	// below, resp.Request and any *url.Error Go builds from it hold neither.
	api, err := veapi.NewClient(cfg, src)
	if err != nil {
		log.Fatal(err)
	}

	ve.ExpireNow() // veapi stops accepting the token: the client refreshes once and retries
	req, err := http.NewRequest(http.MethodGet, ve.URL+"/vip/api?method=vip.order.list", nil)
	if err != nil {
		log.Fatal(err)
	}
	resp, err := api.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var answer struct {
		Error string `json:"error"`
		Data  struct {
			Subject string `json:"subject"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode == http.StatusOK, answer.Error, answer.Data.Subject, resp.Request.URL.RawQuery)
	fmt.Println("refreshes:", ve.Stats().Issued)
	// Output:
	// true 0 shop-1 method=vip.order.list
	// refreshes: 2
}

func ExampleNewApp() {
	ve := shoptokentest.NewVeapi()
	defer ve.Close()
	store := shoptoken.NewMemoryStore() // in production: redisstore, shared by every process
	app, err := veapi.NewApp(veapi.Config{VEKey: "vekey", App: "acme", BaseURL: ve.URL}, shops.WithStore(store))
	if err != nil {
		log.Fatal(err)
	}
	defer app.Close()
	ctx := context.Background()

	// Each shop's chain starts from the refresh token its authorization gave.
	for _, shop := range []string{"shop-1", "shop-2", "shop-3"} {
		if err := app.Set(ctx, shop, &shoptoken.Token{RefreshToken: ve.NewGrant(shop)}); err != nil {
			log.Fatal(err)
		}
	}
	tok, err := app.Token(ctx, "shop-2") // redeems shop-2's refresh token, saves the rotation first
	if err != nil {
		log.Fatal(err)
	}
	stored, _, _ := store.Load(ctx, app.Key("shop-2").String())
	fmt.Println(app.Key("shop-2"), tok.Subject, ve.Valid(tok.AccessToken), stored.RefreshToken == tok.RefreshToken)

	// One Client per call is fine: every Client of the App shares its HTTP client and state.
	req, err := http.NewRequest(http.MethodGet, ve.URL+"/vip/api?method=vip.order.list", nil)
	if err != nil {
		log.Fatal(err)
	}
	resp, err := app.Client("shop-3").Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var answer struct {
		Data struct {
			Subject string `json:"subject"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		log.Fatal(err)
	}
	fmt.Println(answer.Data.Subject, "refreshes:", ve.Stats().Issued)
	// Output:
	// veapi/acme/shop-2 shop-2 true true
	// shop-3 refreshes: 2
}

func ExampleNewClient_staticSource() {
	ve := shoptokentest.NewVeapi()
	defer ve.Close()
	cfg := veapi.Config{VEKey: "vekey", BaseURL: ve.URL}
	held, err := cfg.Refresh(context.Background(), ve.NewGrant("shop-1")) // a token managed elsewhere
	if err != nil {
		log.Fatal(err)
	}
	api, err := veapi.NewClient(cfg, shoptoken.StaticSource(held))
	if err != nil {
		log.Fatal(err)
	}
	get := func() string {
		resp, err := api.HTTPClient().Get(ve.URL + "/vip/api")
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		var answer struct {
			Error string `json:"error"`
			Msg   string `json:"msg"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
			log.Fatal(err)
		}
		return answer.Error + " " + answer.Msg
	}
	fmt.Println(get())
	ve.ExpireNow() // a StaticSource cannot be refreshed: the API's refusal is handed back
	fmt.Println(get(), "refreshes:", ve.Stats().Issued)
	// Output:
	// 0 ok
	// 10021 sessionkey已过期 refreshes: 1
}
