// Package pubsub delivers a store's log of added items to the subscribers
// of one process. A subscriber is a position in the log, not a queue of
// copies: a writer appends an event in O(1) whatever the number or the
// speed of the subscribers, each subscriber reads the events after its
// position from a ring of recent events kept in memory, and one that has
// fallen behind the ring reads them from the store, in pages, in order.
package pubsub

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"itemsapi/internal/positive"
	"itemsapi/items"
)

// Defaults of a Log.
const (
	// DefaultRing is how many recent events a Log keeps in memory.
	DefaultRing = 1024
	// DefaultMaxLag is how many events a subscriber may be behind the
	// newest before it is dropped.
	DefaultMaxLag = 100_000
	// page is how many events a subscriber reads from the store at once.
	page = 256
)

// ErrTooSlow ends the subscription of a subscriber that fell too far
// behind.
var ErrTooSlow = items.Errorf(items.Unavailable, "subscription dropped: the client fell more than 100,000 items behind")

// errClosed ends the subscriptions of a log whose store is closed.
var errClosed = items.Errorf(items.Unavailable, "subscription ended: the store is closed")

// Reader reads a store's log: up to limit events whose position is above
// after, in order. It returns committed events only. An event of kind 0 is
// an item added.
type Reader func(ctx context.Context, after int64, limit int) ([]items.Event, error)

// Log is the log of one store as this process follows it. The zero value
// is not usable; call New.
type Log struct {
	read   Reader
	maxLag int64
	active atomic.Int64

	mu sync.Mutex
	// ring holds the newest events, oldest first from ring[start]; it
	// holds every event whose position is above floor, up to head.
	ring  []items.Event
	start int
	n     int
	floor int64
	head  int64
	// Followers read the log in turns: at most Readers at once hold a
	// slot (free counts those left); the others wait in line, and those
	// that have read everything wait in idle until the waker, kicked by
	// an append or the log's end, hands them slots. So an append wakes a
	// few followers at a time, not thousands at once, each to park again.
	free   int
	line   []*follower
	idle   []*follower
	kick   chan struct{}
	ending bool  // Shutdown was called: deliver up to stopAt, then end
	stopAt int64 // head when Shutdown was called
	closed bool  // Close was called: end now
	// changed is closed, and replaced, by the next append, Shutdown or
	// Close: what readers that pull (Read) wait on. Nil until asked for.
	changed chan struct{}
}

// Options tune a Log; zero values take the defaults.
type Options struct {
	// Ring is how many recent events are kept in memory.
	Ring int
	// MaxLag is how far behind the newest event a subscriber may be.
	MaxLag int64
	// Readers is how many subscribers read the log at once.
	Readers int
}

// DefaultReaders is how many subscribers read the log at once.
const DefaultReaders = 8

// New returns a log whose newest event is at position head (0 for an
// empty log), read from the store by read.
func New(read Reader, head int64, opts Options) *Log {
	opts.Ring = positive.Or(opts.Ring, DefaultRing)
	opts.MaxLag = positive.Or(opts.MaxLag, DefaultMaxLag)
	opts.Readers = positive.Or(opts.Readers, DefaultReaders)
	l := &Log{
		read:   read,
		maxLag: opts.MaxLag,
		ring:   make([]items.Event, opts.Ring),
		floor:  head,
		head:   head,
		free:   opts.Readers,
		kick:   make(chan struct{}, 1),
	}
	go l.waker()
	return l
}

// waker hands slots to the followers that wait for events, when asked:
// work that a writer should not do. It returns once the log is closed.
func (l *Log) waker() {
	for range l.kick {
		l.mu.Lock()
		idle := l.idle
		l.idle = nil
		for _, f := range idle {
			if f.gone {
				continue
			}
			if l.free > 0 {
				l.free--
				f.grant()
			} else {
				l.line = append(l.line, f)
			}
		}
		closed := l.closed
		l.mu.Unlock()
		if closed {
			return
		}
	}
}

// follower is one subscription's reader of the log.
type follower struct {
	turn chan struct{} // receives when a slot is handed to it
	// Under Log.mu: granted, a slot was handed to it and not yet taken;
	// gone, its subscription ended while it waited.
	granted, gone bool
	// Its own (ReadLimit): prepaid, the events of the store's page it has
	// waited for already; owed, how long it must wait once it has read a
	// page it had not waited for.
	prepaid int
	owed    time.Duration
}

func newFollower() *follower { return &follower{turn: make(chan struct{}, 1)} }

// grant hands f a slot. l.mu is held.
func (f *follower) grant() {
	f.granted = true
	f.turn <- struct{}{} // never blocks: one grant at a time
}

