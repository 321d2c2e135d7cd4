package otelshoptoken

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.39.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/shops"
)

// The attributes. Metrics carry only the low-cardinality ones: never the shop, never a secret.
const (
	attrPlatform = attribute.Key("shoptoken.platform")
	attrApp      = attribute.Key("shoptoken.app")
	attrReason   = attribute.Key("shoptoken.reason")
	attrOutcome  = attribute.Key("shoptoken.outcome")
	attrEvent    = attribute.Key("shoptoken.event")
	attrState    = attribute.Key("shoptoken.state")
	attrShop     = attribute.Key("shoptoken.shop")        // spans only
	attrCode     = attribute.Key("shoptoken.error.code")  // spans only: the platform's own code
	attrAPI      = attribute.Key("shoptoken.api")         // span events only
	attrWait     = attribute.Key("shoptoken.retry_after") // span events only, seconds
)

// Outcomes of a refresh, and of what a Keeper sweep did with a shop.
const (
	outcomeSuccess     = "success"
	outcomeFailure     = "failure"
	outcomeGrantLost   = "grant_lost"
	outcomeRefreshed   = "refreshed"
	outcomeNotDue      = "not_due"
	outcomeFailed      = "failed"
	outcomeReauthorize = "reauthorize"
	outcomeOK          = "ok"
	outcomeError       = "error"
)

// Bucket boundaries in seconds: a platform call takes milliseconds to the refresh timeout
// (30 s by default); Youzan advises 3, 6, 12, 24 and 48 s after a 4101.
var (
	durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
	backoffBuckets  = []float64{3, 6, 12, 24, 48}
)

type instruments struct {
	refreshes      metric.Int64Counter
	refreshTime    metric.Float64Histogram
	storeFailures  metric.Int64Counter
	saveFailures   metric.Int64Counter
	grantsLost     metric.Int64Counter
	grantsExpiring metric.Int64Counter
	sweeps         metric.Int64Counter
	sweepDue       metric.Int64Counter
	sweepShops     metric.Int64Counter
	backoff        metric.Float64Histogram

	tokens       metric.Int64ObservableGauge
	tokenExpiry  metric.Float64ObservableGauge
	grantEnd     metric.Float64ObservableGauge
	grantsEnding metric.Int64ObservableGauge
}

func (in *instruments) init(m metric.Meter, observe metric.Callback) error {
	var err error
	counter := func(name, unit, desc string) metric.Int64Counter {
		var c metric.Int64Counter
		if err == nil {
			c, err = m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		}
		return c
	}
	histogram := func(name, desc string, buckets []float64) metric.Float64Histogram {
		var h metric.Float64Histogram
		if err == nil {
			h, err = m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
				metric.WithExplicitBucketBoundaries(buckets...))
		}
		return h
	}
	in.refreshes = counter("shoptoken.refreshes", "{refresh}",
		"Platform calls made to obtain a token, by platform, app, reason and outcome (success, failure, grant_lost).")
	in.refreshTime = histogram("shoptoken.refresh.duration",
		"How long the platform took to answer a refresh, by platform, app, reason and outcome.", durationBuckets)
	in.storeFailures = counter("shoptoken.store.failures", "{failure}",
		"Store or lease round trips that failed (store_failed) and damaged stored values (store_corrupt); the Cache went on without the store.")
	in.saveFailures = counter("shoptoken.save.failures", "{failure}",
		"New tokens that could not be saved to the store yet (retried); until saved, a rotated refresh token lives in one process only.")
	in.grantsLost = counter("shoptoken.grants.lost", "{grant}",
		"Grants the platform says are gone (reauthorize, credentials): a person must authorize again.")
	in.grantsExpiring = counter("shoptoken.grants.expiring", "{grant}",
		"Warnings that a grant lapses within the Cache's grant-warning window.")
	in.sweeps = counter("shoptoken.keeper.sweeps", "{sweep}", "Keeper sweeps, by outcome (ok, error).")
	in.sweepDue = counter("shoptoken.keeper.due", "{shop}", "Shops the due index handed to a Keeper sweep.")
	in.sweepShops = counter("shoptoken.keeper.shops", "{shop}",
		"What Keeper sweeps did with the shops due, by outcome (refreshed, not_due, failed, reauthorize).")
	in.backoff = histogram("shoptoken.ratelimit.backoff",
		"Rate-limit back-offs the platform advised (Youzan 4101), by the wait advised.", backoffBuckets)
	if err != nil {
		return err
	}
	if in.tokens, err = m.Int64ObservableGauge("shoptoken.tokens", metric.WithUnit("{token}"),
		metric.WithDescription("Tokens held in memory by the observed Apps, by state (valid, expired).")); err != nil {
		return err
	}
	if in.tokenExpiry, err = m.Float64ObservableGauge("shoptoken.token.time_to_expiry", metric.WithUnit("s"),
		metric.WithDescription("The least time to expiry of the access tokens held (negative: one has expired).")); err != nil {
		return err
	}
	if in.grantEnd, err = m.Float64ObservableGauge("shoptoken.grant.time_to_end", metric.WithUnit("s"),
		metric.WithDescription("The least time to the end of the grants held whose end is known (negative: one has ended).")); err != nil {
		return err
	}
	if in.grantsEnding, err = m.Int64ObservableGauge("shoptoken.grants.ending", metric.WithUnit("{grant}"),
		metric.WithDescription("Grants held that end within the grant window (24 h by default) or have ended.")); err != nil {
		return err
	}
	_, err = m.RegisterCallback(observe, in.tokens, in.tokenExpiry, in.grantEnd, in.grantsEnding)
	return err
}

