package otelshoptoken

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shops"
)

// ScopeName is the instrumentation scope of the meter and the tracer: the package's import path.
const ScopeName = "github.com/shoptoken/shoptoken/otelshoptoken"

// DefaultGrantWindow is how close to its end a grant counts in shoptoken.grants.ending, unless
// WithGrantWindow says otherwise.
const DefaultGrantWindow = 24 * time.Hour

// Option configures New.
type Option func(*config)

type config struct {
	mp     metric.MeterProvider
	tp     trace.TracerProvider
	window time.Duration
	errs   []error
}

// WithMeterProvider records the metrics with mp. nil, or no such option: the global
// MeterProvider (otel.GetMeterProvider), so that a provider installed later still gets them.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithTracerProvider records the spans with tp. nil, or no such option: the global
// TracerProvider (otel.GetTracerProvider).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithGrantWindow counts a grant in shoptoken.grants.ending when it ends within d (default 24
// hours). d must be positive.
func WithGrantWindow(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.errs = append(c.errs, errors.New("WithGrantWindow: must be positive, got "+d.String()))
			return
		}
		c.window = d
	}
}

// Telemetry turns what the engine reports into OpenTelemetry metrics and spans. Give
// CacheOption to a Cache (or a platform's NewSource), AppOption to an App (or a platform's
// NewApp), and the App to Observe for the gauges of the tokens it holds. A Telemetry is safe for
// concurrent use and serves any number of Caches and Apps, of any platforms.
type Telemetry struct {
	tracer trace.Tracer
	window time.Duration
	inst   instruments

	mu   sync.Mutex
	held map[*holder]struct{}
}

// New returns a Telemetry that records with the providers of opts (the global ones by default).
// It creates the instruments listed in the package documentation and registers the callback of
// the gauges, which reads the Apps given to Observe at each collection (and stays registered
// with the meter provider for the provider's life). It fails with a shoptoken.ErrBadRequest
// error, before anything is recorded, for an option given a value that makes no sense or when
// the meter refuses an instrument.
func New(opts ...Option) (*Telemetry, error) {
	cfg := config{window: DefaultGrantWindow}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if len(cfg.errs) > 0 {
		return nil, &shoptoken.Error{Kind: shoptoken.ErrBadRequest, Message: "otelshoptoken: " + errors.Join(cfg.errs...).Error()}
	}
	if cfg.mp == nil {
		cfg.mp = otel.GetMeterProvider()
	}
	if cfg.tp == nil {
		cfg.tp = otel.GetTracerProvider()
	}
	version := metric.WithInstrumentationVersion(shoptoken.Version)
	t := &Telemetry{
		tracer: cfg.tp.Tracer(ScopeName, trace.WithInstrumentationVersion(shoptoken.Version)),
		window: cfg.window,
		held:   map[*holder]struct{}{},
	}
	if err := t.inst.init(cfg.mp.Meter(ScopeName, version), t.observe); err != nil {
		return nil, &shoptoken.Error{Kind: shoptoken.ErrBadRequest, Message: "otelshoptoken: the meter refused an instrument", Err: err}
	}
	return t, nil
}

// CacheOption returns the option that instruments one Cache: its events become metrics
// (shoptoken.WithEvents) and each of its platform calls a span (shoptoken.WithTrace). Give it to
// shoptoken.NewCache or to a platform's NewSource. It replaces an earlier WithTrace.
func (t *Telemetry) CacheOption() shoptoken.Option {
	return all(shoptoken.WithEvents(t.event), shoptoken.WithTrace(t.trace))
}

// AppOption returns the option that instruments an App: every shop's events become metrics
// (shops.WithEvents), each platform call a span (shoptoken.WithTrace, through
// shops.WithCacheOptions) and each Keeper sweep a set of counts (shops.WithOnSweep). Give it to
// shops.New or to a platform's NewApp, beside the App's other options.
func (t *Telemetry) AppOption() shops.Option {
	return all(shops.WithEvents(t.event), shops.WithCacheOptions(shoptoken.WithTrace(t.trace)), shops.WithOnSweep(t.sweep))
}

// all returns one option that applies opts in order. Option types keep their configuration
// unexported, so the type C is inferred from O, never named.
func all[O ~func(C), C any](opts ...O) O {
	return func(c C) {
		for _, o := range opts {
			o(c)
		}
	}
}

// Holder is what Observe reads tokens from: a *shops.App, and every platform's App (which embeds
// one).
type Holder interface {
	Range(fn func(k shoptoken.Key, tok *shoptoken.Token) bool)
}

type holder struct{ h Holder }

// Observe adds h's tokens to the gauges (shoptoken.tokens, shoptoken.token.time_to_expiry,
// shoptoken.grant.time_to_end, shoptoken.grants.ending) until stop is called; at each collection
// the gauges read every token h holds in memory with h.Range, aggregated per platform and app.
// Observing a million shops costs one pass over them per collection, no lock on their Caches.
func (t *Telemetry) Observe(h Holder) (stop func()) {
	if h == nil {
		return func() {}
	}
	e := &holder{h}
	t.mu.Lock()
	t.held[e] = struct{}{}
	t.mu.Unlock()
	return sync.OnceFunc(func() {
		t.mu.Lock()
		delete(t.held, e)
		t.mu.Unlock()
	})
}

// holders returns the Holders being observed.
func (t *Telemetry) holders() []Holder {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Holder, 0, len(t.held))
	for e := range t.held {
		out = append(out, e.h)
	}
	return out
}

// kinds names the error kinds for the error.type attribute.
var kinds = []struct {
	err  error
	name string
}{
	{shoptoken.ErrTokenInvalid, "token_invalid"}, {shoptoken.ErrReauthorize, "reauthorize"},
	{shoptoken.ErrCredentials, "credentials"}, {shoptoken.ErrRateLimited, "rate_limited"},
	{shoptoken.ErrPermission, "permission"}, {shoptoken.ErrUnavailable, "unavailable"},
	{shoptoken.ErrBadResponse, "bad_response"}, {shoptoken.ErrBadRequest, "bad_request"},
	{shoptoken.ErrNotFound, "not_found"}, {shoptoken.ErrConflict, "conflict"},
	{shoptoken.ErrCorrupt, "corrupt"}, {shoptoken.ErrClosed, "closed"},
	{context.Canceled, "canceled"}, {context.DeadlineExceeded, "timeout"},
}

// errorType names the kind of err for the error.type attribute: the shoptoken kind it is
// ("reauthorize", "unavailable", ...), "canceled" or "timeout" for a context's end,
// "unavailable" for a network failure, else "_OTHER" (a store's own error, say).
func errorType(err error) string {
	var e *shoptoken.Error
	if errors.As(err, &e) && e.Kind != nil {
		err = e.Kind
	}
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return "unavailable"
	}
	return "_OTHER"
}

// statusText describes err for a span's status: its kind and, for a *shoptoken.Error, the
// platform's code, message and request id (fields that never hold a secret). The cause (Err) is
// left out: an error of another library may quote a URL or a body.
func statusText(err error) string {
	s := errorType(err)
	var e *shoptoken.Error
	if !errors.As(err, &e) {
		return s
	}
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Message != "" {
		s += " " + e.Message
	}
	if e.RequestID != "" {
		s += " (request_id " + e.RequestID + ")"
	}
	if e.StatusCode != 0 && e.Code == "" && e.Message == "" {
		s += ": HTTP " + strconv.Itoa(e.StatusCode)
	}
	return s
}
