package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"itemsapi/gqlspec"
	"itemsapi/items"
)

// Extension returns a gqlgen extension that measures GraphQL requests:
// itemsapi_graphql_requests_total and
// itemsapi_graphql_request_duration_seconds by operation name and type,
// itemsapi_graphql_errors_total by the extensions.code of each error a
// response carries, and itemsapi_subscriptions_active (the subscriptions
// whose stream has not ended, but for operations that their transport
// counts with OperationStarted).
//
// It sees every response of gqlgen's executor: those of operations that
// ran (each event of a subscription included) and those of requests that
// failed before anything ran (a document that does not parse or validate,
// variables that do not coerce, a limit, an unknown persisted query). Use
// it before any other extension, so that it is the outermost and sees the
// errors as the client does.
//
// An operation name is its own label value if it is a GraphQL name of at
// most 64 characters that named an operation of a valid document among
// the first MaxOperationNames such names; otherwise it is "other". An
// operation without a name is "anonymous". The type is "query",
// "mutation", "subscription", or "unknown" when no operation was selected.
func (m *Metrics) Extension() graphql.HandlerExtension { return extension{"Metrics", m} }

type extension struct {
	gqlspec.Named
	m *Metrics
}

var (
	_ graphql.HandlerExtension     = extension{}
	_ graphql.OperationInterceptor = extension{}
	_ graphql.ResponseInterceptor  = extension{}
)

// InterceptOperation implements graphql.OperationInterceptor. It counts
// the errors of every response of the operation, including those the
// executor makes without running the response interceptors (a
// subscription whose resolver failed).
func (e extension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	op, typ := e.m.operationLabels(oc)
	e.m.gqlRequests.WithLabelValues(op, typ).Inc()
	start := gqlspec.OperationStart(oc)
	responses := next(ctx)

	if typ != string(ast.Subscription) {
		first := true
		return func(ctx context.Context) *graphql.Response {
			resp := responses(gqlspec.InOperation(ctx))
			if first {
				// Deferred parts (@defer) come later and are not timed.
				first = false
				e.m.gqlDuration.WithLabelValues(op, typ).Observe(time.Since(start).Seconds())
			}
			if resp != nil && ctx.Err() == nil {
				// A request its client left fails with the context's
				// error, which nobody sees: not an error of the service.
				e.m.countErrors(resp.Errors)
			}
			return resp
		}
	}

	if ctx.Value(countedKey{}) != nil {
		// Its transport counts it for as long as it runs (see
		// OperationStarted).
		return func(ctx context.Context) *graphql.Response {
			resp := responses(gqlspec.InOperation(ctx))
			if resp != nil {
				e.m.countErrors(resp.Errors)
			}
			return resp
		}
	}

	// A subscription is active from now until its stream ends: the
	// handler returns nil, or the operation's context is done (the client
	// stopped it, the connection closed, or a transport gave up on the
	// stream without reading it to the end).
	e.m.gqlDuration.WithLabelValues(op, typ).Observe(time.Since(start).Seconds())
	e.m.subscriptions.Inc()
	var once sync.Once
	end := func() { once.Do(e.m.subscriptions.Dec) }
	stop := context.AfterFunc(ctx, end)
	return func(ctx context.Context) *graphql.Response {
		resp := responses(gqlspec.InOperation(ctx))
		if resp == nil {
			stop()
			end()
			return nil
		}
		e.m.countErrors(resp.Errors)
		return resp
	}
}

// OperationAnswered counts an operation that was answered without
// gqlgen's executor (gqlspec/plan), as Extension counts an operation it
// runs: one request of its name and type, the time since its start, and
// no error.
func (m *Metrics) OperationAnswered(oc *graphql.OperationContext) {
	op, typ := m.operationLabels(oc)
	s := m.opSeries.get(opLabels{op, typ})
	s.requests.Inc()
	s.duration.Observe(time.Since(gqlspec.OperationStart(oc)).Seconds())
}

