package pubsub_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"itemsapi/items"
	"itemsapi/pubsub"
)

const timeout = 10 * time.Second

func subscribe(t *testing.T, ctx context.Context, h *pubsub.Hub) *items.Subscription {
	t.Helper()
	sub, err := h.Subscribe(ctx)
	if err != nil {
		t.Fatalf("Subscribe() = %v", err)
	}
	return sub
}

// next returns the next item of sub, and false once sub has ended.
func next(t *testing.T, sub *items.Subscription) (items.Item, bool) {
	t.Helper()
	select {
	case it, ok := <-sub.C:
		return it, ok
	case <-time.After(timeout):
		t.Fatalf("no item nor end within %v", timeout)
		return items.Item{}, false
	}
}

// drain reads sub until it ends and returns what it read.
func drain(t *testing.T, sub *items.Subscription) []items.Item {
	t.Helper()
	var got []items.Item
	for {
		it, ok := next(t, sub)
		if !ok {
			return got
		}
		got = append(got, it)
	}
}

func item(id int64) items.Item { return items.Item{ID: id, Name: "item"} }

func TestOrder(t *testing.T) {
	h := pubsub.New(0)
	defer h.Close()
	subs := []*items.Subscription{subscribe(t, t.Context(), h), subscribe(t, t.Context(), h)}
	var want []items.Item
	for id := range int64(pubsub.DefaultBuffer) {
		want = append(want, item(id+1))
		h.Publish(item(id + 1))
	}
	for i, sub := range subs {
		var got []items.Item
		for range want {
			it, ok := next(t, sub)
			if !ok {
				t.Fatalf("subscriber %d ended after %d items: Err() = %v", i, len(got), sub.Err())
			}
			got = append(got, it)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("subscriber %d: items mismatch (-published +received):\n%s", i, diff)
		}
	}
}

func TestSlowSubscriberDropped(t *testing.T) {
	const buffer = 2
	h := pubsub.New(buffer)
	defer h.Close()
	slow := subscribe(t, t.Context(), h)
	fast := subscribe(t, t.Context(), h)

	// The publisher never waits: with the slow subscriber's buffer full,
	// Publish returns at once and drops it.
	for id := int64(1); id <= buffer+1; id++ {
		h.Publish(item(id))
		if it, ok := next(t, fast); !ok || it.ID != id {
			t.Fatalf("fast subscriber got %v, %v, want item %d", it, ok, id)
		}
	}
	if got := h.Subscribers(); got != 1 {
		t.Errorf("Subscribers() = %d after dropping the slow one, want 1", got)
	}
	got := drain(t, slow)
	if diff := cmp.Diff([]items.Item{item(1), item(2)}, got); diff != "" {
		t.Errorf("slow subscriber got (-want +got):\n%s", diff)
	}
	if err := slow.Err(); !errors.Is(err, pubsub.ErrTooSlow) {
		t.Errorf("slow subscriber Err() = %v, want ErrTooSlow", err)
	}
	if code := items.ErrorCode(slow.Err()); code != items.Unavailable {
		t.Errorf("ErrorCode(slow.Err()) = %q, want %q", code, items.Unavailable)
	}

	// The fast subscriber goes on.
	h.Publish(item(4))
	if it, ok := next(t, fast); !ok || it.ID != 4 {
		t.Errorf("fast subscriber got %v, %v, want item 4", it, ok)
	}
}

func TestCancel(t *testing.T) {
	h := pubsub.New(0)
	defer h.Close()
	ctx, cancel := context.WithCancel(t.Context())
	sub := subscribe(t, ctx, h)
	other := subscribe(t, t.Context(), h)
	h.Publish(item(1))
	h.Publish(item(2))
	cancel()
	// What was published before the cancel may still be read.
	got := drain(t, sub)
	if len(got) > 2 {
		t.Errorf("after cancel, read %v, want at most items 1 and 2", got)
	}
	if err := sub.Err(); err != nil {
		t.Errorf("after cancel, Err() = %v, want nil", err)
	}
	if n := h.Subscribers(); n != 1 {
		t.Errorf("Subscribers() = %d after one of two cancelled, want 1", n)
	}
	h.Publish(item(3))
	for _, id := range []int64{1, 2, 3} {
		if it, ok := next(t, other); !ok || it.ID != id {
			t.Errorf("other subscriber got %v, %v, want item %d", it, ok, id)
		}
	}
}

func TestCancelledBeforeSubscribe(t *testing.T) {
	h := pubsub.New(0)
	defer h.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	sub := subscribe(t, ctx, h)
	drain(t, sub)
	if err := sub.Err(); err != nil {
		t.Errorf("Err() = %v, want nil", err)
	}
}

func TestClose(t *testing.T) {
	h := pubsub.New(0)
	subs := []*items.Subscription{subscribe(t, t.Context(), h), subscribe(t, t.Context(), h)}
	h.Publish(item(1))
	h.Close()
	for i, sub := range subs {
		got := drain(t, sub)
		if len(got) > 1 {
			t.Errorf("subscriber %d read %v after Close, want at most item 1", i, got)
		}
		if code := items.ErrorCode(sub.Err()); code != items.Unavailable {
			t.Errorf("subscriber %d: Err() = %v (code %q), want code %q", i, sub.Err(), code, items.Unavailable)
		}
	}
	if sub, err := h.Subscribe(t.Context()); err == nil {
		t.Errorf("Subscribe() after Close = %v, nil, want an error", sub)
	}
	h.Publish(item(2)) // does not panic
	h.Close()          // nor does a second Close
	if n := h.Subscribers(); n != 0 {
		t.Errorf("Subscribers() after Close = %d, want 0", n)
	}
}

// TestConcurrent publishes while subscribers come, go and fall behind, for
// the race detector: no send on a closed channel, no data race.
func TestConcurrent(t *testing.T) {
	h := pubsub.New(4)
	var background, cyclers sync.WaitGroup
	stop := make(chan struct{})
	background.Go(func() {
		for id := int64(1); ; id++ {
			select {
			case <-stop:
				return
			default:
				h.Publish(item(id))
			}
		}
	})
	for range 8 {
		sub := subscribe(t, t.Context(), h)
		background.Go(func() {
			for range sub.C {
			}
		})
	}
	for range 8 {
		cyclers.Go(func() {
			for range 50 {
				ctx, cancel := context.WithCancel(t.Context())
				sub, err := h.Subscribe(ctx)
				if err != nil {
					t.Errorf("Subscribe() = %v", err)
					cancel()
					return
				}
				prev := int64(0)
				for range 3 {
					it, ok := <-sub.C
					if !ok {
						break
					}
					if it.ID <= prev {
						t.Errorf("got item %d after %d", it.ID, prev)
					}
					prev = it.ID
				}
				cancel()
				for range sub.C {
				}
				if err := sub.Err(); err != nil && !errors.Is(err, pubsub.ErrTooSlow) {
					t.Errorf("Err() = %v, want nil or ErrTooSlow", err)
				}
			}
		})
	}
	cyclers.Wait()
	close(stop)
	h.Close()
	background.Wait()
}