// acquire takes a slot for f, waiting in line for one; false once ctx
// ends first.
func (l *Log) acquire(ctx context.Context, f *follower) bool {
	l.mu.Lock()
	if l.free > 0 {
		l.free--
		l.mu.Unlock()
		return true
	}
	l.line = append(l.line, f)
	l.mu.Unlock()
	return l.await(ctx, f)
}

// await waits for a slot handed to f; false once ctx ends first.
func (l *Log) await(ctx context.Context, f *follower) bool {
	select {
	case <-f.turn:
		l.mu.Lock()
		f.granted = false
		l.mu.Unlock()
		return true
	case <-ctx.Done():
		l.mu.Lock()
		f.gone = true
		granted := f.granted
		f.granted = false
		l.mu.Unlock()
		if granted {
			<-f.turn
			l.release()
		}
		return false
	}
}

// release gives a slot back: to the first in line, if any.
func (l *Log) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.line) > 0 {
		f := l.line[0]
		l.line[0] = nil
		l.line = l.line[1:]
		if !f.gone {
			f.grant()
			return
		}
	}
	l.free++
}

// Append adds events to the log; their positions must be above every
// position appended before, in increasing order. Events at or below the
// head are ignored, so a reader that sees an event twice may append it
// twice. Append never waits for a subscriber.
func (l *Log) Append(events ...items.Event) {
	l.mu.Lock()
	appended := false
	for _, e := range events {
		if e.Pos <= l.head {
			continue
		}
		if l.n == len(l.ring) {
			l.floor = l.ring[l.start].Pos
			l.ring[l.start] = items.Event{}
			l.start = (l.start + 1) % len(l.ring)
			l.n--
		}
		l.ring[(l.start+l.n)%len(l.ring)] = e
		l.n++
		l.head = e.Pos
		appended = true
	}
	if appended {
		l.broadcast()
	}
	l.mu.Unlock()
	if appended {
		l.wakeUp()
	}
}

// broadcast closes l.changed, if anyone asked for it. l.mu is held.
func (l *Log) broadcast() {
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

// Changed returns a channel that is closed at the next append, Shutdown
// or Close. A reader that pulls takes it before Read, and waits on it when
// Read has nothing for it: nothing appended in between goes unnoticed.
func (l *Log) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return l.changed
}

// Read returns the events after pos, at most cap(buf) of them, appended
// to buf[:0]: from memory, or a page from the store when pos is behind
// the memory. It returns none while there are none yet (wait on Changed).
// It fails with ErrTooSlow when pos is more than the maximum lag behind
// the newest event, with items.ErrGoingAway once a shutting-down log has
// given every event appended before Shutdown, and with an Unavailable
// error once the log is closed. Read keeps no state: the caller's
// position is the reader, and it needs no goroutine.
func (l *Log) Read(ctx context.Context, pos int64, buf []items.Event) ([]items.Event, error) {
	if cap(buf) == 0 {
		buf = make([]items.Event, 0, page)
	}
	events, _, err := l.next(ctx, pos, buf[:0], nil)
	return events, err
}

func (l *Log) wakeUp() {
	select {
	case l.kick <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// Head returns the position of the newest event appended.
func (l *Log) Head() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.head
}

// Subscribers returns how many subscriptions are running.
func (l *Log) Subscribers() int { return int(l.active.Load()) }

// Subscribe returns a subscription to the items added after position
// after (FromNow: after the head). It fails only once the log has ended.
func (l *Log) Subscribe(ctx context.Context, after int64) (*items.Subscription, error) {
	return l.Follow(ctx, items.ItemAdded, after)
}

// Follow returns a subscription to the events of that kind after position
// after (FromNow: after the head): their items, or for a deletion an item
// with only its ID. It fails only once the log has ended.
func (l *Log) Follow(ctx context.Context, kind items.EventKind, after int64) (*items.Subscription, error) {
	after, err := l.startAt(after)
	if err != nil {
		return nil, err
	}
	if t, ok := ctx.Value(tapKey{}).(*Tap); ok && t.log == nil {
		// The transport reads the log itself (Read), and hands the
		// items over: no goroutine here.
		t.log, t.kind, t.after = l, kind, after
		t.c = make(chan items.Item, 1)
		return &items.Subscription{C: t.c, Err: func() error { return nil }}, nil
	}
	return l.spawn(ctx, kind, after, 0), nil
}

// FollowAbove returns a subscription to the items added after position
// after (FromNow: after the head) whose ID is above id; it passes over
// the others. It is the start of itemAdded(after: id) for an id above
// every ID given so far: no position in the log stands for that id, and
// the items added from now on with an ID up to it must not come (API.md:
// items with a greater id). It fails only once the log has ended.
//
// It ignores a Tap: the subscription reads the log on a goroutine of its
// own, as Follow's does without one, so a transport that shares reads
// between the subscriptions at one position (which deliver every item
// of their kind) never sees it.
func (l *Log) FollowAbove(ctx context.Context, after, id int64) (*items.Subscription, error) {
	after, err := l.startAt(after)
	if err != nil {
		return nil, err
	}
	return l.spawn(ctx, items.ItemAdded, after, id), nil
}

// startAt returns the position a subscription starts after (the head for
// FromNow), or why none can start: the log has ended.
func (l *Log) startAt(after int64) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return 0, errClosed
	case l.ending:
		return 0, items.ErrGoingAway
	case after < 0:
		return l.head, nil
	}
	return after, nil
}

