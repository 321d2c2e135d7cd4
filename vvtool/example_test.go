package vvtool_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/vvtool"
)

// vv-tool has one token per Account and no shops: a fleet shares the Account's token through one
// Store, under the Key the package builds ("vvtool/<Account>"). There is no NewApp.
func ExampleNewSource() {
	emu := shoptokentest.NewVVTool() // a local vv-tool emulator: the example runs offline
	defer emu.Close()

	store := shoptoken.NewMemoryStore() // redisstore or filestore across servers
	src, err := vvtool.NewSource(vvtool.Config{
		Account:   "account",
		AccessKey: "key",
		TokenURL:  emu.URL + "/oauth/token",
	}, shoptoken.WithStore(store))
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()

	tok, err := src.Token(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.Subject, tok.TokenType, tok.Expiry.Sub(tok.IssuedAt).Hours()/24, "days")
	again, _ := src.Token(context.Background())
	fmt.Println("same token:", again == tok, "fetches:", emu.Stats().TokenRequests)
	stored, _, err := store.Load(context.Background(), src.Key().String())
	fmt.Println("stored under", src.Key(), stored.AccessToken == tok.AccessToken, err)
	// Output:
	// account Bearer 3000 days
	// same token: true fetches: 1
	// stored under vvtool/account true <nil>
}

func ExampleNewClient() {
	emu := shoptokentest.NewVVTool()
	defer emu.Close()
	cfg := vvtool.Config{Account: "account", AccessKey: "key", TokenURL: emu.URL + "/oauth/token"}
	// The default minimum interval between fetches is a minute; this example recovers at once.
	src, err := vvtool.NewSource(cfg, shoptoken.WithMinInterval(0))
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	cl, err := vvtool.NewClient(cfg, src)
	if err != nil {
		log.Fatal(err)
	}

	call := func() {
		req, _ := http.NewRequest(http.MethodGet, emu.URL+"/tool/members/info", nil)
		resp, err := cl.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, string(body))
	}
	call()
	// Another server fetches with the same Account: our token is dead. The next call is rejected,
	// fetches once and is sent again.
	if _, err := cfg.FetchToken(context.Background()); err != nil {
		log.Fatal(err)
	}
	call()
	st := emu.Stats()
	fmt.Println("issued:", st.Issued, "rejected:", st.Rejected)

	_, err = vvtool.NewClient(cfg, nil)
	fmt.Println(errors.Is(err, shoptoken.ErrBadRequest))
	// Output:
	// 200 {"code":0,"msg":"成功","data":{"account":"account","ip":"127.0.0.1"}}
	// 200 {"code":0,"msg":"成功","data":{"account":"account","ip":"127.0.0.1"}}
	// issued: 3 rejected: 1
	// true
}

func ExampleConfig_FetchToken() {
	emu := shoptokentest.NewVVTool()
	defer emu.Close()
	cfg := vvtool.Config{Account: "account", AccessKey: "key", TokenURL: emu.URL + "/api/proxy/oauth/token"}

	tok, err := cfg.FetchToken(context.Background()) // kills the Account's previous token
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(emu.Valid(tok.AccessToken), tok.Extra[vvtool.ExtraFetchedFrom])

	cfg.AccessKey = "wrong"
	_, err = cfg.FetchToken(context.Background())
	fmt.Println(errors.Is(err, shoptoken.ErrCredentials), err)
	// Output:
	// true 127.0.0.1
	// true vvtool: token: 400 client_id或client_secret错误
}

func ExampleRejected() {
	resp := &http.Response{
		StatusCode: http.StatusOK,
		Body:       io.NopCloser(strings.NewReader(`{"code":401,"msg":"身份凭证无效"}`)),
	}
	fmt.Println(vvtool.Rejected(resp))
	body, _ := io.ReadAll(resp.Body) // still readable
	fmt.Println(string(body))
	// Output:
	// true
	// {"code":401,"msg":"身份凭证无效"}
}
