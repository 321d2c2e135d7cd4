package otelshoptoken_test

import (
	"context"
	"fmt"
	"log"
	"slices"
	"strings"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/otelshoptoken"
	"github.com/shoptoken/shoptoken/shops"
	"github.com/shoptoken/shoptoken/shoptokentest"
	"github.com/shoptoken/shoptoken/youzan"
)

// An App instrumented with AppOption and observed: two shops' tokens fetched, read back with the
// SDK's in-memory reader (a program would use an exporter: Prometheus, OTLP).
func ExampleTelemetry_AppOption() {
	reader := sdkmetric.NewManualReader()
	tel, err := otelshoptoken.New(otelshoptoken.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	if err != nil {
		log.Fatal(err)
	}
	yz := shoptokentest.NewYouzan(shoptokentest.WithGrants("88888", "88889")) // a local emulator
	defer yz.Close()
	cfg := youzan.Config{ClientID: "id", ClientSecret: "secret", BaseURL: yz.URL}
	cfg.HTTPClient = tel.HTTPClient(nil)
	cfg.OnRateLimited = tel.RateLimited
	app, err := youzan.NewApp(cfg, shops.WithStore(shoptoken.NewMemoryStore()), tel.AppOption())
	if err != nil {
		log.Fatal(err)
	}
	defer app.Close()
	stop := tel.Observe(app)
	defer stop()

	ctx := context.Background()
	for _, shop := range []string{"88888", "88889"} {
		if _, err := app.Token(ctx, shop); err != nil {
			log.Fatal(err)
		}
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		log.Fatal(err)
	}
	var lines []string
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			for _, p := range d.DataPoints {
				lines = append(lines, fmt.Sprintf("%s %s %d", m.Name, labels(p.Attributes.ToSlice()), p.Value))
			}
		case metricdata.Gauge[int64]:
			for _, p := range d.DataPoints {
				lines = append(lines, fmt.Sprintf("%s %s %d", m.Name, labels(p.Attributes.ToSlice()), p.Value))
			}
		case metricdata.Histogram[float64]:
			for _, p := range d.DataPoints {
				lines = append(lines, fmt.Sprintf("%s %s count=%d", m.Name, labels(p.Attributes.ToSlice()), p.Count))
			}
		}
	}
	slices.Sort(lines)
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// shoptoken.grants.ending {app=id platform=youzan} 0
	// shoptoken.refresh.duration {app=id outcome=success platform=youzan reason=missing} count=2
	// shoptoken.refreshes {app=id outcome=success platform=youzan reason=missing} 2
	// shoptoken.tokens {app=id platform=youzan state=expired} 0
	// shoptoken.tokens {app=id platform=youzan state=valid} 2
}
