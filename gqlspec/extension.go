package gqlspec

import "github.com/99designs/gqlgen/graphql"

// Named is the part of graphql.HandlerExtension that most extensions
// write the same way: a name, and nothing to check of the schema. An
// extension embeds it and implements only the interceptors it needs.
type Named string

var _ graphql.HandlerExtension = Named("")

// ExtensionName implements graphql.HandlerExtension.
func (n Named) ExtensionName() string { return string(n) }

// Validate implements graphql.HandlerExtension: there is nothing to check.
func (Named) Validate(graphql.ExecutableSchema) error { return nil }
