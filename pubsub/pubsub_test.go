package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"itemsapi/items"
	"itemsapi/pubsub"
	"itemsapi/store/storetest"
)

const timeout = 10 * time.Second

// store is the durable log a Log reads when a subscriber is behind its
// memory: every event appended, kept in order.
type store struct {
	mu     sync.Mutex
	events []items.Event
	reads  int
}

func (s *store) add(evs ...items.Event) {
	s.mu.Lock()
	s.events = append(s.events, evs...)
	s.mu.Unlock()
}

func (s *store) read(_ context.Context, after int64, limit int) ([]items.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	i := sort.Search(len(s.events), func(i int) bool { return s.events[i].Pos > after })
	return append([]items.Event(nil), s.events[i:min(len(s.events), i+limit)]...), nil
}

func (s *store) readCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// event returns the event at pos, whose item has the same ID.
func event(pos int64) items.Event {
	return items.Event{Pos: pos, Item: items.Item{ID: pos, Name: fmt.Sprint("item ", pos)}}
}

// appendRange appends the events from..to to the store, then to the log,
// as a store's writer does once they are durable.
func appendRange(s *store, l *pubsub.Log, from, to int64) []items.Item {
	var evs []items.Event
	var its []items.Item
	for p := from; p <= to; p++ {
		evs = append(evs, event(p))
		its = append(its, event(p).Item)
	}
	s.add(evs...)
	l.Append(evs...)
	return its
}

func newLog(t *testing.T, ring int) (*store, *pubsub.Log) {
	t.Helper()
	s := &store{}
	l := pubsub.New(s.read, 0, pubsub.Options{Ring: ring})
	t.Cleanup(l.Close)
	return s, l
}

func subscribe(t *testing.T, ctx context.Context, l *pubsub.Log, after int64) *items.Subscription {
	t.Helper()
	sub, err := l.Subscribe(ctx, after)
	if err != nil {
		t.Fatalf("Subscribe(%d) = %v", after, err)
	}
	return sub
}

func TestOrderAndFanOut(t *testing.T) {
	s, l := newLog(t, 8)
	subs := []*items.Subscription{subscribe(t, t.Context(), l, items.FromNow), subscribe(t, t.Context(), l, items.FromNow)}
	want := appendRange(s, l, 1, 100)
	for i, sub := range subs {
		if diff := cmp.Diff(want, storetest.Receive(t, sub, len(want))); diff != "" {
			t.Errorf("subscriber %d (-want +got):\n%s", i, diff)
		}
	}
}

