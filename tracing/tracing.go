// Package tracing traces the service with OpenTelemetry. It is off unless
// the server is started with tracing on; then Setup exports spans over
// OTLP/HTTP, configured by the standard OTEL_* environment variables.
//
// What is traced:
//
//   - every HTTP request (Middleware): a server span named after the
//     method and the chi route pattern ("POST /graphql"), with otelhttp's
//     attributes (method, route, URL path, status, sizes, peer and user
//     agent). It continues the trace of an incoming W3C traceparent
//     header and carries W3C baggage along in the context. No header other
//     than User-Agent and X-Forwarded-For is recorded, and no query string
//     or body, so neither tokens nor GraphQL documents end up in a trace;
//   - every GraphQL operation (Extension): a span named after the
//     operation's type and name ("query ListItems", or "query" when
//     anonymous; "GraphQL Operation" when the request failed before an
//     operation was chosen), with graphql.operation.type and
//     graphql.operation.name, and a "graphql.error" event with the
//     extensions.code and path of each error of its responses. Its status
//     is Error only when a response carries an error that is the
//     server's fault in the error table (items.PublicFault: an internal
//     error, a service unavailable, or an error without a known code),
//     not for the client's errors (bad input, no token, a document that
//     does not validate, …). Neither the document,
//     nor the variables, nor error messages, nor responses are recorded;
//   - every field that has a resolver of its own: a child span named
//     after the type and field ("Query.items") with graphql.field.path.
//     Fields that merely read a value of their parent get no span.
//
// How to turn it on: start the server with tracing on (Setup is called
// only then), and point the exporter at a collector, for example
//
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318
//	OTEL_SERVICE_NAME=itemsapi-eu          # default "itemsapi"
//	OTEL_TRACES_SAMPLER=parentbased_traceidratio
//	OTEL_TRACES_SAMPLER_ARG=0.1            # default: every trace
//
// The exporter reads OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT (default
// https://localhost:4318), …_HEADERS, …_TIMEOUT, …_COMPRESSION,
// …_CERTIFICATE, …_CLIENT_CERTIFICATE/…_CLIENT_KEY, …_INSECURE and
// …_PROTOCOL (http/protobuf or http/json; gRPC is not supported); the
// SDK reads OTEL_TRACES_SAMPLER[_ARG], OTEL_BSP_* (batching),
// OTEL_SPAN_*_LIMIT and OTEL_ATTRIBUTE_*_LIMIT; the resource comes from
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES. OTEL_TRACES_EXPORTER
// may only be unset or "otlp".
//
// Nothing here touches OpenTelemetry's global provider or propagator:
// the provider and propagator are passed to the middleware and the
// extension explicitly, so that instances (in tests, say) stay apart.
package tracing

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"itemsapi/internal/request"
)

// DefaultServiceName is the service.name of the spans when neither
// OTEL_SERVICE_NAME nor OTEL_RESOURCE_ATTRIBUTES names the service.
const DefaultServiceName = "itemsapi"

// instrumentationName names the tracer of the GraphQL spans.
const instrumentationName = "itemsapi/tracing"

// Tracing traces HTTP requests and GraphQL operations into one
// TracerProvider. It is safe for concurrent use.
type Tracing struct {
	tp       trace.TracerProvider
	prop     propagation.TextMapPropagator
	tracer   trace.Tracer
	shutdown func(context.Context) error // nil when the caller owns tp
}

// New returns a Tracing that records into tp and reads incoming trace
// context with prop (W3C trace context and baggage when prop is nil). The
// caller owns tp: Shutdown does not shut it down.
func New(tp trace.TracerProvider, prop propagation.TextMapPropagator) *Tracing {
	if prop == nil {
		prop = defaultPropagator()
	}
	return &Tracing{tp: tp, prop: prop, tracer: tp.Tracer(instrumentationName)}
}

