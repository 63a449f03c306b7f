package plan

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// Extension is the gqlgen extension that answers operations with plans.
// Add it after every other extension, so that it runs innermost: the
// operation has passed the limits, strict variables, persisted queries
// and trusted documents, and the metrics and the operation's span wrap
// it, as they wrap gqlgen's executor. An operation it does not answer
// goes on to gqlgen's executor.
type Extension struct{ Engine *Engine }

var (
	_ graphql.HandlerExtension     = Extension{}
	_ graphql.OperationInterceptor = Extension{}
)

// ExtensionName implements graphql.HandlerExtension.
func (Extension) ExtensionName() string { return "CompiledPlans" }

// Validate implements graphql.HandlerExtension.
func (Extension) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation implements graphql.OperationInterceptor.
func (e Extension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if ctx.Value(triedKey{}) != nil {
		return next(ctx)
	}
	data, fallback, ok := e.Engine.Execute(ctx, graphql.GetOperationContext(ctx))
	if ok {
		return graphql.OneShot(&graphql.Response{Data: data})
	}
	return next(fallback)
}

type triedKey struct{}

// Tried returns a copy of ctx under which Extension leaves the operation
// to gqlgen: a transport that tried the plan itself (Engine.Append) and
// failed sends the operation on to gqlgen with it.
func Tried(ctx context.Context) context.Context { return context.WithValue(ctx, triedKey{}, true) }