// PlanOutcome returns the function that counts one operation of that
// outcome (compiled, fallback or unsupported) in
// itemsapi_graphql_plans_total.
func (m *Metrics) PlanOutcome(outcome string) func() {
	return m.plans.WithLabelValues(outcome).Inc
}

// countedKey marks the context of an operation whose transport counts it
// in itemsapi_subscriptions_active itself.
type countedKey struct{}

// OperationStarted counts one operation in itemsapi_subscriptions_active
// until the returned function is called (later calls do nothing), and
// returns a copy of ctx under which Extension does not count that
// operation again. A transport that runs each operation on a goroutine of
// its own calls it as that goroutine starts, runs the operation under the
// returned context, and calls the function as the goroutine returns: the
// gauge then counts exactly what runs, queries and mutations included,
// however the client ended the operation.
func (m *Metrics) OperationStarted(ctx context.Context) (context.Context, func()) {
	ctx = m.CountOperation(ctx)
	var once sync.Once
	return ctx, func() { once.Do(m.OperationEnded) }
}

// CountOperation is OperationStarted for a transport that keeps no
// function for each operation (a websocket's parked subscriptions: 20,000
// closures that the collector would mark at every cycle): it counts the
// operation, and the transport calls OperationEnded exactly once as the
// operation ends.
func (m *Metrics) CountOperation(ctx context.Context) context.Context {
	m.subscriptions.Inc()
	return context.WithValue(ctx, countedKey{}, true)
}

// OperationEnded uncounts an operation of CountOperation.
func (m *Metrics) OperationEnded() { m.subscriptions.Dec() }

// InterceptResponse implements graphql.ResponseInterceptor. It measures
// the responses of requests that failed before an operation ran, which
// gqlgen's DispatchError passes through the response interceptors but not
// through the operation interceptors.
func (e extension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if gqlspec.IsInOperation(ctx) {
		return resp // InterceptOperation counts it
	}
	op, typ := "anonymous", "unknown"
	if graphql.HasOperationContext(ctx) {
		oc := graphql.GetOperationContext(ctx)
		op, typ = e.m.operationLabels(oc)
		e.m.gqlDuration.WithLabelValues(op, typ).Observe(time.Since(gqlspec.OperationStart(oc)).Seconds())
	}
	e.m.gqlRequests.WithLabelValues(op, typ).Inc()
	if resp != nil {
		e.m.countErrors(resp.Errors)
	}
	return resp
}

// operationLabels returns the operation and type labels of oc. A name
// that is new to the label set joins it only if it names an operation of
// a document that parsed and validated: the operationName of a request
// that failed earlier is only the client's say-so.
func (m *Metrics) operationLabels(oc *graphql.OperationContext) (op, typ string) {
	if oc.Operation == nil {
		return m.names.label(oc.OperationName, false), "unknown"
	}
	switch oc.Operation.Operation {
	case ast.Query, ast.Mutation, ast.Subscription:
		typ = string(oc.Operation.Operation)
	default:
		typ = "unknown"
	}
	return m.names.label(oc.Operation.Name, true), typ
}

// countErrors counts each error by its extensions.code.
func (m *Metrics) countErrors(errs gqlerror.List) {
	for _, err := range errs {
		m.gqlErrors.WithLabelValues(codeLabel(err)).Inc()
	}
}

// codeLabel is the extensions.code of err if it is a public code (see
// items.PublicCodes), and "other" otherwise.
func codeLabel(err *gqlerror.Error) string {
	if err == nil {
		return other
	}
	code, _ := err.Extensions["code"].(string)
	if _, ok := items.CodeOf(code); ok {
		return code
	}
	return other
}

// CachedResponse measures a query answered from the response cache, which
// runs no operation and so no extension: it counts as a request of its
// operation, and as a hit of itemsapi_graphql_response_cache_hits_total.
// The name was admitted to the label set when the answer was first made.
func (m *Metrics) CachedResponse(operationName string, d time.Duration) {
	op := m.names.label(operationName, false)
	s := m.opSeries.get(opLabels{op, string(ast.Query)})
	s.requests.Inc()
	s.duration.Observe(d.Seconds())
	m.cacheHits.Inc()
}
