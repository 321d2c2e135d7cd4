// Package otelshoptoken reports what shoptoken's engine does as OpenTelemetry metrics and
// traces: refreshes, their latency, store and save failures, lost and expiring grants, Keeper
// sweeps and rate-limit back-offs as metrics; a span per refresh and per platform HTTP call.
//
// It is a module of its own (github.com/shoptoken/shoptoken/otelshoptoken), as
// opentelemetry-go-contrib's instrumentation modules are, so that a program that does not import
// it never has OpenTelemetry in its module graph. It uses the OpenTelemetry API only; the
// program chooses the SDK and the exporters (see the example module beside it, which serves the
// metrics in Prometheus format).
//
// # Wiring
//
// One Telemetry serves every Cache and App of a process:
//
//	tel, err := otelshoptoken.New() // the global MeterProvider and TracerProvider
//	cfg.HTTPClient = tel.HTTPClient(cfg.HTTPClient) // a span per platform HTTP call
//	cfg.OnRateLimited = tel.RateLimited              // Youzan's 4101 back-offs
//	app, err := youzan.NewApp(cfg, shops.WithStore(store), tel.AppOption())
//	stop := tel.Observe(app) // gauges of the tokens the App holds
//	defer stop()
//
// A single Cache takes tel.CacheOption() instead (youzan.NewSource(cfg, shop,
// tel.CacheOption()), shoptoken.NewCache(r, tel.CacheOption())).
//
// # Metrics
//
// Every metric carries shoptoken.platform and shoptoken.app. None carries the shop, a token or
// any secret: an ISV has up to millions of shops, and a label per shop would make as many
// series. The shop is on the spans and in the events' logs.
//
//	shoptoken.refreshes              counter    {refresh}  reason, outcome (success, failure, grant_lost), error.type
//	shoptoken.refresh.duration       histogram  s          reason, outcome, error.type: the platform call's time
//	shoptoken.store.failures         counter    {failure}  shoptoken.event (store_failed, store_corrupt), error.type
//	shoptoken.save.failures          counter    {failure}  error.type: a new token not saved yet (retried)
//	shoptoken.grants.lost            counter    {grant}    error.type (reauthorize, credentials)
//	shoptoken.grants.expiring        counter    {grant}    the engine's grant warning (shoptoken.WithGrantWarning)
//	shoptoken.keeper.sweeps          counter    {sweep}    outcome (ok, error), error.type
//	shoptoken.keeper.due             counter    {shop}     shops a sweep found due
//	shoptoken.keeper.shops           counter    {shop}     outcome (refreshed, not_due, failed, reauthorize)
//	shoptoken.ratelimit.backoff      histogram  s          the wait a platform advised (Youzan 4101: 3 to 48 s)
//	shoptoken.tokens                 gauge      {token}    shoptoken.state (valid, expired): tokens held
//	shoptoken.token.time_to_expiry   gauge      s          the least time to expiry of the access tokens held
//	shoptoken.grant.time_to_end      gauge      s          the least time to the end of the grants held
//	shoptoken.grants.ending          gauge      {grant}    grants held ending within 24 h (WithGrantWindow)
//
// reason is the shoptoken.Reason (missing, expired, early, rejected); error.type names the
// error's kind (reauthorize, credentials, unavailable, rate_limited, token_invalid, bad_response,
// ...). A grant ends at the token's RefreshExpiry or, for a token without a refresh token, at its
// Expiry, as the engine's grant warning reads it. The gauges read the Apps given to Observe at
// each collection, one pass over their shops, aggregated per platform and app.
//
// # Traces
//
// A span named shoptoken.refresh wraps every platform call a refresh makes (shoptoken.WithTrace).
// It is a child of the span in the context of the caller that started the refresh (the first of
// the callers who waited for it, an Invalidate, the Keeper's sweep); a refresh ahead of expiry
// that the Cache's own timer starts has no caller, and its span is a root. It carries shoptoken.platform, shoptoken.app, shoptoken.shop,
// shoptoken.reason and, on failure, error.type, shoptoken.error.code (the platform's code) and
// an error status. Under it, the transport of HTTPClient records a client span per HTTP request
// sent, its query values redacted. App API calls get the HTTP span under the caller's span, and a
// 4101 adds a shoptoken.rate_limited event to the caller's span (RateLimited). No span
// attribute or event holds a token, a secret, or an error's cause (which may quote a URL).
//
// # Cost
//
// None on the warm path: a Token call that finds a valid token calls no hook, so an instrumented
// Cache serves it with the same 0 allocations and the same time as a plain one (see
// BenchmarkCache_Token_warm). The event listener runs on the goroutine of the refresh, store
// round trip or sweep that caused the event; a span is started only for a platform call.
//
// # Versions
//
// It requires go.opentelemetry.io/otel v1.41.0 (and metric and trace at v1.41.0), the last
// release whose go.mod says go 1.24: v1.42.0 and later need Go 1.25, which would raise the go
// directive of every module that imports this one.
package otelshoptoken