// event records e. It runs on the goroutine that caused e, never on a warm Token call.
func (t *Telemetry) event(e shoptoken.Event) {
	ctx := context.Background()
	in := &t.inst
	switch e.Kind {
	case shoptoken.EventRefreshed, shoptoken.EventRefreshFailed, shoptoken.EventGrantLost:
		attrs := []attribute.KeyValue{attrPlatform.String(e.Key.Platform), attrApp.String(e.Key.App),
			attrReason.String(e.Reason.String()), attrOutcome.String(outcomeSuccess)}
		if e.Kind != shoptoken.EventRefreshed {
			attrs[3] = attrOutcome.String(outcomeFailure)
			if e.Kind == shoptoken.EventGrantLost {
				attrs[3] = attrOutcome.String(outcomeGrantLost)
			}
			attrs = append(attrs, semconv.ErrorTypeKey.String(errorType(e.Err)))
		}
		set := metric.WithAttributeSet(attribute.NewSet(attrs...))
		in.refreshes.Add(ctx, 1, set)
		in.refreshTime.Record(ctx, e.Duration.Seconds(), set)
		if e.Kind == shoptoken.EventGrantLost {
			in.grantsLost.Add(ctx, 1, metric.WithAttributes(attrPlatform.String(e.Key.Platform), attrApp.String(e.Key.App),
				semconv.ErrorTypeKey.String(errorType(e.Err))))
		}
	case shoptoken.EventStoreFailed, shoptoken.EventStoreCorrupt:
		in.storeFailures.Add(ctx, 1, metric.WithAttributes(attrPlatform.String(e.Key.Platform), attrApp.String(e.Key.App),
			attrEvent.String(e.Kind.String()), semconv.ErrorTypeKey.String(errorType(e.Err))))
	case shoptoken.EventSaveFailed:
		in.saveFailures.Add(ctx, 1, metric.WithAttributes(attrPlatform.String(e.Key.Platform), attrApp.String(e.Key.App),
			semconv.ErrorTypeKey.String(errorType(e.Err))))
	case shoptoken.EventGrantExpiring:
		in.grantsExpiring.Add(ctx, 1, metric.WithAttributes(attrPlatform.String(e.Key.Platform), attrApp.String(e.Key.App)))
	}
}

// sweep records what one Keeper sweep of app did.
func (t *Telemetry) sweep(app shoptoken.Key, res shops.SweepResult, err error) {
	ctx := context.Background()
	in := &t.inst
	p, a := attrPlatform.String(app.Platform), attrApp.String(app.App)
	if err != nil {
		in.sweeps.Add(ctx, 1, metric.WithAttributes(p, a, attrOutcome.String(outcomeError), semconv.ErrorTypeKey.String(errorType(err))))
	} else {
		in.sweeps.Add(ctx, 1, metric.WithAttributes(p, a, attrOutcome.String(outcomeOK)))
	}
	if res.Due > 0 {
		in.sweepDue.Add(ctx, int64(res.Due), metric.WithAttributes(p, a))
	}
	for _, n := range []struct {
		outcome string
		count   int
	}{{outcomeRefreshed, res.Refreshed}, {outcomeNotDue, res.NotDue}, {outcomeFailed, res.Failed}, {outcomeReauthorize, len(res.Reauthorize)}} {
		if n.count > 0 {
			in.sweepShops.Add(ctx, int64(n.count), metric.WithAttributes(p, a, attrOutcome.String(n.outcome)))
		}
	}
}

