package items

import (
	"errors"
	"fmt"
)

// Code classifies an error. Each code maps one-to-one to the
// extensions.code a GraphQL client sees.
type Code string

// The codes. Any error that is not an *Error is Internal.
const (
	Invalid         Code = "BAD_USER_INPUT"
	NotFound        Code = "NOT_FOUND"
	Unauthenticated Code = "UNAUTHENTICATED"
	Forbidden       Code = "FORBIDDEN"
	Conflict        Code = "CONFLICT"
	Unavailable     Code = "SERVICE_UNAVAILABLE"
	Internal        Code = "INTERNAL_SERVER_ERROR"
)

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
