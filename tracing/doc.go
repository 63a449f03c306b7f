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
