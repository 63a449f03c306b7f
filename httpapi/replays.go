package httpapi

import (
	"net/netip"
	"sync"
	"time"

	"itemsapi/pubsub"
)

// Replays: a subscription reads the items it has not been given from
// the store's log, from memory while it is close to the newest
// (pubsub.DefaultRing events) and from the store in pages once behind it:
// a subscription that resumes with `after:` reads up to the log's maximum
// lag (100,000 items) that way, on one subscribe. The store reads of the
// subscriptions of one client address (addressOf) share one budget of
// ReplayRate items per second, with a burst of as many: past it, a
// subscription waits before each page, and so catches up more slowly;
// it is not dropped for it (only, as any, when it falls more than the
// maximum lag behind). The budget is the address's, however many sockets
// and streams it holds, so one address cannot make the store read more
// than ReplayRate items a second for it, besides the burst.

// DefaultReplayRate is the default of Config.ReplayRate.
const DefaultReplayRate = 10_000

// replayBudgets holds the budget of each client address that has a
// socket or a stream open.
type replayBudgets struct {
	rate float64 // items per second, and the burst; 0: no limit

	mu sync.Mutex
	by map[netip.Addr]*replayBudget
	// sweepAt is when hold next forgets the budgets that nothing holds
	// and that are no longer in debt.
	sweepAt time.Time
}

func newReplayBudgets(rate int) *replayBudgets {
	return &replayBudgets{rate: float64(rate), by: map[netip.Addr]*replayBudget{}}
}

// replayBudget is the token bucket of one address; it implements
// pubsub.ReadLimit.
type replayBudget struct {
	rate float64
	refs int // under replayBudgets.mu: sockets and streams that use it

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

var _ pubsub.ReadLimit = (*replayBudget)(nil)

// Reserve implements pubsub.ReadLimit: it takes n items, going into debt,
// and returns how long the reader must wait for the debt to be repaid.
func (b *replayBudget) Reserve(n int) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.tokens = min(b.rate, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	b.tokens -= float64(n)
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// hold returns the budget of addr, for a socket or a stream that holds it
// until it calls release; nil when there is no limit (release is then a
// no-op). An address keeps one budget while anything holds it, so that
// opening another socket buys no fresh budget.
func (r *replayBudgets) hold(addr netip.Addr) (*replayBudget, func()) {
	if r == nil || r.rate <= 0 {
		return nil, func() {}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.After(r.sweepAt) {
		r.sweepAt = now.Add(time.Minute)
		for a, b := range r.by {
			if b.refs == 0 && b.debt() <= 0 {
				delete(r.by, a)
			}
		}
	}
	b := r.by[addr]
	if b == nil {
		b = &replayBudget{rate: r.rate, tokens: r.rate, last: time.Now()}
		r.by[addr] = b
	}
	b.refs++
	var once sync.Once
	return b, func() {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if b.refs--; b.refs == 0 {
				// Forgotten: a later socket of the address starts with
				// a full budget, unless it was in debt, which it keeps
				// for as long as it takes to repay.
				if b.debt() <= 0 {
					delete(r.by, addr)
				}
			}
		})
	}
}

// debt returns how long the budget takes to be full again.
func (b *replayBudget) debt() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	tokens := b.tokens + time.Since(b.last).Seconds()*b.rate
	if tokens >= b.rate {
		return 0
	}
	return time.Duration((b.rate - tokens) / b.rate * float64(time.Second))
}
