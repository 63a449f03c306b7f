package items

import "context"

// ErrGoingAway ends the subscriptions of a server that shuts down, once
// they have been sent every item acknowledged before it began to.
var ErrGoingAway = Errorf(Unavailable, "the server is shutting down")

var subscriptionEndKey = &ctxKey{"subscription end"}

// WithSubscriptionEnd returns a copy of ctx under which a subscription's
// producer reports, through EndSubscription, why its stream ended. The
// transport that runs the operation sets it, to tell the client.
func WithSubscriptionEnd(ctx context.Context, end func(error)) context.Context {
	return context.WithValue(ctx, subscriptionEndKey, end)
}

// EndSubscription reports err as the reason the subscription of ctx ends,
// to the hook of WithSubscriptionEnd if there is one. A producer calls it
// before it closes its stream, for a reason of its own (not ctx's end).
func EndSubscription(ctx context.Context, err error) {
	if end, ok := ctx.Value(subscriptionEndKey).(func(error)); ok {
		end(err)
	}
}

// HasSubscriptionEnd reports whether ctx carries a hook of
// WithSubscriptionEnd, so that a layer under the transport does not
// replace the transport's own.
func HasSubscriptionEnd(ctx context.Context) bool {
	_, ok := ctx.Value(subscriptionEndKey).(func(error))
	return ok
}
