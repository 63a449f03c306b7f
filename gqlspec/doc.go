// Package gqlspec holds the code that exists only because gqlgen (and the
// gqlparser it runs) strays from the GraphQL specifications, or from what
// this server needs. Each piece names the behaviour it covers, so that a
// gqlgen upgrade means reading this folder: where upstream has changed, a
// piece may go.
//
// In this package:
//
//   - StrictVariables (variables.go): gqlparser coerces variables loosely:
//     a JSON number passes as a String (gqlgen decodes numbers with
//     UseNumber, and a json.Number is a Go string), a string of digits as
//     an Int, an Int beyond 32 bits as an Int (vektah/gqlparser#160,
//     #216); its refusals do not name the value sent. The specification's
//     coercion rules, with messages that name the value.
//   - ValidationRules (rules.go): gqlparser lets an Int literal beyond 32
//     bits through when it fits 64, and reports some errors of
//     ValuesOfCorrectType twice; gqlgen's SetDisableSuggestion keeps
//     gqlparser from suggesting field names only, not arguments, input
//     fields, enum values or types.
//   - Limits (limits.go): gqlgen has no bound on a document's tokens,
//     depth, aliases or cost before validation, whose cost is quadratic in
//     the fields for some rules; gqlgen's complexity limit runs after it.
//   - NoIntrospection (refuse.go): with introspection off, gqlgen
//     executes __schema and fails each field with an internal error
//     (logged at error level); this refuses it as a validation error.
//   - NoNestedDefer (refuse.go): gqlgen's executor never finishes some
//     operations with a @defer inside a deferred fragment (a batch
//     resolver under the inner one); they are refused before they run.
//     Both are checks of one extension, refuser, that refuses an
//     operation as GRAPHQL_VALIDATION_FAILED before it executes.
//   - MarshalSlice (slice.go) and the generator wrapper (gqlgen/): gqlgen
//     marshals each element of an object list on a goroutine of its own
//     (graphql.MarshalSliceConcurrently; 99designs/gqlgen#3202), which
//     costs far more than the fields it runs here. The generator rewrites
//     the generated code to marshal in order, and refuses a schema where a
//     resolver that is not a batch resolver sits under a list.
//   - OperationStart (start.go): gqlgen's stats hold no one start of an
//     operation (the request's start is shared by a batch, the read's
//     includes a websocket's wait); metrics and tracing time from this.
//     InOperation marks the responses of an operation, which gqlgen
//     passes through the response interceptors along with those of
//     requests that failed before one ran.
//   - AutomaticPersistedQueries (apq.go): gqlgen's extension refuses a
//     hash that does not match its document, an unknown version or data
//     that is not an object with errors that carry no code, which reach
//     clients as internal errors; these are BAD_REQUEST.
//   - Named (extension.go): the name and the empty schema check that
//     gqlgen asks of every extension, for the server's extensions to
//     embed.
//   - scalar/: gqlgen's built-in scalars coerce input loosely (a number
//     is a String, a string of digits an Int, invalid UTF-8 passes); these
//     coerce as the specification says.
//   - plan/: compiled query plans: gqlgen's executor allocates a field
//     context per field and marshals through interfaces; a plan runs the
//     same resolvers, compiled once per document (see bench/README.md).
//
// Elsewhere, for the same reason, and kept beside what they serve:
//
//   - httpapi/transport.go: GraphQL over HTTP as its specification says
//     (gqlgen answers 422 to a document that does not validate, and sends
//     "data": null where no data key is due; 99designs/gqlgen#1310).
//   - httpapi/websocket.go: both websocket protocols, with operations
//     counted while they run (gqlgen's transport overwrote a running
//     operation's cancel function on a reused id, and did not close with
//     4409 for it).
//   - httpapi/defer.go: a client that takes JSON alone gets deferred
//     fragments inline (gqlgen's executor sends them as later responses
//     whatever the client accepts).
package gqlspec
