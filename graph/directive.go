package graph

import (
	"context"
	"maps"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"itemsapi/items"
)

// NewSchema returns the executable schema over r, with the @auth directive
// enforced: it is the one place that checks tokens and roles, so resolvers
// never check again.
func NewSchema(r *Resolver) graphql.ExecutableSchema {
	return NewExecutableSchema(Config{
		Schema:     withoutDefer(parsedSchema),
		Resolvers:  r,
		Directives: DirectiveRoot{Auth: Auth},
	})
}

// withoutDefer returns s without the @defer directive that gqlparser's
// prelude declares: the server delivers no incremental results, and the
// schema that introspection shows is schema.graphqls as written.
func withoutDefer(s *ast.Schema) *ast.Schema {
	c := *s
	c.Directives = maps.Clone(s.Directives)
	delete(c.Directives, "defer")
	return &c
}

// Auth implements @auth(requires: Role): the field resolves only for a
// caller whose token grants at least the required role. It fails with code
// UNAUTHENTICATED or FORBIDDEN, and the field's resolver does not run.
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
