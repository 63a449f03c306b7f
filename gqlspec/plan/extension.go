package plan

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"itemsapi/gqlspec"
)

// Extension returns the gqlgen extension that answers operations with the
// engine's plans. Add it after every other extension, so that it runs
// innermost: the operation has passed the limits, strict variables,
// persisted queries and trusted documents, and the metrics and the
// operation's span wrap it, as they wrap gqlgen's executor. An operation
// it does not answer goes on to gqlgen's executor.
func (e *Engine) Extension() graphql.HandlerExtension { return extension{"CompiledPlans", e} }

type extension struct {
	gqlspec.Named
	engine *Engine
}

var _ graphql.OperationInterceptor = extension{}

// InterceptOperation implements graphql.OperationInterceptor.
func (e extension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if ctx.Value(triedKey{}) != nil {
		return next(ctx)
	}
	data, fallback, ok := e.engine.Execute(ctx, graphql.GetOperationContext(ctx))
	if ok {
		return graphql.OneShot(&graphql.Response{Data: data})
	}
	return next(fallback)
}

type triedKey struct{}

// Tried returns a copy of ctx under which the engine's extension leaves
// the operation to gqlgen: a transport that tried the plan itself
// (Engine.Append) and failed sends the operation on to gqlgen with it.
func Tried(ctx context.Context) context.Context { return context.WithValue(ctx, triedKey{}, true) }
