package bench

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shoptoken/shoptoken"
)

// BenchmarkMemoryPerShop: 100 000 shops, each with a Cache in a Registry holding a realistic
// Youzan token (32-char access and refresh tokens, an 8-digit subject, 7-day expiry, the seed's 52
// scopes parsed from JSON per shop) whose refresh-ahead timer is armed. Reported: heap bytes per
// shop (goal ≤ 1024).
func BenchmarkMemoryPerShop(b *testing.B) {
	const shops = 100_000
	for b.Loop() {
		platform := shoptoken.RefresherFunc(func(context.Context, *shoptoken.Token, shoptoken.Reason) (*shoptoken.Token, error) {
			return nil, fmt.Errorf("not called")
		})
		exp := time.Now().Add(7 * 24 * time.Hour)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		reg := shoptoken.NewRegistry(func(key string, opts ...shoptoken.Option) (*shoptoken.Cache, error) {
			tok := &shoptoken.Token{
				AccessToken:  fmt.Sprintf("%032x", len(key)*7919+int(key[len(key)-1])),
				RefreshToken: fmt.Sprintf("%032x", len(key)*104729),
				Expiry:       exp, Subject: key,
				Scope: strings.Fields(youzanScope), // a fresh copy per shop, as decoding gives
			}
			return shoptoken.NewCache(platform, append([]shoptoken.Option{shoptoken.WithToken(tok),
				shoptoken.WithEarlyRefresh(24 * time.Hour)}, opts...)...)
		})
		for i := range shops {
			if _, err := reg.Token(context.Background(), fmt.Sprintf("%08d", 40000000+i)); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/shops, "bytes/shop")
		runtime.KeepAlive(reg)
		reg.Close()
	}
}

// youzanScope is the scope string of the Youzan seed's example answer.
const youzanScope = "beauty_appointment beauty_cashier beauty_item beauty_member beauty_order beauty_shop beauty_staff beauty_stock buyer_bill circle coupon coupon_advanced crm_advanced cross_boarder customer extension_analysis item item_category item_hotel item_standard ka_customization level_membership logistics mei_promoter multi_store open_market open_robot pay-customs-declaration pay_qrcode points retail-scrm retail_goods retail_product retail_shop retail_stock retail_supplier retail_trade reviews salesman selffetchcode seller_refund shop storage stored_value_card tag tags trade trade-delivery trade_advanced trade_virtual user virtualticket"
