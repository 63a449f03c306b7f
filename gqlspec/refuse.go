package gqlspec

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"itemsapi/items"
)

// refuser is a gqlgen extension that refuses, as
// GRAPHQL_VALIDATION_FAILED, an operation that its check finds fault
// with. It runs after validation, before anything executes.
type refuser struct {
	Named
	check func(*graphql.OperationContext) *gqlerror.Error
}

var (
	_ graphql.HandlerExtension        = refuser{}
	_ graphql.OperationContextMutator = refuser{}
)

// MutateOperationContext implements graphql.OperationContextMutator.
func (r refuser) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	return r.check(oc)
}

// refusal is the error of an operation that a refuser refuses for what
// stands at pos.
func refusal(msg string, pos *ast.Position) *gqlerror.Error {
	return &gqlerror.Error{
		Message:    msg,
		Locations:  []gqlerror.Location{{Line: pos.Line, Column: pos.Column}},
		Extensions: items.ValidationFailed.Extensions(),
	}
}

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

// NoNestedDefer returns a gqlgen extension that refuses, as
// GRAPHQL_VALIDATION_FAILED and before anything executes, an operation
// with a @defer inside a deferred fragment. gqlgen's executor (0.17.98)
// never finishes some of them: `{ item(id: "7") { ... @defer { ... @defer
// { createdBy { id } } } } }` waits forever for a deferred result that no
// goroutine sends (a batch resolver under the inner fragment), holding
// its request, whatever the client accepts. One level of @defer is
// unaffected, and is what clients send.
func NoNestedDefer() graphql.HandlerExtension {
	return refuser{"NoNestedDefer", refuseNestedDefer}
}

// refuseNestedDefer does not walk a document that does not spell "defer".
func refuseNestedDefer(oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || !strings.Contains(oc.RawQuery, "defer") {
		return nil
	}
	if d := nestedDefer(oc.Operation.SelectionSet, false, map[deferVisit]bool{}); d != nil {
		return refusal("@defer inside a deferred fragment is not supported: defer the outer fragment alone", d.Position)
	}
	return nil
}

// deferVisit is a named fragment visited inside a deferred fragment or not.
type deferVisit struct {
	name     string
	deferred bool
}

// nestedDefer returns the first @defer of set that may defer a fragment
// inside a fragment already deferred (deferred says whether set is), or
// nil. It looks through named fragments, each once in each state.
func nestedDefer(set ast.SelectionSet, deferred bool, seen map[deferVisit]bool) *ast.Directive {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if d := nestedDefer(sel.SelectionSet, deferred, seen); d != nil {
				return d
			}
		case *ast.InlineFragment:
			if d := deferring(sel.Directives); d != nil && deferred {
				return d
			} else if d := nestedDefer(sel.SelectionSet, deferred || d != nil, seen); d != nil {
				return d
			}
		case *ast.FragmentSpread:
			d := deferring(sel.Directives)
			if d != nil && deferred {
				return d
			}
			v := deferVisit{sel.Name, deferred || d != nil}
			if sel.Definition == nil || seen[v] {
				continue
			}
			seen[v] = true
			if d := nestedDefer(sel.Definition.SelectionSet, v.deferred, seen); d != nil {
				return d
			}
		}
	}
	return nil
}

// deferring returns the @defer of dirs unless it is absent or its `if` is
// the literal false; a variable may be true.
func deferring(dirs ast.DirectiveList) *ast.Directive {
	d := dirs.ForName("defer")
	if d == nil {
		return nil
	}
	if a := d.Arguments.ForName("if"); a != nil && a.Value != nil && a.Value.Kind == ast.BooleanValue && a.Value.Raw == "false" {
		return nil
	}
	return d
}