// spawn starts the goroutine that follows the events of kind after
// position after, those of the items whose ID is above floor, for a
// subscription under ctx.
func (l *Log) spawn(ctx context.Context, kind items.EventKind, after, floor int64) *items.Subscription {
	c := make(chan items.Item)
	s := &subscription{}
	pacer := items.JoinPacer(ctx)
	l.active.Add(1)
	go func() {
		defer l.active.Add(-1)
		err := l.follow(ctx, c, after, kind, floor, pacer)
		if err != nil && ctx.Err() == nil {
			s.err.Store(&err)
			items.EndSubscription(ctx, err)
		}
		pacer.Announce()
		close(c)
	}()
	return &items.Subscription{C: c, Err: s.Err}
}

// ReadLimit paces the reads of the store that subscriptions make: those
// under a context of WithReadLimit (the subscriptions of one client
// address) share it. Reads from memory are free.
type ReadLimit interface {
	// Reserve takes n events from the budget and returns how long the
	// reader must wait before it reads them.
	Reserve(n int) time.Duration
}

type readLimitKey struct{}

// WithReadLimit returns a copy of ctx under which the subscriptions read
// the store within rl: a follower waits before it reads a page, outside
// the turns of reading (so that a client over its budget does not hold a
// turn), and Read waits before it reads one. A subscription that waits
// falls behind, and is dropped only as any is (ErrTooSlow).
func WithReadLimit(ctx context.Context, rl ReadLimit) context.Context {
	return context.WithValue(ctx, readLimitKey{}, rl)
}

func readLimitOf(ctx context.Context) ReadLimit {
	rl, _ := ctx.Value(readLimitKey{}).(ReadLimit)
	return rl
}

// sleep waits d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pageOf is how many events a read into buf asks the store for.
func pageOf(buf []items.Event) int {
	if c := cap(buf); c > 0 && c < page {
		return c // a reader's budget
	}
	return page
}

// behind reports whether the events after pos are no longer all in
// memory: reading them reads the store.
func (l *Log) behind(pos int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return pos < l.floor && pos < l.head
}

// Tap lets the transport that runs a subscription read the log itself,
// with Read and Changed, from the subscription's position, rather than
// through a goroutine that Follow starts: Follow called under a context
// of WithTap records in the tap what it would have followed, and returns
// a stream that the transport feeds (Feed) with the items it reads, one
// at a time, as it executes them. Only the first Follow of a tap is
// recorded; a later one is an ordinary subscription.
type Tap struct {
	log   *Log
	kind  items.EventKind
	after int64
	c     chan items.Item
}

type tapKey struct{}

// WithTap returns a copy of ctx under which Follow records its
// subscription in t.
func WithTap(ctx context.Context, t *Tap) context.Context {
	return context.WithValue(ctx, tapKey{}, t)
}

// Log returns the log that Follow recorded, or nil when none was called.
func (t *Tap) Log() *Log { return t.log }

// Kind returns the kind of events that the subscription follows.
func (t *Tap) Kind() items.EventKind { return t.kind }

// After returns the position after which the subscription starts.
func (t *Tap) After() int64 { return t.after }

// Feed returns the subscription's stream, into which the transport sends
// each item it executes; closing it ends the stream.
func (t *Tap) Feed() chan<- items.Item { return t.c }

// Matches reports whether an event of kind k is one that a subscription
// to the events of kind gets: an event of kind 0 is an item added.
func Matches(kind, k items.EventKind) bool {
	return k == kind || k == 0 && kind == items.ItemAdded
}

type subscription struct{ err atomic.Pointer[error] }

func (s *subscription) Err() error {
	if p := s.err.Load(); p != nil {
		return *p
	}
	return nil
}

