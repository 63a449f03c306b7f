package gqlspec

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"itemsapi/items"
)

// NoIntrospection is a gqlgen extension for production mode: an operation
// that selects __schema or __type is refused as items.ValidationFailed
// before it executes, with a message that says introspection is off.
// Without it gqlgen executes the operation and fails each introspection
// field with an error that reaches the client as an internal error and
// the log at error level, so that every scanner would fill the log.
// __typename stays allowed: clients add it to every selection.
type NoIntrospection struct{}

var (
	_ graphql.HandlerExtension        = NoIntrospection{}
	_ graphql.OperationContextMutator = NoIntrospection{}
)

// ExtensionName implements graphql.HandlerExtension.
func (NoIntrospection) ExtensionName() string { return "NoIntrospection" }

// Validate implements graphql.HandlerExtension.
func (NoIntrospection) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator: it runs
// after validation, before execution.
func (NoIntrospection) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return nil // the meta-fields exist only on the query root
	}
	if field := introspects(oc.Operation.SelectionSet, map[string]bool{}); field != nil {
		return &gqlerror.Error{
			Message:    "GraphQL introspection is not allowed on this server: " + field.Name + " cannot be queried",
			Locations:  []gqlerror.Location{{Line: field.Position.Line, Column: field.Position.Column}},
			Extensions: items.ValidationFailed.Extensions(),
		}
	}
	return nil
}

// introspects returns the first __schema or __type field of a root
// selection set, looking through fragments (each once), or nil.
func introspects(set ast.SelectionSet, seen map[string]bool) *ast.Field {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if sel.Name == "__schema" || sel.Name == "__type" {
				return sel
			}
		case *ast.InlineFragment:
			if f := introspects(sel.SelectionSet, seen); f != nil {
				return f
			}
		case *ast.FragmentSpread:
			if sel.Definition != nil && !seen[sel.Name] {
				seen[sel.Name] = true
				if f := introspects(sel.Definition.SelectionSet, seen); f != nil {
					return f
				}
			}
		}
	}
	return nil
}
