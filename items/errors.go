package items

import (
	"errors"
	"fmt"
	"slices"
)

// Code classifies an error: a failure of the domain (Invalid, NotFound,
// …), or a request refused before anything ran (BadRequest, ParseFailed,
// …). The table below gives each code the extensions.code a client sees,
// the HTTP status of an answer that it alone refuses, and whether it is
// the server's fault. Codes are not public spellings: read those with
// Public.
type Code string

// The codes. Any error that is not an *Error is Internal.
const (
	Invalid         Code = "invalid"
	NotFound        Code = "not found"
	Unauthenticated Code = "unauthenticated"
	Forbidden       Code = "forbidden"
	Conflict        Code = "conflict"
	Unavailable     Code = "unavailable"
	Internal        Code = "internal"

	// BadRequest is an HTTP request that is not a GraphQL request.
	BadRequest Code = "bad request"
	// ParseFailed is a document that does not parse.
	ParseFailed Code = "parse failed"
	// ValidationFailed is a document that does not validate, variables
	// that do not coerce, or an operation over a limit.
	ValidationFailed Code = "validation failed"
	// PersistedQueryNotFound is a persisted query or trusted document
	// that the server does not know.
	PersistedQueryNotFound Code = "persisted query not found"
)

// codes is the error table, the one place where the public codes (API.md
// lists them) are spelled: each code's extensions.code, the HTTP status of
// an answer that it alone refuses, and whether it is the server's fault
// (logged, and an error in traces). Several codes may share a public
// code, and then agree on its status and fault: a NotFound that reaches a
// client is a resolver's mistake, an internal error to that client.
var codes = [...]struct {
	code   Code
	public string
	status int
	fault  bool
}{
	{BadRequest, "BAD_REQUEST", 400, false},
	{ParseFailed, "GRAPHQL_PARSE_FAILED", 400, false},
	{ValidationFailed, "GRAPHQL_VALIDATION_FAILED", 400, false},
	// Clients expect an unknown persisted query as a 200, to send the
	// document with it.
	{PersistedQueryNotFound, "PERSISTED_QUERY_NOT_FOUND", 200, false},
	{Unauthenticated, "UNAUTHENTICATED", 401, false},
	{Forbidden, "FORBIDDEN", 403, false},
	{Invalid, "BAD_USER_INPUT", 400, false},
	{Conflict, "CONFLICT", 409, false},
	// A subscription that the server ended, or an operation it refused
	// while shutting down: the client resumes elsewhere. In a GraphQL
	// result it is an internal error (see Shown).
	{Unavailable, "SERVICE_UNAVAILABLE", 503, true},
	{Internal, "INTERNAL_SERVER_ERROR", 500, true},
	{NotFound, "INTERNAL_SERVER_ERROR", 500, true},
}

// row is the index of c in codes; an unknown code is Internal.
func (c Code) row() int {
	for i := range codes {
		if codes[i].code == c {
			return i
		}
	}
	return Internal.row()
}

// Public returns the extensions.code that a client sees for c.
func (c Code) Public() string { return codes[c.row()].public }

// Status returns the HTTP status of an answer that c alone refuses.
func (c Code) Status() int { return codes[c.row()].status }

// Fault reports whether c is the server's fault rather than the client's.
func (c Code) Fault() bool { return codes[c.row()].fault }

// Shown returns the extensions.code of c in a GraphQL result: that of
// the client's errors as they are, and INTERNAL_SERVER_ERROR for any fault
// of the server (whose message, from an *Error, is still safe to show).
func (c Code) Shown() string {
	if c.Fault() {
		return Internal.Public()
	}
	return c.Public()
}

// Extensions returns the extensions of a GraphQL error of code c.
func (c Code) Extensions() map[string]any { return map[string]any{"code": c.Public()} }

// PublicCodes returns every public code, each once, in a fixed order.
func PublicCodes() []string {
	out := make([]string, 0, len(codes))
	for _, r := range codes {
		if !slices.Contains(out, r.public) {
			out = append(out, r.public)
		}
	}
	return out
}

// CodeOf returns the first code of the table whose public code is public,
// and false when there is none.
func CodeOf(public string) (Code, bool) {
	for _, r := range codes {
		if r.public == public {
			return r.code, true
		}
	}
	return "", false
}

// PublicFault reports whether an error whose extensions.code is public
// is the server's fault; an unknown or missing code is.
func PublicFault(public string) bool {
	c, ok := CodeOf(public)
	return !ok || c.Fault()
}

// Error is an error that is safe to show a client: its Message says what
// the client did wrong, never how the server works inside.
type Error struct {
	Code    Code
	Message string
}

// Error implements error.
func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with that code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, Internal
// when there is none, and "" for a nil err.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return Internal
}

// ErrorMessage returns the client-safe message of err: that of its *Error,
// or a generic one for an internal error, whose text may hold secrets.
func ErrorMessage(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Message
	}
	return "internal server error"
}
