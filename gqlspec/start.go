package gqlspec

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// OperationStart returns when the work on the operation of oc began.
// gqlgen's stats hold no one such time: Stats.OperationStart is the start
// of the HTTP request or websocket message, shared by every operation of a
// batch, and Stats.Read.Start the start of reading the operation, which is
// per operation in a batch but on a websocket includes the wait for the
// message. The later of the two is the start; it is now when neither is
// known.
func OperationStart(oc *graphql.OperationContext) time.Time {
	start := oc.Stats.OperationStart
	if oc.Stats.Read.Start.After(start) {
		start = oc.Stats.Read.Start
	}
	if start.IsZero() {
		return time.Now()
	}
	return start
}

// gqlgen passes the responses of an operation through the operation
// interceptors and then the response interceptors, and the response of a
// request that failed before an operation ran (a document that does not
// parse or validate, variables that do not coerce, a limit) through the
// response interceptors only. An extension that handles an operation's
// responses in its operation interceptor marks their context with
// InOperation, and its response interceptor leaves alone those whose
// context IsInOperation.

type inOperationKey struct{}

// InOperation returns ctx marked as that of a response of an operation,
// which the operation interceptors see.
func InOperation(ctx context.Context) context.Context {
	return context.WithValue(ctx, inOperationKey{}, true)
}

// IsInOperation reports whether ctx is marked by InOperation.
func IsInOperation(ctx context.Context) bool {
	return ctx.Value(inOperationKey{}) != nil
}
