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
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/veapi"
)

func ExampleNewSource() {
	ve := shoptokentest.NewVeapi() // a local emulator of veapi.cn: the example runs offline
	defer ve.Close()
	granted := ve.NewGrant("shop-1") // the refresh token the merchant's authorization gave you

	store := shoptoken.NewMemoryStore() // in production: redisstore or filestore
	src, err := veapi.NewSource(veapi.Config{VEKey: "vekey", BaseURL: ve.URL},
		shoptoken.WithToken(&shoptoken.Token{RefreshToken: granted, Subject: "shop-1"}),
		shoptoken.WithStore(store, "veapi/shop-1"),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()

	tok, err := src.Token(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	stored, version, _ := store.Load(context.Background(), "veapi/shop-1")
	fmt.Println(tok.Subject, tok.Extra["status"], ve.Valid(tok.AccessToken))
	fmt.Println("rotated:", tok.RefreshToken != granted, "stored:", stored.RefreshToken == tok.RefreshToken, "version:", version)
	// Output:
	// shop-1 NORMAL true
	// rotated: true stored: true version: 2
}

func ExampleNewSource_noToken() {
	ve := shoptokentest.NewVeapi()
	defer ve.Close()
	src, err := veapi.NewSource(veapi.Config{VEKey: "vekey", BaseURL: ve.URL},
		shoptoken.WithStore(shoptoken.NewMemoryStore(), "veapi/shop-2"))
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
	cfg := veapi.Config{VEKey: "vekey", BaseURL: ve.URL}
	held, err := cfg.Refresh(context.Background(), ve.NewGrant("shop-1")) // a token you hold
	if err != nil {
		log.Fatal(err)
	}
	held.Subject = "shop-1"
	src, err := veapi.NewSource(cfg, shoptoken.WithToken(held),
		shoptoken.WithStore(shoptoken.NewMemoryStore(), "veapi/shop-1"))
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	// sessionkey=<access token> and vekey go on the copy of each request that is sent: the URL
	// below, resp.Request and any *url.Error Go builds from it hold neither.
	hc, err := veapi.NewClient(cfg, src, nil)
	if err != nil {
		log.Fatal(err)
	}

	ve.ExpireNow() // veapi stops accepting the token: the client refreshes once and retries
	resp, err := hc.Get(ve.URL + "/vip/api?method=vip.order.list")
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