// Setup builds the TracerProvider of the service from the environment:
// an OTLP/HTTP exporter behind a batch span processor, the sampler of
// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (parentbased_always_on
// when unset), and a resource with the service name and the SDK's and
// host's attributes. Export failures are logged on log. Call Shutdown
// when the server has stopped, to send the spans still buffered.
//
// Setup reads the environment through getenv for what it checks and
// logs; the exporter, the sampler and the resource are OpenTelemetry's,
// which read the OTEL_* variables of the process themselves, as the
// OpenTelemetry specification defines them.
func Setup(ctx context.Context, getenv func(string) string, log *slog.Logger) (*Tracing, error) {
	if err := checkEnv(getenv); err != nil {
		return nil, err
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(DefaultServiceName)),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithFromEnv(), // last, so that the environment wins
	)
	switch {
	case errors.Is(err, resource.ErrPartialResource):
		log.WarnContext(ctx, "tracing: resource attributes partly ignored", "err", err)
	case err != nil:
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	// No WithSampler: the SDK reads OTEL_TRACES_SAMPLER[_ARG] itself.
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(loggingExporter{exp, log}),
		sdktrace.WithResource(res),
	)
	t := New(tp, defaultPropagator())
	t.shutdown = tp.Shutdown

	service, _ := res.Set().Value(semconv.ServiceNameKey)
	log.InfoContext(ctx, "tracing on",
		"service", service.AsString(),
		"endpoint", endpoint(getenv),
		"sampler", cmp.Or(getenv("OTEL_TRACES_SAMPLER"), "parentbased_always_on"))
	return t, nil
}

// Shutdown sends the spans still buffered and stops the TracerProvider
// that Setup built; it waits at most until ctx is done. For a Tracing
// from New it does nothing.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// Middleware traces each request that passes through it with a server
// span, a child of the trace context of the request's headers, and puts
// that span in the request's context. The span is named after the method
// and the chi route pattern that served the request ("POST /graphql"),
// or the method alone when no route matched; it reads the route from the
// request's record (package request). Use it on the chi router (r.Use),
// or around it.
func (t *Tracing) Middleware(next http.Handler) http.Handler {
	named := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, w, r := request.Of(w, r)
		next.ServeHTTP(w, r)
		if route := rec.Route(); route != "" {
			span := trace.SpanFromContext(r.Context())
			span.SetName(spanMethod(r.Method) + " " + route)
			span.SetAttributes(semconv.HTTPRoute(route))
		}
	})
	return otelhttp.NewHandler(named, "",
		otelhttp.WithTracerProvider(t.tp),
		otelhttp.WithPropagators(t.prop),
		// The service's metrics are Prometheus's (package metrics).
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
	)
}

// defaultPropagator reads and writes W3C trace context and baggage.
func defaultPropagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// checkEnv rejects the settings of the environment that the exporter of
// Setup would silently ignore.
func checkEnv(getenv func(string) string) error {
	if e := getenv("OTEL_TRACES_EXPORTER"); e != "" && e != "otlp" {
		return fmt.Errorf("tracing: OTEL_TRACES_EXPORTER=%q is not supported: only otlp is", e)
	}
	p := cmp.Or(getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
	if p != "" && p != "http/protobuf" && p != "http/json" {
		return fmt.Errorf("tracing: OTLP protocol %q is not supported: use http/protobuf (port 4318)", p)
	}
	return nil
}

// endpoint is where the exporter sends spans, for the log, without any
// user information the URL may hold.
func endpoint(getenv func(string) string) string {
	if e := cmp.Or(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), getenv("OTEL_EXPORTER_OTLP_ENDPOINT")); e != "" {
		u, err := url.Parse(e)
		if err != nil {
			return "(invalid)"
		}
		return u.Redacted()
	}
	return "https://localhost:4318 (default)"
}

// spanMethod is the method of a span name: a standard method, or "HTTP"
// for any other, as otelhttp does, so that clients cannot make up names.
func spanMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "HTTP"
}

// loggingExporter logs the failures of its SpanExporter on log rather
// than passing them to OpenTelemetry's global error handler, which would
// print them on the standard logger.
type loggingExporter struct {
	sdktrace.SpanExporter
	log *slog.Logger
}

// ExportSpans implements sdktrace.SpanExporter.
func (e loggingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if err := e.SpanExporter.ExportSpans(ctx, spans); err != nil {
		e.log.WarnContext(ctx, "tracing: spans not exported", "spans", len(spans), "err", err)
	}
	return nil
}