func TestFromNowSkipsEarlierEvents(t *testing.T) {
	s, l := newLog(t, 8)
	appendRange(s, l, 1, 5)
	sub := subscribe(t, t.Context(), l, items.FromNow)
	want := appendRange(s, l, 6, 7)
	if diff := cmp.Diff(want, storetest.Receive(t, sub, 2)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestResumeAfterReadsTheStore(t *testing.T) {
	s, l := newLog(t, 4)
	all := appendRange(s, l, 1, 50) // the ring keeps 47..50
	sub := subscribe(t, t.Context(), l, 10)
	if diff := cmp.Diff(all[10:], storetest.Receive(t, sub, 40)); diff != "" {
		t.Errorf("resumed after 10 (-want +got):\n%s", diff)
	}
	if s.readCount() == 0 {
		t.Errorf("the store was never read, though the ring holds only the last 4 events")
	}
	more := appendRange(s, l, 51, 52)
	if diff := cmp.Diff(more, storetest.Receive(t, sub, 2)); diff != "" {
		t.Errorf("after catching up (-want +got):\n%s", diff)
	}
}

// TestFollowAbove: FollowAbove passes over the items whose ID is at or
// below its floor, in whatever order the IDs come in the log (as on
// PostgreSQL, where they commit in any order) and wherever they are read
// from, and it leaves a Tap alone: a transport that reads a tapped log
// itself would deliver every item.
func TestFollowAbove(t *testing.T) {
	s, l := newLog(t, 4)
	appendRange(s, l, 1, 5)
	tap := &pubsub.Tap{}
	sub, err := l.FollowAbove(pubsub.WithTap(t.Context(), tap), items.FromNow, 10)
	if err != nil {
		t.Fatalf("FollowAbove(FromNow, 10) = %v", err)
	}
	if tap.Log() != nil {
		t.Errorf("FollowAbove recorded its subscription in the context's Tap")
	}
	var (
		evs  []items.Event
		want []items.Item
	)
	for i, id := range []int64{7, 12, 9, 11, 10, 14, 8, 13, 6, 15} {
		e := items.Event{Pos: int64(6 + i), Item: items.Item{ID: id, Name: fmt.Sprint("item ", id)}}
		evs = append(evs, e)
		if id > 10 {
			want = append(want, e.Item)
		}
	}
	s.add(evs...)
	l.Append(evs...) // the ring keeps the last 4: the first are read from the store
	if diff := cmp.Diff(want, storetest.Receive(t, sub, len(want))); diff != "" {
		t.Errorf("FollowAbove(FromNow, 10) (-want +got):\n%s", diff)
	}
}

// TestReadKeepsToItsBuffer: Read returns at most cap(buf) events, from the
// ring and from the store alike (a pump's budget depends on it).
func TestReadKeepsToItsBuffer(t *testing.T) {
	s, l := newLog(t, 4)
	appendRange(s, l, 1, 50)              // the ring keeps 47..50
	for _, pos := range []int64{10, 46} { // the store, the ring
		got, err := l.Read(t.Context(), pos, make([]items.Event, 0, 3))
		if err != nil || len(got) != 3 || got[0].Pos != pos+1 {
			t.Errorf("Read(after %d, cap 3) = %d events from %v, %v; want 3 from %d", pos, len(got), got, err, pos+1)
		}
	}
}

func TestResumeAfterTheHeadWaits(t *testing.T) {
	s, l := newLog(t, 4)
	appendRange(s, l, 1, 3)
	sub := subscribe(t, t.Context(), l, 5)
	want := appendRange(s, l, 4, 7)
	if diff := cmp.Diff(want[2:], storetest.Receive(t, sub, 2)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// A subscriber that does not read holds up nobody: the writer appends and
// the others receive, and the slow one later gets everything, in order,
// from the store.
func TestSlowSubscriberHoldsUpNobody(t *testing.T) {
	s, l := newLog(t, 16)
	slow := subscribe(t, t.Context(), l, items.FromNow)
	fast := subscribe(t, t.Context(), l, items.FromNow)
	var want []items.Item
	for from := int64(1); from <= 10_000; from += 100 {
		batch := appendRange(s, l, from, from+99) // never waits for slow
		want = append(want, batch...)
		storetest.Receive(t, fast, len(batch))
	}
	if diff := cmp.Diff(want, storetest.Receive(t, slow, len(want))); diff != "" {
		t.Errorf("slow subscriber (-want +got):\n%s", diff)
	}
}

func TestGapsInPositions(t *testing.T) {
	s, l := newLog(t, 4)
	sub := subscribe(t, t.Context(), l, items.FromNow)
	var want []items.Item
	for _, p := range []int64{3, 4, 9, 20, 21, 22, 40, 41, 60} {
		s.add(event(p))
		l.Append(event(p))
		want = append(want, event(p).Item)
	}
	if diff := cmp.Diff(want, storetest.Receive(t, sub, len(want))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	late := subscribe(t, t.Context(), l, 4)
	if diff := cmp.Diff(want[2:], storetest.Receive(t, late, len(want)-2)); diff != "" {
		t.Errorf("resumed after 4 (-want +got):\n%s", diff)
	}
}

func TestAppendIgnoresWhatItHasSeen(t *testing.T) {
	s, l := newLog(t, 8)
	sub := subscribe(t, t.Context(), l, items.FromNow)
	want := appendRange(s, l, 1, 3)
	l.Append(event(2), event(3)) // a reader that saw them twice
	want = append(want, appendRange(s, l, 4, 4)...)
	if diff := cmp.Diff(want, storetest.Receive(t, sub, 4)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestCancelEndsWithoutError(t *testing.T) {
	_, l := newLog(t, 8)
	ctx, cancel := context.WithCancel(t.Context())
	sub := subscribe(t, ctx, l, items.FromNow)
	cancel()
	if got, err := storetest.WaitEnd(t, sub); len(got) != 0 || err != nil {
		t.Errorf("after cancel: %v, %v; want nothing and nil", got, err)
	}
	waitSubscribers(t, l, 0)
}

func TestShutdownDeliversWhatWasAppended(t *testing.T) {
	s, l := newLog(t, 4)
	ended := make(chan error, 1)
	ctx := items.WithSubscriptionEnd(t.Context(), func(err error) { ended <- err })
	behind := subscribe(t, ctx, l, items.FromNow)
	want := appendRange(s, l, 1, 20)
	l.Shutdown()
	appendRange(s, l, 21, 22) // after the shutdown began: not delivered
	got, err := storetest.WaitEnd(t, behind)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered before the end (-want +got):\n%s", diff)
	}
	if !errors.Is(err, items.ErrGoingAway) {
		t.Errorf("Err() = %v, want ErrGoingAway", err)
	}
	if err := <-ended; !errors.Is(err, items.ErrGoingAway) {
		t.Errorf("EndSubscription got %v, want ErrGoingAway", err)
	}
	if _, err := l.Subscribe(t.Context(), items.FromNow); !errors.Is(err, items.ErrGoingAway) {
		t.Errorf("Subscribe after Shutdown = %v, want ErrGoingAway", err)
	}
}

func TestCloseEndsNow(t *testing.T) {
	s, l := newLog(t, 4)
	sub := subscribe(t, t.Context(), l, items.FromNow)
	appendRange(s, l, 1, 3)
	l.Close()
	_, err := storetest.WaitEnd(t, sub)
	if items.ErrorCode(err) != items.Unavailable {
		t.Errorf("Err() = %v, want code Unavailable", err)
	}
	if _, err := l.Subscribe(t.Context(), items.FromNow); err == nil {
		t.Errorf("Subscribe after Close succeeded")
	}
}

func TestTooFarBehindIsDropped(t *testing.T) {
	s := &store{}
	l := pubsub.New(s.read, 0, pubsub.Options{Ring: 4, MaxLag: 10})
	t.Cleanup(l.Close)
	sub := subscribe(t, t.Context(), l, items.FromNow)
	appendRange(s, l, 1, 30)
	_, err := storetest.WaitEnd(t, sub)
	if !errors.Is(err, pubsub.ErrTooSlow) {
		t.Errorf("Err() = %v, want ErrTooSlow", err)
	}
}

func waitSubscribers(t *testing.T, l *pubsub.Log, n int) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for l.Subscribers() != n {
		if time.Now().After(deadline) {
			t.Fatalf("Subscribers() = %d, want %d", l.Subscribers(), n)
		}
		runtime.Gosched()
	}
}

// TestModel checks random sequences of appends (with gaps), subscriptions
// from random positions, reads and cancellations against a plain model: a
// subscriber receives exactly the events above its position, in order.
func TestModel(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			s, l := newLog(t, 1+rng.IntN(16))
			type subscriber struct {
				sub    *items.Subscription
				cancel context.CancelFunc
				pos    int64
			}
			var subs []*subscriber
			var all []items.Event
			head := int64(0)
			for range 300 {
				switch op := rng.IntN(10); {
				case op < 4: // append a batch, with gaps
					var evs []items.Event
					for range 1 + rng.IntN(20) {
						head += 1 + int64(rng.IntN(3))
						evs = append(evs, event(head))
					}
					s.add(evs...)
					l.Append(evs...)
					all = append(all, evs...)
				case op < 6: // subscribe from now, or after a random position
					ctx, cancel := context.WithCancel(t.Context())
					from := items.FromNow
					pos := head
					if rng.IntN(2) == 0 && head > 0 {
						from = rng.Int64N(head + 1)
						pos = from
					}
					subs = append(subs, &subscriber{subscribe(t, ctx, l, from), cancel, pos})
				case op < 9 && len(subs) > 0: // read what a subscriber has
					sb := subs[rng.IntN(len(subs))]
					i := sort.Search(len(all), func(i int) bool { return all[i].Pos > sb.pos })
					want := all[i:min(len(all), i+rng.IntN(50))]
					got := storetest.Receive(t, sb.sub, len(want))
					for j := range want {
						if got[j].ID != want[j].Pos {
							t.Fatalf("subscriber after %d: item %d = %d, want %d", sb.pos, j, got[j].ID, want[j].Pos)
						}
					}
					if len(want) > 0 {
						sb.pos = want[len(want)-1].Pos
					}
				case len(subs) > 0: // a subscriber leaves
					i := rng.IntN(len(subs))
					subs[i].cancel()
					subs = append(subs[:i], subs[i+1:]...)
				}
			}
			for _, sb := range subs {
				sb.cancel()
			}
			waitSubscribers(t, l, 0)
		})
	}
}

// BenchmarkAppend shows that a writer's append costs the same with many
// subscribers that do not read as with none.
func BenchmarkAppend(b *testing.B) {
	for _, n := range []int{0, 20_000} {
		b.Run(fmt.Sprint("subscribers=", n), func(b *testing.B) {
			s := &store{}
			l := pubsub.New(s.read, 0, pubsub.Options{})
			defer l.Close()
			for range n {
				if _, err := l.Subscribe(b.Context(), items.FromNow); err != nil {
					b.Fatal(err)
				}
			}
			pos := int64(0)
			for b.Loop() {
				pos++
				s.add(event(pos))
				l.Append(event(pos))
			}
		})
	}
}

// readLimit is a pubsub.ReadLimit that grants budget events at once and
// then makes every reader wait an hour: what it reserved is counted.
type readLimit struct {
	mu       sync.Mutex
	budget   int
	reserved int
}

func (r *readLimit) Reserve(n int) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reserved += n
	if r.reserved <= r.budget {
		return 0
	}
	return time.Hour
}

func (r *readLimit) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reserved
}

