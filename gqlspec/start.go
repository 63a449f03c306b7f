package gqlspec

import (
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
