// Package pubsub fans items out to the subscribers of one process. A
// publisher never blocks: a subscriber whose buffer is full is dropped.
package pubsub

import (
	"context"
	"sync"

	"itemsapi/items"
)

// DefaultBuffer is how many items a subscriber may fall behind before it
// is dropped.
const DefaultBuffer = 256

// ErrTooSlow ends the subscription of a subscriber that fell behind.
var ErrTooSlow = items.Errorf(items.Unavailable, "subscription dropped: the client did not keep up with the items being added")

// errClosed ends the subscriptions of a hub that is closed.
var errClosed = items.Errorf(items.Unavailable, "subscription ended: the server is shutting down")

// Hub is an items.Broker for one process. The zero value is not usable;
// call New.
type Hub struct {
	buffer int

	mu     sync.Mutex
	subs   map[*sub]struct{}
	closed bool
}

type sub struct {
	c    chan items.Item
	once sync.Once
	err  error // set before c is closed
}

func (s *sub) end(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.c)
	})
}

var _ items.Broker = (*Hub)(nil)

// New returns a hub whose subscribers may fall buffer items behind
// (DefaultBuffer when buffer <= 0).
func New(buffer int) *Hub {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	return &Hub{buffer: buffer, subs: make(map[*sub]struct{})}
}

// Subscribe implements items.Broker. It fails only on a closed hub.
func (h *Hub) Subscribe(ctx context.Context) (*items.Subscription, error) {
	s := &sub{c: make(chan items.Item, h.buffer)}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, errClosed
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()

	context.AfterFunc(ctx, func() { h.drop(s, nil) })
	return &items.Subscription{
		C: s.c,
		Err: func() error {
			return s.err
		},
	}, nil
}

// drop removes s and ends its stream with err.
func (h *Hub) drop(s *sub, err error) {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
	s.end(err)
}

// Publish hands it to every subscriber without waiting for any. Callers
// that need subscribers to see items in the order they were added publish
// under the same lock that orders the additions.
func (h *Hub) Publish(it items.Item) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.c <- it:
		default:
			delete(h.subs, s)
			s.end(ErrTooSlow)
		}
	}
}

// Subscribers returns how many subscriptions are active.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Close ends every subscription; later calls to Subscribe fail.
func (h *Hub) Close() {
	h.mu.Lock()
	subs := h.subs
	h.subs = map[*sub]struct{}{}
	h.closed = true
	h.mu.Unlock()
	for s := range subs {
		s.end(errClosed)
	}
}
