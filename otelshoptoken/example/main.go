// Command example serves shoptoken's OpenTelemetry metrics in Prometheus format. It runs offline
// against the Youzan emulator: an App of 20 shops fetches their tokens, calls an API that answers
// 4101 (too many requests) twice, loses one grant and sweeps once; then the example scrapes its
// own /metrics endpoint, prints the shoptoken lines and the spans recorded, and exits.
//
// It is a module of its own so that the Prometheus exporter and client stay out of the module
// graph of programs that import otelshoptoken.
//
//	go run ./otelshoptoken/example
package main

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	promexporter "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/otelshoptoken"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/youzan"
)

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	// The program's SDK: metrics to a Prometheus registry, spans to an in-memory recorder (a real
	// program exports them, e.g. with OTLP). Installed as the globals, which otelshoptoken.New uses.
	reg := prometheus.NewRegistry()
	exporter, err := promexporter.New(promexporter.WithRegisterer(reg), promexporter.WithoutTargetInfo(),
		promexporter.WithoutScopeInfo())
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer func() { _ = mp.Shutdown(ctx); _ = tp.Shutdown(ctx) }()
	otel.SetMeterProvider(mp)
	otel.SetTracerProvider(tp)

	shopIDs := make([]string, 20)
	for i := range shopIDs {
		shopIDs[i] = strconv.Itoa(60000000 + i)
	}
	yz := shoptokentest.NewYouzan(shoptokentest.WithGrants(shopIDs...)) // accepts "id" / "secret"
	defer yz.Close()

	tel, err := otelshoptoken.New()
	if err != nil {
		return err
	}
	cfg := youzan.Config{ClientID: "id", ClientSecret: "secret", BaseURL: yz.URL}
	cfg.HTTPClient = tel.HTTPClient(cfg.HTTPClient) // a span per platform HTTP call
	cfg.OnRateLimited = tel.RateLimited             // 4101 back-offs
	app, err := youzan.NewApp(cfg, shops.WithStore(shoptoken.NewMemoryStore()), tel.AppOption())
	if err != nil {
		return err
	}
	defer app.Close()
	stop := tel.Observe(app) // gauges of the tokens the App holds
	defer stop()

	ctx, span := tp.Tracer("example").Start(ctx, "ordersync")
	for _, shop := range shopIDs {
		if _, err := app.Token(ctx, shop); err != nil {
			return err
		}
	}
	yz.FailAPIWith(4101, 2)
	for range 2 {
		if err := app.Call(ctx, shopIDs[0], "youzan.trade.get", "4.0.2", nil, nil); err == nil {
			return fmt.Errorf("want a 4101")
		}
	}
	yz.Revoke(shopIDs[1]) // the merchant cancelled the authorization
	tok, err := app.Token(ctx, shopIDs[1])
	if err != nil {
		return err
	}
	if _, err := app.Invalidate(ctx, shopIDs[1], tok); err == nil {
		return fmt.Errorf("want the grant lost")
	}
	if _, err := app.Sweep(ctx); err != nil {
		return err
	}
	span.End()

	// Scrape the metrics as Prometheus would.
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	printed := 0
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "shoptoken_") || strings.Contains(line, "_bucket{") {
			continue // comments, other scopes' metrics, histogram buckets
		}
		fmt.Println(line)
		printed++
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if printed == 0 {
		return fmt.Errorf("no shoptoken metric was served")
	}
	counts := map[string]int{}
	for _, s := range spans.Ended() {
		counts[s.Name()]++
	}
	fmt.Printf("spans: %d shoptoken.refresh, %d HTTP POST, under %d caller span\n",
		counts["shoptoken.refresh"], counts["POST"], counts["ordersync"])
	return nil
}
