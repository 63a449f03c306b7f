package gqlspec

import (
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// NoIntrospection returns a gqlgen extension for production mode: an
// operation that selects __schema or __type is refused as
// items.ValidationFailed before it executes, with a message that says
// introspection is off. Without it gqlgen executes the operation and fails
// each introspection field with an error that reaches the client as an
// internal error and the log at error level, so that every scanner would
// fill the log. __typename stays allowed: clients add it to every
// selection.
func NoIntrospection() graphql.HandlerExtension {
	return refuser{"NoIntrospection", refuseIntrospection}
}

// refuseIntrospection refuses a query that selects __schema or __type.
func refuseIntrospection(oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return nil // the meta-fields exist only on the query root
	}
	if field := introspects(oc.Operation.SelectionSet, map[string]bool{}); field != nil {
		return refusal("GraphQL introspection is not allowed on this server: "+field.Name+" cannot be queried", field.Position)
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
