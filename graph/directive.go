package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"itemsapi/items"
)

// NewSchema returns the executable schema over r (a *Resolver, or one
// that wraps it), with the @auth directive enforced: it is the one place
// that checks tokens and roles, so resolvers never check again.
func NewSchema(r ResolverRoot) graphql.ExecutableSchema {
	return NewExecutableSchema(Config{
		Schema:     parsedSchema,
		Resolvers:  r,
		Directives: DirectiveRoot{Auth: Auth},
	})
}

// Auth implements @auth(requires: Role): the field resolves only for a
// caller whose token grants at least the required role. It fails with code
// items.Unauthenticated or items.Forbidden, and the field's resolver does
// not run.
func Auth(ctx context.Context, _ any, next graphql.Resolver, requires *items.Role) (any, error) {
	need := items.RoleUser
	if requires != nil {
		need = *requires
	}
	caller, err := items.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	if !caller.Role.Allows(need) {
		return nil, items.Errorf(items.Forbidden, "this field needs a token with the %s role", need)
	}
	return next(ctx)
}
