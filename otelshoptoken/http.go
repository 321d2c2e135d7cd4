package otelshoptoken

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.39.0"
	"go.opentelemetry.io/otel/trace"
)

// clientTimeout bounds a whole exchange of the client HTTPClient makes when given none: the
// bound the SDK's own default client has.
const clientTimeout = 30 * time.Second

// HTTPClient returns a copy of c whose Transport records a span per request (see Transport), for
// a platform Config's HTTPClient:
//
//	cfg.HTTPClient = tel.HTTPClient(nil)
//
// c's Timeout, Jar and CheckRedirect are kept; c is not modified. nil c: http.DefaultTransport
// with a 30-second Timeout, the SDK's bound on a whole exchange.
func (t *Telemetry) HTTPClient(c *http.Client) *http.Client {
	hc := http.Client{Timeout: clientTimeout}
	if c != nil {
		hc = *c
	}
	hc.Transport = t.Transport(hc.Transport)
	return &hc
}

// Transport returns an http.RoundTripper that sends requests through base (nil:
// http.DefaultTransport) and records a client span for each, a child of the span in the
// request's context: the refresh span for a token call, the caller's span for an API call. The
// span follows OpenTelemetry's HTTP conventions (http.request.method, server.address,
// server.port, url.full, http.response.status_code, error.type) and ends when the answer's body
// is read to its end or closed.
//
// url.full carries every query parameter's name and the value "REDACTED", never the value:
// Youzan and veapi send the access token in the query. No header is recorded. Unlike otelhttp's
// transport (which records the query as it is), it sends no trace context to the platform: the
// platforms take no part in the trace.
func (t *Telemetry) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: base, tracer: t.tracer}
}

type transport struct {
	base   http.RoundTripper
	tracer trace.Tracer
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	_, span := tr.tracer.Start(req.Context(), method(req.Method), trace.WithSpanKind(trace.SpanKindClient))
	if !span.IsRecording() {
		span.End()
		return tr.base.RoundTrip(req)
	}
	span.SetAttributes(requestAttrs(req)...)
	resp, err := tr.base.RoundTrip(req)
	if err != nil {
		span.SetAttributes(semconv.ErrorTypeKey.String(transportError(err)))
		span.SetStatus(codes.Error, transportError(err))
		span.End()
		return resp, err
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	if resp.StatusCode >= 400 {
		code := strconv.Itoa(resp.StatusCode)
		span.SetAttributes(semconv.ErrorTypeKey.String(code))
		span.SetStatus(codes.Error, "HTTP "+code)
	}
	if resp.Body == nil || resp.Body == http.NoBody || resp.StatusCode == http.StatusSwitchingProtocols {
		span.End()
		return resp, nil
	}
	resp.Body = &endBody{ReadCloser: resp.Body, end: sync.OnceFunc(func() { span.End() })}
	return resp, nil
}

// endBody ends the span when the body has been read to its end (or failed) or is closed.
type endBody struct {
	io.ReadCloser
	end func()
}

func (b *endBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.end()
	}
	return n, err
}

func (b *endBody) Close() error {
	err := b.ReadCloser.Close()
	b.end()
	return err
}

func requestAttrs(req *http.Request) []attribute.KeyValue {
	attrs := []attribute.KeyValue{semconv.HTTPRequestMethodKey.String(method(req.Method))}
	if req.URL == nil {
		return attrs
	}
	attrs = append(attrs, semconv.ServerAddress(req.URL.Hostname()), semconv.URLFull(redactURL(req.URL)))
	port := req.URL.Port()
	switch {
	case port != "":
		if n, err := strconv.Atoi(port); err == nil {
			attrs = append(attrs, semconv.ServerPort(n))
		}
	case req.URL.Scheme == "https":
		attrs = append(attrs, semconv.ServerPort(443))
	case req.URL.Scheme == "http":
		attrs = append(attrs, semconv.ServerPort(80))
	}
	return attrs
}

// redactURL returns u without user information or fragment, every query value replaced by
// "REDACTED" (the names are kept: they say what was sent).
func redactURL(u *url.URL) string {
	c := *u
	c.User, c.Fragment, c.RawFragment = nil, "", ""
	if c.RawQuery != "" || c.ForceQuery {
		q, _ := url.ParseQuery(c.RawQuery)
		for k := range q {
			q[k] = []string{"REDACTED"}
		}
		c.RawQuery, c.ForceQuery = q.Encode(), false
	}
	return c.String()
}

// method returns m if it is a method HTTP defines, else "_OTHER" (the conventions' rule: a method
// name is not free text).
func method(m string) string {
	switch m {
	case "":
		return http.MethodGet
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch,
		http.MethodHead, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

// transportError names a failure to get an answer: "timeout", "canceled" or "_OTHER". Its
// message is not used: it quotes the URL, query included.
func transportError(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "_OTHER"
}
