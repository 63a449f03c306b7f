package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"itemsapi/gqlspec"
	"itemsapi/items"
)

// errRecovered stands for a panic that Recover has already logged.
var errRecovered = errors.New("recovered from a panic")

// ErrorPresenter returns the one place where a Go error becomes a GraphQL
// error. A client sees the message of an *items.Error with the code that
// items.Code.Shown gives it, and the parse, validation and persisted-query
// errors of the GraphQL engine as they are; anything else is logged with
// the request ID and reaches the client as an internal error with a
// message that tells nothing of the server's insides.
func ErrorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		if e, ok := errors.AsType[*items.Error](err); ok {
			return presented(gqlErr, e.Message, e.Code.Shown())
		}
		if code, ok := gqlErr.Extensions["code"].(string); ok && code != "" && gqlErr.Err == nil {
			return namedVariable(ctx, gqlErr)
		}
		switch {
		case errors.Is(err, errRecovered):
		case ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
			// The client left, or the server is shutting down: nobody
			// reads this answer, and nothing is broken.
			log.InfoContext(ctx, "request ended before its answer",
				"req_id", items.RequestID(ctx), "path", gqlErr.Path.String(), "err", err)
		default:
			log.ErrorContext(ctx, "internal error",
				"req_id", items.RequestID(ctx), "path", gqlErr.Path.String(), "err", err)
		}
		return presented(gqlErr, items.ErrorMessage(err), items.Internal.Public())
	}
}

// presented returns a copy of e with that message and code, keeping its
// path and locations.
func presented(e *gqlerror.Error, message, code string) *gqlerror.Error {
	ext := make(map[string]any, len(e.Extensions)+1)
	for k, v := range e.Extensions {
		ext[k] = v
	}
	ext["code"] = code
	return &gqlerror.Error{
		Message:    message,
		Path:       e.Path,
		Locations:  e.Locations,
		Extensions: ext,
		Rule:       e.Rule,
	}
}

// Recover returns gqlgen's recover function: a panic in a resolver is
// logged with its stack and the request ID, and the client gets an
// internal error (items.Internal) for that field while the server keeps
// serving.
func Recover(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver",
			"req_id", items.RequestID(ctx), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return errRecovered
	}
}

// namedVariable names the variable in the message of a gqlparser coercion
// error ("cannot use string as Int", with path variable.n), as the
// GraphQL reference implementation does: Variable "$n" got an invalid
// value: …; and, when the variables as sent tell it, names the value
// ("Int cannot represent non-integer value: 5.0" where gqlparser says
// "cannot use value 0 as Int"). The path stays, for clients that read it.
func namedVariable(ctx context.Context, e *gqlerror.Error) *gqlerror.Error {
	if len(e.Path) < 2 || e.Path[0] != ast.PathName("variable") {
		return e
	}
	name, ok := e.Path[1].(ast.PathName)
	if !ok {
		return e
	}
	out := *e
	out.Message = gqlspec.ExplainVariable(ctx, e.Path)
	if out.Message == "" {
		out.Message = fmt.Sprintf("Variable \"$%s\" got an invalid value at %s: %s", name, e.Path[1:].String(), e.Message)
	}
	return &out
}