// RateLimited records a rate-limit back-off the platform advised for k's shop: the wait goes to
// the shoptoken.ratelimit.backoff histogram (by platform and app), and to the span in ctx, if
// one is recording, as a "shoptoken.rate_limited" event with the API and the wait. Its signature
// is youzan.Config.OnRateLimited's:
//
//	cfg.OnRateLimited = tel.RateLimited
func (t *Telemetry) RateLimited(ctx context.Context, k shoptoken.Key, api string, wait time.Duration) {
	t.inst.backoff.Record(ctx, wait.Seconds(), metric.WithAttributes(attrPlatform.String(k.Platform), attrApp.String(k.App)))
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("shoptoken.rate_limited", trace.WithAttributes(attrAPI.String(api), attrWait.Float64(wait.Seconds())))
	}
}

// namespace is a platform and an app: what the gauges aggregate by.
type namespace struct{ platform, app string }

type tally struct {
	valid, expired int64
	ending         int64
	minExpiry      time.Duration
	hasExpiry      bool
	minEnd         time.Duration
	hasEnd         bool
}

// observe is the gauges' callback: one pass over the tokens of every observed Holder.
func (t *Telemetry) observe(_ context.Context, o metric.Observer) error {
	now := time.Now()
	agg := map[namespace]*tally{}
	for _, h := range t.holders() {
		var ns namespace
		var cur *tally
		h.Range(func(k shoptoken.Key, tok *shoptoken.Token) bool {
			if cur == nil || k.Platform != ns.platform || k.App != ns.app {
				ns = namespace{k.Platform, k.App}
				if cur = agg[ns]; cur == nil {
					cur = &tally{}
					agg[ns] = cur
				}
			}
			if tok != nil {
				cur.add(tok, now, t.window)
			}
			return true
		})
	}
	in := &t.inst
	for ns, h := range agg {
		p, a := attrPlatform.String(ns.platform), attrApp.String(ns.app)
		o.ObserveInt64(in.tokens, h.valid, metric.WithAttributes(p, a, attrState.String("valid")))
		o.ObserveInt64(in.tokens, h.expired, metric.WithAttributes(p, a, attrState.String("expired")))
		both := metric.WithAttributes(p, a)
		if h.hasExpiry {
			o.ObserveFloat64(in.tokenExpiry, h.minExpiry.Seconds(), both)
		}
		if h.hasEnd {
			o.ObserveFloat64(in.grantEnd, h.minEnd.Seconds(), both)
		}
		o.ObserveInt64(in.grantsEnding, h.ending, both)
	}
	return nil
}

func (h *tally) add(tok *shoptoken.Token, now time.Time, window time.Duration) {
	if tok.Expiry.IsZero() || now.Before(tok.Expiry) {
		h.valid++
	} else {
		h.expired++
	}
	if !tok.Expiry.IsZero() {
		if left := tok.Expiry.Sub(now); !h.hasExpiry || left < h.minExpiry {
			h.minExpiry, h.hasExpiry = left, true
		}
	}
	if end := grantEnd(tok); !end.IsZero() {
		left := end.Sub(now)
		if !h.hasEnd || left < h.minEnd {
			h.minEnd, h.hasEnd = left, true
		}
		if left < window {
			h.ending++
		}
	}
}

// grantEnd returns when tok's grant lapses, as the engine's grant warning reads it: RefreshExpiry
// when known, else the Expiry of a token that has no refresh token (vip.com), else zero.
func grantEnd(tok *shoptoken.Token) time.Time {
	switch {
	case !tok.RefreshExpiry.IsZero():
		return tok.RefreshExpiry
	case tok.RefreshToken == "":
		return tok.Expiry
	}
	return time.Time{}
}
