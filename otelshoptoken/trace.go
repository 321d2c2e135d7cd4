package otelshoptoken

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.39.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/shoptoken/shoptoken"
)

// refreshSpan is the name of the span around every platform call a refresh makes.
const refreshSpan = "shoptoken.refresh"

// trace is the Cache's WithTrace hook: a span around the platform call, a child of the span in
// ctx (the caller that asked first, or the Keeper's sweep), carrying the shop (spans may: they
// are not aggregated) and the reason; on failure, the error's kind and the platform's code.
func (t *Telemetry) trace(ctx context.Context, k shoptoken.Key, why shoptoken.Reason) (context.Context, func(error)) {
	ctx, span := t.tracer.Start(ctx, refreshSpan, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(
		attrPlatform.String(k.Platform), attrApp.String(k.App), attrShop.String(k.Shop), attrReason.String(why.String())))
	return ctx, func(err error) {
		if err != nil && span.IsRecording() {
			span.SetAttributes(semconv.ErrorTypeKey.String(errorType(err)))
			var e *shoptoken.Error
			if errors.As(err, &e) && e.Code != "" {
				span.SetAttributes(attrCode.String(e.Code))
			}
			span.SetStatus(codes.Error, statusText(err))
		}
		span.End()
	}
}
