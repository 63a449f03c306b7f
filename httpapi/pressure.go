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
	writes atomic.Int64 // writes under way
	queued atomic.Int64 // deliveries waiting for the gate
}

// yieldAbove is how many deliveries must wait for the gate before writes
// go first.
const yieldAbove = 1024

// maxDeliveryWait bounds how long one delivery waits for writes, so that
// deliveries go on, slowly, under writes that never stop.
const maxDeliveryWait = 20 * time.Millisecond

// store returns s with its writes counted.
func (p *writePressure) store(s items.Store) items.Store { return &pressuredStore{Store: s, p: p} }

type pressuredStore struct {
	items.Store
	p *writePressure
}

func (s *pressuredStore) AddItem(ctx context.Context, n items.NewItem) (items.Item, error) {
	s.p.writes.Add(1)
	defer s.p.writes.Add(-1)
	return s.Store.AddItem(ctx, n)
}

// yield waits while writes are under way, up to maxDeliveryWait or ctx's
// end. Only the few deliveries inside the gate call it.
func (p *writePressure) yield(ctx context.Context) {
	if p == nil || p.writes.Load() == 0 || p.queued.Load() <= yieldAbove {
		return
	}
	deadline := time.Now().Add(maxDeliveryWait)
	timer := time.NewTimer(250 * time.Microsecond)
	defer timer.Stop()
	for p.writes.Load() > 0 && time.Now().Before(deadline) {
		select {
		case <-timer.C:
			timer.Reset(250 * time.Microsecond)
		case <-ctx.Done():
			return
		}
	}
}

func (s *pressuredStore) UpdateItem(ctx context.Context, id int64, u items.ItemUpdate) (items.Item, error) {
	s.p.writes.Add(1)
	defer s.p.writes.Add(-1)
	return s.Store.UpdateItem(ctx, id, u)
}

func (s *pressuredStore) DeleteItem(ctx context.Context, id int64, d items.ItemDelete) error {
	s.p.writes.Add(1)
	defer s.p.writes.Add(-1)
	return s.Store.DeleteItem(ctx, id, d)
}
