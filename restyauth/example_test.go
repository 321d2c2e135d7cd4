package restyauth_test

import (
	"context"
	"fmt"
	"log"

	"github.com/go-resty/resty/v2"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/restyauth"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/veapi"
	"github.com/shoptoken/shoptoken/youzan"
)

// A resty client calls the Youzan gateway with a shop's token. When the gateway stops accepting
// the token, the request is sent once more with a new one, and the caller sees only the answer.
func ExampleUse() {
	yz := shoptokentest.NewYouzan() // a local emulator: the example runs offline
	defer yz.Close()
	cfg := youzan.Config{ClientID: "id", ClientSecret: "secret", BaseURL: yz.URL}
	// No wait between token calls in this demo (Youzan's default minimum interval is 2 s).
	src, err := youzan.NewSource(cfg, shoptokentest.YouzanGrantID, shoptoken.WithMinInterval(0))
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	policy, err := youzan.APIPolicy(cfg) // access_token in the query; 4201-4203 are rejections
	if err != nil {
		log.Fatal(err)
	}
	client := resty.New()
	if err := restyauth.Use(client, src, policy); err != nil {
		log.Fatal(err)
	}

	var out struct {
		Data struct {
			Echo struct{ Tid string }
		}
	}
	for _, tid := range []string{"E123", "E124"} {
		resp, err := client.R().SetBody(map[string]string{"tid": tid}).SetResult(&out).
			Post(yz.URL + "/api/youzan.trade.get/4.0.2")
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(resp.StatusCode(), out.Data.Echo.Tid, "sent with the token:", resp.Request.RawRequest.URL.Query().Has("access_token"))
		yz.ExpireNow() // the gateway stops accepting the token
	}
	st := yz.Stats()
	fmt.Println("token calls:", st.TokenRequests, "API calls:", st.APICalls, "rejected:", st.Rejected)
	// Output:
	// 200 E123 sent with the token: false
	// 200 E124 sent with the token: false
	// token calls: 2 API calls: 3 rejected: 1
}

// One resty client serves every shop of an App: each request names its shop on its context.
func ExampleUseShops() {
	emu := shoptokentest.NewVeapi()
	defer emu.Close()
	cfg := veapi.Config{VEKey: "vekey", App: "acme", BaseURL: emu.URL}
	app, err := veapi.NewApp(cfg, shops.WithStore(shoptoken.NewMemoryStore()))
	if err != nil {
		log.Fatal(err)
	}
	defer app.Close()
	ctx := context.Background()
	for _, shop := range []string{"shop-1", "shop-2"} { // each shop's authorization, as granted
		if err := app.Set(ctx, shop, &shoptoken.Token{RefreshToken: emu.NewGrant(shop)}); err != nil {
			log.Fatal(err)
		}
	}
	policy, err := veapi.APIPolicy(cfg) // sessionkey and vekey in the query of the request sent
	if err != nil {
		log.Fatal(err)
	}
	client := resty.New()
	if err := restyauth.UseShops(client, app.Source, policy); err != nil {
		log.Fatal(err)
	}

	var out struct {
		Data struct{ Subject string }
	}
	for _, shop := range []string{"shop-2", "shop-1"} {
		_, err := client.R().SetContext(restyauth.WithShop(ctx, shop)).SetResult(&out).
			SetQueryParam("method", "vip.order.list").Get(emu.URL + "/vip/api")
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("answered for", out.Data.Subject)
	}
	// Output:
	// answered for shop-2
	// answered for shop-1
}