// follow sends the items of the events after pos whose ID is above floor
// to c until ctx ends or the log does; it returns why it stopped (nil for
// ctx).
func (l *Log) follow(ctx context.Context, c chan<- items.Item, pos int64, kind items.EventKind, floor int64, pacer *items.Pacer) error {
	buf := make([]items.Event, 0, 16)
	f := newFollower()
	rl := readLimitOf(ctx)
	for {
		// Wait for the read limit before a turn, not in it: a page of
		// the store that the next read needs, or one read already.
		if rl != nil {
			if f.owed == 0 && f.prepaid == 0 && l.behind(pos) {
				f.prepaid = pageOf(buf)
				f.owed = rl.Reserve(f.prepaid)
			}
			if sleep(ctx, f.owed) != nil {
				return nil
			}
			f.owed = 0
		}
		// Read in turn; wait for the transport and the client outside it.
		if !l.acquire(ctx, f) {
			return nil
		}
		events, idle, err := l.next(ctx, pos, buf[:0], f)
		for idle && err == nil {
			l.release()
			if !l.await(ctx, f) {
				return nil
			}
			events, idle, err = l.next(ctx, pos, buf[:0], f)
		}
		l.release()
		if err != nil {
			return err
		}
		for _, e := range events {
			if !Matches(kind, e.Kind) || e.Item.ID <= floor {
				pos = e.Pos // an event of another kind or item: passed over
				continue
			}
			pacer.Announce()
			if pacer.Wait(ctx) != nil {
				return nil
			}
			select {
			case c <- e.Item:
				pos = e.Pos
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// next returns the events after pos, from the ring or the store; or, when
// there are none yet, idle, with f (unless nil: a reader that pulls)
// waiting in l.idle for the waker. A follower calling it holds a slot.
func (l *Log) next(ctx context.Context, pos int64, buf []items.Event, f *follower) (_ []items.Event, idle bool, _ error) {
	l.mu.Lock()
	switch {
	case pos >= l.head || l.ending && pos >= l.stopAt:
		closed, ending := l.closed, l.ending
		if !closed && !ending && f != nil {
			l.idle = append(l.idle, f)
		}
		l.mu.Unlock()
		switch {
		case closed:
			return nil, false, errClosed
		case ending:
			return nil, false, items.ErrGoingAway
		}
		return nil, true, nil
	case l.head-pos > l.maxLag:
		l.mu.Unlock()
		return nil, false, ErrTooSlow
	case pos >= l.floor:
		// Every event above pos is in the ring.
		i := sort.Search(l.n, func(i int) bool { return l.ring[(l.start+i)%len(l.ring)].Pos > pos })
		for ; i < l.n && len(buf) < cap(buf); i++ {
			buf = append(buf, l.ring[(l.start+i)%len(l.ring)])
		}
		l.mu.Unlock()
		return l.stop(buf), false, nil
	case l.closed:
		l.mu.Unlock()
		return nil, false, errClosed // the store is closed: it cannot be read
	}
	l.mu.Unlock()
	n := pageOf(buf)
	if rl := readLimitOf(ctx); rl != nil {
		switch {
		case f == nil: // a reader that pulls holds no turn: it waits here
			if err := sleep(ctx, rl.Reserve(n)); err != nil {
				return nil, false, err
			}
		case f.prepaid >= n:
			f.prepaid = 0
		default: // read now, wait after the turn
			f.owed += rl.Reserve(n - f.prepaid)
			f.prepaid = 0
		}
	}
	events, err := l.read(ctx, pos, n)
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, false, ctx.Err() // follow sees ctx's end
	case err != nil:
		return nil, false, err
	case len(events) == 0:
		// The store has not caught up with what was appended (a reader
		// of another connection, a replica): try again at the next event.
		if f != nil {
			l.mu.Lock()
			l.idle = append(l.idle, f)
			l.mu.Unlock()
		}
		return nil, true, nil
	}
	return l.stop(events), false, nil
}

// stop cuts events at the position where a shutting-down log stops.
func (l *Log) stop(events []items.Event) []items.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.ending {
		return events
	}
	for i, e := range events {
		if e.Pos > l.stopAt {
			return events[:i]
		}
	}
	return events
}

// Shutdown lets each subscription deliver every event appended so far,
// then end with items.ErrGoingAway; later calls to Subscribe fail with it.
func (l *Log) Shutdown() {
	l.mu.Lock()
	if !l.ending && !l.closed {
		l.ending = true
		l.stopAt = l.head
	}
	l.broadcast()
	l.mu.Unlock()
	l.wakeUp()
}

// Close ends every subscription once it has delivered what the log holds
// in memory, without reading the store again: call it as the store
// closes. Later calls to Subscribe fail.
func (l *Log) Close() {
	l.mu.Lock()
	l.closed = true
	l.broadcast()
	l.mu.Unlock()
	l.wakeUp()
}
