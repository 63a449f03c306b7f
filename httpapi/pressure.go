package httpapi

import (
	"context"
	"sync/atomic"
	"time"

	"itemsapi/items"
)

// writePressure gives writes priority over subscription deliveries when
// deliveries pile up. An event can reach tens of thousands of
// subscriptions, each a GraphQL execution and a write to a socket: on a
// server with a CPU or two, that work would take the CPU from the writers,
// and addItem would wait behind deliveries to clients that may not even
// read. So while more than yieldAbove deliveries wait for the gate and
// writes are under way, a delivery about to be executed waits, up to
// maxDeliveryWait, for them to finish: deliveries then use the CPU that
// writes leave, such as the time a commit waits for the disk. Subscribers
// get their items later, never fewer of them (they read the log from
// their position). With fewer deliveries waiting, nothing waits.
type writePressure struct {
	writes *items.Writes // the store's, which says what writes are under way
	queued atomic.Int64  // deliveries waiting for the gate
}

// yieldAbove is how many deliveries must wait for the gate before writes
// go first.
const yieldAbove = 1024

// maxDeliveryWait bounds how long one delivery waits for writes, so that
// deliveries go on, slowly, under writes that never stop.
const maxDeliveryWait = 20 * time.Millisecond

// yield waits while writes are under way, up to maxDeliveryWait or ctx's
// end. Only the few deliveries inside the gate call it.
func (p *writePressure) yield(ctx context.Context) {
	if p == nil || p.queued.Load() <= yieldAbove || p.writes.Version().Quiet() {
		return
	}
	deadline := time.Now().Add(maxDeliveryWait)
	timer := time.NewTimer(250 * time.Microsecond)
	defer timer.Stop()
	for !p.writes.Version().Quiet() && time.Now().Before(deadline) {
		select {
		case <-timer.C:
			timer.Reset(250 * time.Microsecond)
		case <-ctx.Done():
			return
		}
	}
}
