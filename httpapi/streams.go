package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"itemsapi/items"
	"itemsapi/metrics"
	"itemsapi/pubsub"
)

// Streams are the HTTP answers that stay open: graphql-sse event streams
// (distinct connections, and the reservations of single-connection mode)
// and multipart/mixed answers (Apollo's subscriptions, and @defer). They
// live under the limits of websockets: streamSet bounds how many are open
// at once (--max-streams, a 503 with Retry-After past it, and past a
// client address's share of it, shares.go), a reservation
// runs at most MaxSubscriptionsPerSocket operations, each running
// subscription counts in itemsapi_subscriptions_active (the metrics
// extension counts it from its start to the end of its stream, which
// ends with the operation's context), tokens come from the request's
// headers as for any HTTP request, and every stream sends a heartbeat
// each KeepAlive so that proxies keep it open.
//
// A stream ends when its operation ends, when its client leaves, or when
// the server shuts down. Its context is the request's, which the server's
// base context ends. When the http.Server's shutdown begins (the set
// watches it), new streams are refused with 503, a subscription's stream
// closes once the broker has ended it with items.ErrGoingAway after
// delivering what it acknowledged, and a reserved stream closes once its
// operations have; streamSet.Shutdown(ctx) does the same and also ends,
// when ctx is done, whatever is left.

// streamSet counts the streams open now and ends them at shutdown.
type streamSet struct {
	max     int
	metrics *metrics.Metrics // nil: refusals not counted
	log     *slog.Logger     // nil: refusals not logged
	// replays paces the store reads of each address's subscriptions
	// (replays.go); nil: no limit.
	replays *replayBudgets

	mu   sync.Mutex
	open map[*openStream]struct{}
	// byAddress counts the open streams of each client address, within
	// its share of max.
	byAddress addressCounts
	shutting  bool
	drained   chan struct{} // closed once shutting with nothing open
	// onShutdown are called once when the shutdown begins: a reserved
	// stream idle at that time closes, as no operation will end it.
	onShutdown []func()
	// servers are the http.Servers whose shutdown begins this one's.
	servers map[*http.Server]bool
}

// openStream is one stream of a streamSet.
type openStream struct {
	cancel context.CancelFunc
}

// newStreamSet returns a set of at most maxOpen streams, of which a client
// address may hold share (a fraction, shareOf); m, when not nil, counts
// refusals and log logs the first of an address; replays paces its
// subscriptions' reads of the store.
func newStreamSet(maxOpen int, share float64, m *metrics.Metrics, log *slog.Logger, replays *replayBudgets) *streamSet {
	return &streamSet{
		max: maxOpen, metrics: m, log: log, replays: replays, open: map[*openStream]struct{}{},
		byAddress: newAddressCounts(int64(maxOpen), share),
		drained:   make(chan struct{}), servers: map[*http.Server]bool{},
	}
}

// watchServer begins the shutdown of the set when the http.Server that
// serves ctx's request begins its own, so that streams end however the
// program shuts its server down.
func (s *streamSet) watchServer(ctx context.Context) {
	srv, ok := ctx.Value(http.ServerContextKey).(*http.Server)
	if !ok {
		return
	}
	s.mu.Lock()
	seen := s.servers[srv]
	s.servers[srv] = true
	s.mu.Unlock()
	if !seen {
		srv.RegisterOnShutdown(s.beginShutdown)
	}
}

// beginShutdown refuses new streams from now on and calls the onShutdown
// hooks, once.
func (s *streamSet) beginShutdown() {
	s.mu.Lock()
	if s.shutting {
		s.mu.Unlock()
		return
	}
	s.shutting = true
	if len(s.open) == 0 {
		close(s.drained)
	}
	hooks := s.onShutdown
	s.mu.Unlock()
	for _, f := range hooks {
		f()
	}
}

// shuttingDown reports whether the shutdown has begun.
func (s *streamSet) shuttingDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutting
}

// errTooManyStreams refuses a stream past the limit, or during shutdown.
var errTooManyStreams = errors.New("too many streams")

// acquire counts a new stream of the client address addr, whose context
// is returned: it ends with ctx, or when Shutdown gives up waiting.
// release uncounts it, once. Past the limit, past addr's share of it, or
// while the server shuts down, it writes a 503 with Retry-After to w and
// returns errTooManyStreams.
func (s *streamSet) acquire(ctx context.Context, addr netip.Addr, w http.ResponseWriter) (context.Context, func(), error) {
	s.watchServer(ctx)
	s.mu.Lock()
	var msg string
	switch {
	case s.shutting:
		msg = "the server is shutting down; retry later"
	case s.max > 0 && len(s.open) >= s.max:
		countRefused(s.metrics, limitStreams, false)
		msg = fmt.Sprintf("the server has the most streams it takes open (%d); retry later", s.max)
	case !s.byAddress.fits(addr, 1):
		countRefused(s.metrics, limitStreams, true)
		if s.byAddress.refused(addr) {
			warnShare(s.log, addr, limitStreams, s.byAddress.share, int64(s.max))
		}
		msg = fmt.Sprintf("this client address has the most streams it may hold open (%d, its share of the server's %d); retry later",
			s.byAddress.share, s.max)
	}
	if msg != "" {
		s.mu.Unlock()
		w.Header().Set("Retry-After", "10")
		writeError(w, http.StatusServiceUnavailable, codeBadRequest, msg)
		return nil, nil, errTooManyStreams
	}
	ctx, cancel := context.WithCancel(ctx)
	st := &openStream{cancel: cancel}
	s.open[st] = struct{}{}
	s.byAddress.add(addr, 1)
	s.mu.Unlock()
	budget, releaseBudget := s.replays.hold(addr)
	if budget != nil {
		ctx = pubsub.WithReadLimit(ctx, budget)
	}
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			cancel()
			releaseBudget()
			s.mu.Lock()
			delete(s.open, st)
			s.byAddress.add(addr, -1)
			if s.shutting && len(s.open) == 0 {
				close(s.drained)
			}
			s.mu.Unlock()
		})
	}, nil
}

