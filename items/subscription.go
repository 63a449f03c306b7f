package items

import (
	"context"
	"sync/atomic"
)

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

// Gate bounds how many subscription events are being turned into answers
// at once: when an event reaches twenty thousand subscribers, a few at a
// time are executed while the others wait, rather than all of them at
// once, each with a part-built answer and a stack grown by the execution.
// The zero value is not usable; call NewGate.
type Gate struct{ slots chan struct{} }

// NewGate returns a gate of n slots (at least 1).
func NewGate(n int) *Gate { return &Gate{slots: make(chan struct{}, max(n, 1))} }

// Enter takes a slot, waiting for one; it fails with ctx's error.
func (g *Gate) Enter(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Leave gives back a slot taken by Enter.
func (g *Gate) Leave() { <-g.slots }

// Pacer paces one subscription's producer to the transport that runs it.
// The producer announces each item (and the end of its stream) before it
// hands it over, and hands it over once the transport says it is ready for
// it. So the transport can wait for news without executing anything, and
// execute each item on a goroutine that ends with it (inside a Gate): its
// own long-lived goroutine keeps a small stack, whatever an execution
// needs, and a subscriber that does not read holds up no execution. A nil
// *Pacer paces nothing.
type Pacer struct {
	joined  atomic.Bool
	pending chan struct{}
	ready   chan struct{}
}

// NewPacer returns a new pacer for one subscription.
func NewPacer() *Pacer {
	return &Pacer{pending: make(chan struct{}, 1), ready: make(chan struct{}, 1)}
}

var pacerKey = &ctxKey{"pacer"}

// WithPacer returns a copy of ctx whose subscription p paces.
func WithPacer(ctx context.Context, p *Pacer) context.Context {
	return context.WithValue(ctx, pacerKey, p)
}

// JoinPacer returns the pacer of ctx's subscription, or nil, and records
// that a producer follows it: a producer calls it in Subscribe, before
// returning.
func JoinPacer(ctx context.Context) *Pacer {
	p, _ := ctx.Value(pacerKey).(*Pacer)
	if p != nil {
		p.joined.Store(true)
	}
	return p
}

// Joined reports whether a producer follows p: only then are its items
// announced.
func (p *Pacer) Joined() bool { return p != nil && p.joined.Load() }

// Announce tells the transport that an item, or the end of the stream, is
// coming. The producer calls it before Wait, and before it closes its
// stream.
func (p *Pacer) Announce() {
	if p != nil {
		nudge(p.pending)
	}
}

// Pending receives once an item, or the end of the stream, has been
// announced.
func (p *Pacer) Pending() <-chan struct{} { return p.pending }

// Ready says that the transport waits for the next item: it calls it
// before each call of the operation's response handler.
func (p *Pacer) Ready() {
	if p != nil {
		nudge(p.ready)
	}
}

// nudge sends on c, a channel of one slot, unless a send is waiting in it
// already.
func nudge(c chan<- struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Wait blocks the producer until the transport is ready for an item; it
// fails with ctx's error.
func (p *Pacer) Wait(ctx context.Context) error {
	if p == nil {
		return nil
	}
	select {
	case <-p.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
