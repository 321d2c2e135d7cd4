package otelshoptoken_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/shoptoken/shoptoken/internal/testkit"
	"github.com/shoptoken/shoptoken/otelshoptoken"
)

// rig is a Telemetry on the SDK's in-memory reader and span recorder.
type rig struct {
	tel    *otelshoptoken.Telemetry
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tracer trace.Tracer // the test's own, for a caller's span
}

func newRig(t testing.TB, opts ...otelshoptoken.Option) *rig {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	tel, err := otelshoptoken.New(append([]otelshoptoken.Option{otelshoptoken.WithMeterProvider(mp),
		otelshoptoken.WithTracerProvider(tp)}, opts...)...)
	require.NoError(t, err)
	return &rig{tel: tel, reader: reader, spans: rec, tracer: tp.Tracer("test")}
}

// collect reads every metric now.
func (r *rig) collect(t *testing.T) metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.reader.Collect(context.Background(), &rm))
	var out metrics
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name == otelshoptoken.ScopeName {
			out = append(out, sm.Metrics...)
		}
	}
	return out
}

// spansNamed returns the ended spans called name.
func (r *rig) spansNamed(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

type metrics []metricdata.Metrics

func (ms metrics) get(name string) (metricdata.Metrics, bool) {
	for _, m := range ms {
		if m.Name == name {
			return m, true
		}
	}
	return metricdata.Metrics{}, false
}

// has reports whether set holds every one of want.
func has(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// count sums the points of the Int64 counter name whose attributes hold want.
func (ms metrics) count(name string, want ...attribute.KeyValue) int64 {
	m, ok := ms.get(name)
	if !ok {
		return 0
	}
	var n int64
	for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
		if has(p.Attributes, want) {
			n += p.Value
		}
	}
	return n
}

// hist returns the count and sum of the points of the histogram name whose attributes hold want.
func (ms metrics) hist(name string, want ...attribute.KeyValue) (uint64, float64) {
	m, ok := ms.get(name)
	if !ok {
		return 0, 0
	}
	var n uint64
	var sum float64
	for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
		if has(p.Attributes, want) {
			n += p.Count
			sum += p.Sum
		}
	}
	return n, sum
}

// gauge returns the values of the points of gauge name whose attributes hold want.
func gauge[N int64 | float64](ms metrics, name string, want ...attribute.KeyValue) []N {
	m, ok := ms.get(name)
	if !ok {
		return nil
	}
	var out []N
	for _, p := range m.Data.(metricdata.Gauge[N]).DataPoints {
		if has(p.Attributes, want) {
			out = append(out, p.Value)
		}
	}
	return out
}

// attrSets returns every attribute set of every data point, one line each, for scanning.
func (ms metrics) attrSets() []string {
	var out []string
	add := func(s attribute.Set) {
		var b strings.Builder
		for _, kv := range s.ToSlice() {
			fmt.Fprintf(&b, "%s=%s ", kv.Key, kv.Value.Emit())
		}
		out = append(out, b.String())
	}
	for _, m := range ms {
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			for _, p := range d.DataPoints {
				add(p.Attributes)
			}
		case metricdata.Histogram[float64]:
			for _, p := range d.DataPoints {
				add(p.Attributes)
				for _, e := range p.Exemplars {
					add(attribute.NewSet(e.FilteredAttributes...))
				}
			}
		case metricdata.Gauge[int64]:
			for _, p := range d.DataPoints {
				add(p.Attributes)
			}
		case metricdata.Gauge[float64]:
			for _, p := range d.DataPoints {
				add(p.Attributes)
			}
		default:
			panic(fmt.Sprintf("unexpected data %T", d))
		}
	}
	return out
}

// spanTexts returns everything a span carries that is text: name, status, attributes, events
// and their attributes, links' attributes.
func spanTexts(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	kvs := func(list []attribute.KeyValue) {
		for _, kv := range list {
			out = append(out, string(kv.Key)+"="+kv.Value.Emit())
		}
	}
	for _, s := range spans {
		out = append(out, s.Name(), s.Status().Description)
		kvs(s.Attributes())
		for _, e := range s.Events() {
			out = append(out, e.Name)
			kvs(e.Attributes)
		}
		for _, l := range s.Links() {
			kvs(l.Attributes)
		}
	}
	return out
}

// noShopOrSecret fails if any metric attribute holds a shop id or a piece of a secret.
func noShopOrSecret(t *testing.T, ms metrics, shops, secrets []string) {
	t.Helper()
	sets := ms.attrSets()
	require.NotEmpty(t, sets)
	testkit.NoSecret(t, "metric attributes", secrets, sets...)
	for _, set := range sets {
		for _, shop := range shops {
			for _, field := range strings.Fields(set) {
				_, v, _ := strings.Cut(field, "=")
				if v == shop || strings.Contains(v, shop) {
					t.Errorf("a metric attribute holds shop %q: %s", shop, set)
				}
			}
		}
	}
}

func attrOf(s sdktrace.ReadOnlySpan, key string) (attribute.Value, bool) {
	i := slices.IndexFunc(s.Attributes(), func(kv attribute.KeyValue) bool { return string(kv.Key) == key })
	if i < 0 {
		return attribute.Value{}, false
	}
	return s.Attributes()[i].Value, true
}

// labels prints attributes as {name=value ...}, without the "shoptoken." prefix.
func labels(kvs []attribute.KeyValue) string {
	parts := make([]string, len(kvs))
	for i, kv := range kvs {
		parts[i] = strings.TrimPrefix(string(kv.Key), "shoptoken.") + "=" + kv.Value.Emit()
	}
	return "{" + strings.Join(parts, " ") + "}"
}