// count returns the number of open streams.
func (s *streamSet) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.open)
}

// Shutdown refuses new streams from now on and waits for the open ones to
// end: a subscription's stream ends once the broker has ended it with
// items.ErrGoingAway, after delivering every item acknowledged before the
// shutdown began. When ctx is done first, it ends every stream left and
// returns ctx's error once they have all been released.
func (s *streamSet) Shutdown(ctx context.Context) error {
	s.beginShutdown()
	select {
	case <-s.drained:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	for st := range s.open {
		st.cancel()
	}
	s.mu.Unlock()
	<-s.drained
	return ctx.Err()
}

// streamConfig is what every stream is told.
type streamConfig struct {
	// keepAlive is the interval of heartbeats; zero sends none.
	keepAlive time.Duration
	// writeTimeout bounds each write: a client that reads nothing for
	// that long, once the network's buffers are full, is dropped.
	writeTimeout time.Duration
}

// streamWriter writes the events of one stream, one at a time, each
// flushed at once. Once closed, it drops every write: an operation that
// outlives its stream's handler writes nothing.
type streamWriter struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	closed  bool
	err     error
}

// newStreamWriter prepares w for a long answer: the request's deadlines,
// which bound ordinary requests, no longer apply (each write has its own).
func newStreamWriter(w http.ResponseWriter, timeout time.Duration) *streamWriter {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	return &streamWriter{w: w, rc: rc, timeout: timeout}
}

// write writes the parts of one event and flushes them.
func (s *streamWriter) write(parts ...[]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errStreamClosed
	}
	if s.err != nil {
		return s.err
	}
	if s.timeout > 0 {
		_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	}
	for _, p := range parts {
		if _, err := s.w.Write(p); err != nil {
			s.err = err
			return err
		}
	}
	if err := s.rc.Flush(); err != nil {
		s.err = err
	}
	return s.err
}

// close makes every later write a no-op; it returns once no write runs.
func (s *streamWriter) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// errStreamClosed is the error of a write to a closed streamWriter.
var errStreamClosed = errors.New("stream closed")

// heartbeat calls beat every interval until ctx is done or beat fails.
func heartbeat(ctx context.Context, interval time.Duration, beat func() error) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if beat() != nil {
				return
			}
		}
	}
}

// subscriptionEnd records why the producer of a subscription ended it,
// through the hook of items.WithSubscriptionEnd.
type subscriptionEnd struct {
	mu  sync.Mutex
	err error
}

// withSubscriptionEnd returns ctx with a hook that records the reason
// into the returned subscriptionEnd. It must wrap the context before the
// operation's resolvers run.
func withSubscriptionEnd(ctx context.Context) (context.Context, *subscriptionEnd) {
	end := &subscriptionEnd{}
	return items.WithSubscriptionEnd(ctx, func(err error) {
		end.mu.Lock()
		if end.err == nil {
			end.err = err
		}
		end.mu.Unlock()
	}), end
}

// reason returns the error the producer reported, or nil.
func (e *subscriptionEnd) reason() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// runOperation runs the operation of rc under ctx and passes each of its
// responses, marshalled, to emit, until the operation ends, ctx is done,
// or emit fails. It returns the reason the producer gave for ending the
// stream (nil when it ended by itself, or because ctx ended).
func runOperation(ctx context.Context, exec graphql.GraphExecutor, rc *graphql.OperationContext, emit func(*graphql.Response, []byte) error) error {
	ctx, end := withSubscriptionEnd(ctx)
	responses, ctx := exec.DispatchOperation(ctx, rc)
	for {
		resp := responses(ctx)
		if resp == nil {
			break
		}
		// gqlgen reuses the buffer of a subscription's data: marshal it
		// before asking for the next response.
		body, err := json.Marshal(resp)
		if err != nil {
			panic(err) // a response of gqlgen's own types always marshals
		}
		if emit(resp, body) != nil {
			return nil
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return end.reason()
}

// endErrors is what a client is told of a subscription its producer
// ended: the safe message and code of an *items.Error, or an internal
// error, as over websockets.
func endErrors(err error) gqlerror.List {
	return gqlerror.List{{Message: items.ErrorMessage(err), Extensions: items.ErrorCode(err).Extensions()}}
}

// releaseInflight gives back the bytes in flight (inflight.go) that
// reading and parsing the request of ctx reserved: a stream outlives the
// parsing of its operation, and would otherwise hold them for as long as
// it is open.
func releaseInflight(ctx context.Context) {
	if res, ok := ctx.Value(reservationKey{}).(*reservation); ok {
		res.release()
	}
}