// TestReadLimitPacesTheStoreReads: a subscriber under a read limit reads
// the store only within it, from memory freely, and waits outside the
// turns of reading: with one turn for every follower, a subscriber that
// waits for its limit holds up no other.
func TestReadLimitPacesTheStoreReads(t *testing.T) {
	s := &store{}
	l := pubsub.New(s.read, 0, pubsub.Options{Ring: 4, Readers: 1})
	t.Cleanup(l.Close)
	all := appendRange(s, l, 1, 100) // the ring keeps 97..100
	rl := &readLimit{budget: 32}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	limited := subscribe(t, pubsub.WithReadLimit(ctx, rl), l, 0)
	// Its budget is two pages of 16 (a follower's): it gets those, then
	// waits.
	if diff := cmp.Diff(all[:32], storetest.Receive(t, limited, 32)); diff != "" {
		t.Errorf("within its budget (-want +got):\n%s", diff)
	}
	free := subscribe(t, t.Context(), l, 90)
	more := appendRange(s, l, 101, 110)
	if diff := cmp.Diff(append(all[90:], more...), storetest.Receive(t, free, 20)); diff != "" {
		t.Errorf("a subscriber with no limit, while the other waits (-want +got):\n%s", diff)
	}
	select {
	case it := <-limited.C:
		t.Fatalf("the limited subscriber got item %d past its budget", it.ID)
	default:
	}
	reads := s.readCount()
	if got := rl.total(); got > 48 {
		t.Errorf("reserved %d events: more than its budget and the page it waits for", got)
	}
	// Pulled reads (Read) wait before they read the store, in the
	// reader's own goroutine.
	pull := &readLimit{budget: 16}
	buf := make([]items.Event, 0, 16)
	if evs, err := l.Read(pubsub.WithReadLimit(ctx, pull), 0, buf); err != nil || len(evs) != 16 {
		t.Fatalf("first pull: %d events, %v", len(evs), err)
	}
	short, stop := context.WithTimeout(pubsub.WithReadLimit(ctx, pull), 50*time.Millisecond)
	defer stop()
	if evs, err := l.Read(short, 16, buf); !errors.Is(err, context.DeadlineExceeded) || len(evs) != 0 {
		t.Errorf("pull past its budget: %d events, %v; want it to wait until its context ends", len(evs), err)
	}
	if got := s.readCount(); got != reads+1 {
		t.Errorf("the store was read %d times by the pulls, want 1", got-reads)
	}
	// Reads from memory are free: the ring holds 107..110.
	if evs, err := l.Read(pubsub.WithReadLimit(ctx, pull), 107, buf); err != nil || len(evs) != 3 {
		t.Errorf("read from memory past the budget: %d events, %v; want 3 at once", len(evs), err)
	}
}
