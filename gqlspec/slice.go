package gqlspec

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// MarshalSlice marshals the elements of a list of objects in order, on the
// calling goroutine. The generated code calls it where stock gqlgen calls
// graphql.MarshalSliceConcurrently (gqlspec/gqlgen explains why), with
// the same arguments: the worker limit, meaningless here, is ignored.
//
// Each element gets a field context holding its index, so that errors carry
// their path and batch resolvers find their parent, and a panic while
// marshalling one element becomes an error and a null for that element
// alone, as with gqlgen.
func MarshalSlice(
	ctx context.Context,
	length int,
	_ int64,
	omitPanicHandler bool,
	marshalElement func(ctx context.Context, i int) graphql.Marshaler,
) graphql.Array {
	ret := make(graphql.Array, length)
	// One allocation each for all the indexes and field contexts.
	indexes := make([]int, length)
	fcs := make([]graphql.FieldContext, length)
	for i := range length {
		indexes[i] = i
		fcs[i].Index = &indexes[i]
		childCtx := graphql.WithFieldContext(ctx, &fcs[i])
		if omitPanicHandler {
			ret[i] = marshalElement(childCtx, i)
		} else {
			ret[i] = marshalRecovering(childCtx, i, marshalElement)
		}
	}
	return ret
}

// marshalRecovering marshals element i, turning a panic into an error on
// that element's path and a null.
func marshalRecovering(ctx context.Context, i int, marshalElement func(ctx context.Context, i int) graphql.Marshaler) (m graphql.Marshaler) {
	defer func() {
		if r := recover(); r != nil {
			graphql.AddError(ctx, graphql.Recover(ctx, r))
			m = graphql.Null
		}
	}()
	return marshalElement(ctx, i)
}
