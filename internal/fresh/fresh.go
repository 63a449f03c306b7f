// Package fresh shares one read of a value among the callers that want it
// at once, without ever answering a caller with a read that began before
// its call did: the token revision, which every authenticated request
// must read anew (a revocation takes effect at once), is read once per
// round trip under load rather than once per request.
package fresh

import (
	"context"
	"runtime"
	"sync"
)

// Read shares one read of a value among the callers that want it at
// once, without ever answering a caller with a read that began before
// its call did. Every authenticated request asks for the token revision,
// and the answer must come from a read made after the request arrived;
// under load, most of those reads would return the same row at nearly
// the same time, each one a statement for the database's CPUs.
//
// Reads run one at a time. A caller joins the round that has not begun
// yet, or forms it; the round begins once the read in flight, if any, has
// ended, and from then on newcomers form the next one. So a caller waits
// for two reads at most, and the database sees one read per round trip
// however many requests arrive meanwhile.
type Read[T any] struct {
	read func(context.Context) (T, error)

	mu      sync.Mutex
	forming *round[T]     // the round that has not begun, which callers join
	running chan struct{} // holds a token while a read runs
}

type round[T any] struct {
	done chan struct{}
	v    T
	err  error
}

// New returns a Read of the values that read reads.
func New[T any](read func(context.Context) (T, error)) *Read[T] {
	return &Read[T]{read: read, running: make(chan struct{}, 1)}
}

// Get returns a value read after Get was called. The read runs under a
// context of its own, not cancelled with ctx (other callers wait for it);
// read must bound its own time. Get returns ctx's error if ctx ends
// first.
func (f *Read[T]) Get(ctx context.Context) (T, error) {
	f.mu.Lock()
	r := f.forming
	lead := r == nil
	if lead {
		r = &round[T]{done: make(chan struct{})}
		f.forming = r
	}
	f.mu.Unlock()
	if lead {
		go f.run(context.WithoutCancel(ctx), r)
	}
	select {
	case <-r.done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// run waits for the read in flight, closes round r to newcomers, and
// reads for it.
//
// It first yields: a new goroutine runs as soon as its creator blocks, so
// that on a busy server with one CPU the round would close with its
// leader alone, while the goroutines ready to run, other requests about to
// call Get, wait behind the read. Yielding lets them join the round first
// and share its read.
func (f *Read[T]) run(ctx context.Context, r *round[T]) {
	runtime.Gosched()
	f.running <- struct{}{}
	f.mu.Lock()
	f.forming = nil
	f.mu.Unlock()
	r.v, r.err = f.read(ctx)
	<-f.running
	close(r.done)
}
