package tracing

import (
	"cmp"
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"itemsapi/gqlspec"
	"itemsapi/items"
)

// Attributes and events of the GraphQL spans that the semantic
// conventions do not name.
const (
	fieldPathKey  = attribute.Key("graphql.field.path")
	errorEvent    = "graphql.error"
	errorCodeKey  = attribute.Key("graphql.error.code")
	errorPathKey  = attribute.Key("graphql.error.path")
	unknownOpName = "GraphQL Operation" // the semantic conventions' name when the type is unknown
)

// Extension returns a gqlgen extension that traces each GraphQL operation
// with a span, and each field that has a resolver with a child span (see
// the package documentation). Its spans are children of the span in the
// request's context, the one of Middleware. Use it first, or right after
// the metrics extension, so that its spans cover the other extensions.
func (t *Tracing) Extension() graphql.HandlerExtension { return extension{"Tracing", t.tracer} }

type extension struct {
	gqlspec.Named
	tracer trace.Tracer
}

var (
	_ graphql.HandlerExtension     = extension{}
	_ graphql.OperationInterceptor = extension{}
	_ graphql.ResponseInterceptor  = extension{}
	_ graphql.FieldInterceptor     = extension{}
)

// InterceptOperation implements graphql.OperationInterceptor. The span of
// a query or mutation ends with its response; that of a subscription when
// its stream ends or its context is done.
func (e extension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	ctx, span := e.startOperation(ctx)
	var once sync.Once
	end := func() { once.Do(func() { span.End() }) }
	stop := context.AfterFunc(ctx, end)
	responses := next(ctx)
	subscription := graphql.GetOperationContext(ctx).Operation.Operation == ast.Subscription

	return func(ctx context.Context) *graphql.Response {
		ctx = gqlspec.InOperation(trace.ContextWithSpan(ctx, span))
		resp := responses(ctx)
		if resp != nil {
			recordErrors(span, resp.Errors)
		}
		if resp == nil || !subscription {
			// Deferred parts (@defer, which this server does not
			// offer) would come after the span ended.
			stop()
			end()
		}
		return resp
	}
}

// InterceptResponse implements graphql.ResponseInterceptor. It traces the
// responses of requests that failed before an operation ran (a document
// that does not parse or validate, variables that do not coerce, a
// limit), which gqlgen passes through the response interceptors but not
// through the operation interceptors.
func (e extension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if gqlspec.IsInOperation(ctx) {
		return next(ctx)
	}
	ctx, span := e.startOperation(ctx)
	defer span.End()
	resp := next(ctx)
	if resp != nil {
		recordErrors(span, resp.Errors)
	}
	return resp
}

// InterceptField implements graphql.FieldInterceptor: a field with a
// resolver of its own gets a span; any other field costs a lookup.
func (e extension) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !fc.IsResolver {
		return next(ctx)
	}
	ctx, span := e.tracer.Start(ctx, fc.Object+"."+fc.Field.Name,
		trace.WithAttributes(fieldPathKey.String(fc.Path().String())))
	defer span.End()
	// A failing field's error, with its code and path, is an event of the
	// operation's span once the error presenter has made it public.
	return next(ctx)
}

// startOperation starts the span of the operation of ctx, named and
// described after the operation of the document that the request chose,
// never after the request's own say-so: "query ListItems", "mutation",
// or "GraphQL Operation" when no operation was chosen.
func (e extension) startOperation(ctx context.Context) (context.Context, trace.Span) {
	name := unknownOpName
	attrs := make([]attribute.KeyValue, 0, 2)
	start := time.Now() // of a request that failed before it had an operation
	if graphql.HasOperationContext(ctx) {
		oc := graphql.GetOperationContext(ctx)
		start = gqlspec.OperationStart(oc)
		if op := oc.Operation; op != nil && op.Operation != "" {
			name = string(op.Operation)
			attrs = append(attrs, semconv.GraphQLOperationTypeKey.String(name))
			if op.Name != "" {
				name += " " + op.Name
				attrs = append(attrs, semconv.GraphQLOperationName(op.Name))
			}
		}
	}
	return e.tracer.Start(ctx, name, trace.WithTimestamp(start), trace.WithAttributes(attrs...))
}

// recordErrors adds an event with the code and path of each error to
// span, and sets its status to Error if one of them is the server's fault
// (items.PublicFault), or has no code.
// Messages are not recorded: some echo a part of the document or of the
// variables.
func recordErrors(span trace.Span, errs gqlerror.List) {
	for _, err := range errs {
		if err == nil {
			continue
		}
		code, _ := err.Extensions["code"].(string)
		attrs := make([]attribute.KeyValue, 0, 2)
		if code != "" {
			attrs = append(attrs, errorCodeKey.String(code))
		}
		if len(err.Path) > 0 {
			attrs = append(attrs, errorPathKey.String(err.Path.String()))
		}
		span.AddEvent(errorEvent, trace.WithAttributes(attrs...))
		if items.PublicFault(code) {
			span.SetStatus(codes.Error, cmp.Or(code, "error without a code"))
		}
	}
}
