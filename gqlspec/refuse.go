package gqlspec

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"itemsapi/items"
)

// refuser is a gqlgen extension that refuses, as
// GRAPHQL_VALIDATION_FAILED, an operation that its check finds fault
// with. It runs after validation, before anything executes.
type refuser struct {
	name  string
	check func(*graphql.OperationContext) *gqlerror.Error
}

var (
	_ graphql.HandlerExtension        = refuser{}
	_ graphql.OperationContextMutator = refuser{}
)

// ExtensionName implements graphql.HandlerExtension.
func (r refuser) ExtensionName() string { return r.name }

// Validate implements graphql.HandlerExtension.
func (refuser) Validate(graphql.ExecutableSchema) error { return nil }

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
