package plan

import (
	"context"

	"itemsapi/graph"
	"itemsapi/graph/model"
	"itemsapi/items"
)

// Replaying returns the resolvers of r for gqlgen's executor beside an
// Engine: a mutation's resolver that a plan called before it failed is
// not called again when gqlgen then answers the operation, but returns
// what that call returned (or raises its panic again), recorded in the
// context the plan handed gqlgen (see Engine.Append). The @auth
// directive around it runs again, for the same caller, as it did in the
// plan. Every other resolver is r's own.
func Replaying(r graph.ResolverRoot) graph.ResolverRoot { return replayRoot{r} }

type replayRoot struct{ graph.ResolverRoot }

func (r replayRoot) Mutation() graph.MutationResolver {
	return replayMutation{r.ResolverRoot.Mutation()}
}

// replayMutation replays the mutations that plans compile (resolvers.go);
// the others are only ever called by gqlgen.
type replayMutation struct{ graph.MutationResolver }

// recorded returns the outcome in ctx, if a plan recorded one.
func recorded[T any](ctx context.Context) (v T, ok bool, err error) {
	o, ok := ctx.Value(outcomeKey{}).(*outcome)
	if !ok {
		return v, false, nil
	}
	got, err := o.replay()
	v, _ = got.(T)
	return v, true, err
}

func (m replayMutation) AddItem(ctx context.Context, input items.NewItem) (items.Item, error) {
	if it, ok, err := recorded[items.Item](ctx); ok {
		return it, err
	}
	return m.MutationResolver.AddItem(ctx, input)
}

func (m replayMutation) UpdateItem(ctx context.Context, id int64, input model.UpdateItemInput) (items.Item, error) {
	if it, ok, err := recorded[items.Item](ctx); ok {
		return it, err
	}
	return m.MutationResolver.UpdateItem(ctx, id, input)
}

func (m replayMutation) DeleteItem(ctx context.Context, id int64, expectedVersion *int) (int64, error) {
	if deleted, ok, err := recorded[int64](ctx); ok {
		return deleted, err
	}
	return m.MutationResolver.DeleteItem(ctx, id, expectedVersion)
}
