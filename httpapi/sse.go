package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"itemsapi/items"
	"itemsapi/pubsub"
)

// GraphQL over Server-Sent Events, as the graphql-sse package speaks it
// (https://github.com/enisdenjo/graphql-sse/blob/master/PROTOCOL.md).
//
// Distinct-connections mode: a POST, or a GET (so that a browser's
// EventSource can subscribe), whose Accept header asks for
// text/event-stream is answered with an event stream of one operation,
// query, mutation or subscription: a `next` event per result, then
// `complete`. What refuses an operation before it runs (parsing,
// validation, limits) is a `next` event with the errors, as the protocol
// wants; a request that is not a GraphQL request at all is a 400, as for
// any HTTP request.
//
// Single-connection mode: a PUT reserves a stream and answers 201 with
// its token; a GET that carries the token (the X-GraphQL-Event-Stream-Token
// header, or the token parameter for EventSource) opens it; each POST that
// carries the token and an operation id (extensions.operationId) runs an
// operation whose events travel on that stream, tagged with the id, and
// is answered 202; a DELETE with the token and ?operationId= stops one.
// A reservation lives in one process (several need sticky routing), ends
// when its stream ends, and expires if no stream opens it in time.

// Events of the protocol.
var (
	sseComment       = []byte(":\n\n")
	sseNext          = []byte("event: next\ndata: ")
	sseEnd           = []byte("\n\n")
	sseComplete      = []byte("event: complete\ndata:\n\n")
	sseCompleteForID = []byte("event: complete\ndata: ")
)

// streamTokenHeader and streamTokenParam carry the token of a reservation.
const (
	streamTokenHeader = "X-GraphQL-Event-Stream-Token"
	streamTokenParam  = "token"
)

// reservationTimeout is how long a reservation waits for its stream.
const reservationTimeout = 30 * time.Second

// streaming serves the answers that are streams (see streams.go).
type streaming struct {
	set *streamSet
	cfg streamConfig
	log *slog.Logger
	// held counts the documents of running operations (nil: not).
	held *heldDocs
}

// serve answers one prepared operation as a stream of media: an event
// stream, or a multipart/mixed answer. The stream counts against the
// limit of open streams.
func (s *streaming) serve(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, rc *graphql.OperationContext, errs gqlerror.List, media string) {
	ctx, release, err := s.set.acquire(r.Context(), addressOf(r), w)
	if err != nil {
		return
	}
	defer release()
	releaseInflight(ctx)
	if errs == nil {
		releaseDoc, err := s.held.hold(rc, addressOf(r))
		if err != nil {
			writeBusy(w, busyMessageFor(err))
			return
		}
		defer releaseDoc()
	}
	if media == mediaMultipart {
		s.serveMultipart(ctx, w, exec, rc, errs)
		return
	}
	s.serveEvents(ctx, w, exec, rc, errs)
}

// startEvents sends the headers of an event stream and its first
// comment, which some browsers wait for.
func (s *streaming) startEvents(w http.ResponseWriter) *streamWriter {
	h := w.Header()
	h.Set("Content-Type", mediaEventStream+"; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	sw := newStreamWriter(w, s.cfg.writeTimeout)
	_ = sw.write(sseComment)
	return sw
}

// serveEvents answers one operation as a distinct-connections event
// stream.
func (s *streaming) serveEvents(ctx context.Context, w http.ResponseWriter, exec graphql.GraphExecutor, rc *graphql.OperationContext, errs gqlerror.List) {
	sw := s.startEvents(w)
	defer sw.close()
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		_ = sw.write(sseNext, errorsOnly(resp), sseEnd)
		_ = sw.write(sseComplete)
		return
	}
	beats, stop := context.WithCancel(ctx)
	defer stop()
	go heartbeat(beats, s.cfg.keepAlive, func() error { return sw.write(sseComment) })

	endErr := runOperation(ctx, exec, rc, func(_ *graphql.Response, body []byte) error {
		return sw.write(sseNext, body, sseEnd)
	})
	// Going away, the stream closes without complete, so that the client
	// reconnects (elsewhere) and resumes.
	s.end(ctx, endErr, func(errs gqlerror.List) error {
		body, _ := json.Marshal(struct {
			Errors gqlerror.List `json:"errors"`
		}{errs})
		_ = sw.write(sseNext, body, sseEnd)
		return nil
	}, func() { _ = sw.write(sseComplete) })
}

// end ends the stream of an operation that returned endErr. When the
// client left, or the server ended the stream, or the server shuts down
// (items.ErrGoingAway: the client is to resubscribe, elsewhere), it writes
// nothing more. An operation that failed has its errors written (and
// logged, if the server is at fault), then, if that write went through,
// the stream's end; one that ended has the stream's end written.
func (s *streaming) end(ctx context.Context, endErr error, writeErrors func(gqlerror.List) error, writeEnd func()) {
	switch {
	case ctx.Err() != nil, errors.Is(endErr, items.ErrGoingAway):
		return
	case endErr != nil:
		if items.ErrorCode(endErr) == items.Internal && s.log != nil {
			s.log.ErrorContext(ctx, "subscription ended", "req_id", items.RequestID(ctx), "err", endErr)
		}
		if writeErrors(endErrors(endErr)) != nil {
			return
		}
	}
	writeEnd()
}

// reservations is the transport of single-connection mode: the
// requests that reserve, open and use a stream by its token.
type sseReservations struct {
	http    httpTransport
	streams *streaming
	// maxOps bounds the operations running at once on one reservation.
	maxOps int

	mu    sync.Mutex
	byKey map[string]*sseReservation
}

var _ graphql.Transport = (*sseReservations)(nil)

// sseOp is one operation of a reservation.
type sseOp struct{ cancel context.CancelFunc }

// sseReservation is one reserved stream.
type sseReservation struct {
	token   string
	ctx     context.Context
	cancel  context.CancelFunc
	release func() // the slot of the stream set
	timer   *time.Timer

	mu     sync.Mutex
	out    *streamWriter // nil until the stream opens
	opened chan struct{} // closed when the stream opens
	// ops holds the operations the client has not stopped, by id. An id
	// is free again once stopped, while its operation may still be
	// returning: an operation is known by its *sseOp, never by its id.
	ops     map[string]*sseOp
	running sync.WaitGroup
	// active counts the goroutines of operations: what runs, which a
	// stopped operation does until it has returned.
	active    int
	streaming bool
}

func newSSEReservations(h httpTransport, s *streaming, maxOps int) *sseReservations {
	t := &sseReservations{http: h, streams: s, maxOps: maxOps, byKey: map[string]*sseReservation{}}
	s.set.mu.Lock()
	s.set.onShutdown = append(s.set.onShutdown, t.shutdown)
	s.set.mu.Unlock()
	return t
}

// shutdown closes every reservation that runs no operation: one that
// does closes when its last operation ends (see run), which the broker
// ends at shutdown.
func (t *sseReservations) shutdown() {
	t.mu.Lock()
	all := make([]*sseReservation, 0, len(t.byKey))
	for _, res := range t.byKey {
		all = append(all, res)
	}
	t.mu.Unlock()
	for _, res := range all {
		res.mu.Lock()
		idle := len(res.ops) == 0
		res.mu.Unlock()
		if idle {
			res.cancel()
		}
	}
}

// Supports implements graphql.Transport: a PUT or DELETE, or a request
// that carries a stream token.
func (t *sseReservations) Supports(r *http.Request) bool {
	switch r.Method {
	case http.MethodPut, http.MethodDelete:
		return true
	case http.MethodGet, http.MethodPost:
		return streamToken(r) != "" && r.Header.Get("Upgrade") == ""
	}
	return false
}

// streamTokenKey is streamTokenHeader as net/http keys it: looked up
// without canonicalizing (an allocation) on each request.
var streamTokenKey = http.CanonicalHeaderKey(streamTokenHeader)

// streamToken is the reservation token a request carries, or "".
func streamToken(r *http.Request) string {
	if tok := r.Header.Get(streamTokenKey); tok != "" {
		return tok
	}
	if r.URL.RawQuery == "" { // without parsing it: a POST rarely has one
		return ""
	}
	return r.URL.Query().Get(streamTokenParam)
}

// Do implements graphql.Transport.
func (t *sseReservations) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case r.Method == http.MethodPut:
		t.reserve(w, r)
	case r.Method == http.MethodDelete:
		t.stop(w, r)
	case r.Method == http.MethodGet && accepted(r.Header.Get("Accept")).eventStream > 0:
		t.open(w, r)
	default:
		t.operate(w, r, exec)
	}
}

// lookup returns the reservation of the request's token, or answers 404.
func (t *sseReservations) lookup(w http.ResponseWriter, r *http.Request) *sseReservation {
	tok := streamToken(r)
	t.mu.Lock()
	res := t.byKey[tok]
	t.mu.Unlock()
	if res == nil {
		writeError(w, http.StatusNotFound, codeBadRequest, "no stream is reserved under this token: reserve one with PUT")
	}
	return res
}

// reserve answers a PUT: a new reservation, whose token is the body.
func (t *sseReservations) reserve(w http.ResponseWriter, r *http.Request) {
	// The graphql-sse client sends the token of its last reservation
	// again when it reserves anew, often before the server has seen its
	// last stream close. Only the holder of a token can send it: the
	// reservation it names is over, and a new one takes its token. A
	// token the client made up must be no easier to guess than one the
	// server makes.
	token := streamToken(r)
	switch {
	case token == "":
		token = rand.Text()
	case len(token) < len(rand.Text()) || len(token) > 128 || !wellFormedID(strings.ReplaceAll(token, "=", "")):
		writeError(w, http.StatusBadRequest, codeBadRequest, "a stream token is 26 to 128 letters, digits, '.', '_' or '-'")
		return
	}
	t.mu.Lock()
	old := t.byKey[token]
	t.mu.Unlock()
	if old != nil {
		t.end(old)
	}
	// The reservation outlives the PUT: its context keeps the request's
	// values but ends with the reservation.
	ctx, release, err := t.streams.set.acquire(context.WithoutCancel(r.Context()), addressOf(r), w)
	if err != nil {
		return
	}
	res := &sseReservation{token: token, release: release, opened: make(chan struct{}), ops: map[string]*sseOp{}}
	res.ctx, res.cancel = context.WithCancel(ctx)
	res.timer = time.AfterFunc(reservationTimeout, func() {
		res.mu.Lock()
		open := res.streaming
		res.mu.Unlock()
		if !open {
			t.end(res)
		}
	})
	t.mu.Lock()
	if _, taken := t.byKey[token]; taken {
		t.mu.Unlock()
		res.timer.Stop()
		res.cancel()
		release()
		writeError(w, http.StatusConflict, codeBadRequest, "a stream is reserved under this token already")
		return
	}
	t.byKey[res.token] = res
	t.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte(res.token))
}

// end ends a reservation: its operations stop and its slot is released
// once they have returned.
func (t *sseReservations) end(res *sseReservation) {
	t.mu.Lock()
	if t.byKey[res.token] == res {
		delete(t.byKey, res.token)
	}
	t.mu.Unlock()
	// Cancelled under res.mu, where operate checks it before it counts a
	// new operation: none is counted once Wait may have begun.
	res.mu.Lock()
	res.cancel()
	res.mu.Unlock()
	res.timer.Stop()
	res.running.Wait()
	res.release()
}

// open answers the GET that opens a reserved stream, and serves it until
// the client leaves or the server ends it.
func (t *sseReservations) open(w http.ResponseWriter, r *http.Request) {
	res := t.lookup(w, r)
	if res == nil {
		return
	}
	res.mu.Lock()
	if res.streaming {
		res.mu.Unlock()
		writeError(w, http.StatusConflict, codeBadRequest, "the stream of this sseReservation is open already")
		return
	}
	res.streaming = true
	res.mu.Unlock()
	res.timer.Stop()
	defer t.end(res)

	sw := t.streams.startEvents(w)
	defer sw.close()
	res.mu.Lock()
	res.out = sw
	close(res.opened)
	res.mu.Unlock()

	ctx, stop := context.WithCancel(r.Context())
	defer stop()
	context.AfterFunc(res.ctx, stop)
	heartbeat(ctx, t.streams.cfg.keepAlive, func() error { return sw.write(sseComment) })
	if t.streams.cfg.keepAlive <= 0 {
		<-ctx.Done()
	}
}

// stop answers a DELETE: the operation stops, and nothing more is sent
// for it.
func (t *sseReservations) stop(w http.ResponseWriter, r *http.Request) {
	res := t.lookup(w, r)
	if res == nil {
		return
	}
	id := r.URL.Query().Get("operationId")
	if id == "" {
		writeError(w, http.StatusBadRequest, codeBadRequest, "the operation to stop is missing: send ?operationId=")
		return
	}
	res.mu.Lock()
	op := res.ops[id]
	delete(res.ops, id)
	res.mu.Unlock()
	if op != nil {
		op.cancel()
	}
	w.WriteHeader(http.StatusOK)
}

// operate answers a POST (or GET) that runs an operation on a reserved
// stream: 202 once it runs, its results on the stream. What refuses it
// before it runs is answered as GraphQL over HTTP answers it.
func (t *sseReservations) operate(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	res := t.lookup(w, r)
	if res == nil {
		return
	}
	media := responseMedia(r.Header.Get("Accept"))
	batch, isBatch, reqErr := t.http.readParams(r)
	switch {
	case reqErr != nil:
		if reqErr.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", "POST")
		}
		writeError(w, reqErr.status, codeBadRequest, reqErr.message)
		return
	case isBatch:
		writeError(w, http.StatusBadRequest, codeBadRequest, "a stream runs one operation per request: send a batch's operations one by one")
		return
	}
	id, _ := batch[0].Extensions["operationId"].(string)
	if id == "" {
		writeError(w, http.StatusBadRequest, codeBadRequest, "the operation has no id: send it in extensions.operationId")
		return
	}
	if len(id) > maxOperationID {
		writeError(w, http.StatusBadRequest, codeBadRequest, idTooLong)
		return
	}
	res.mu.Lock()
	_, busy := res.ops[id]
	full := t.maxOps > 0 && res.active >= t.maxOps
	res.mu.Unlock()
	switch {
	case t.streams.set.shuttingDown():
		w.Header().Set("Retry-After", "10")
		writeError(w, http.StatusServiceUnavailable, codeBadRequest, "the server is shutting down; retry later")
		return
	case busy:
		writeError(w, http.StatusConflict, codeBadRequest, "an operation with this id runs on the stream already")
		return
	case full:
		writeError(w, http.StatusTooManyRequests, codeBadRequest,
			fmt.Sprintf("this stream already runs %d operations, the most it may; complete one first", t.maxOps))
		return
	}
	op := t.http.prepare(r, batch[0], exec)
	if op.errs != nil || (r.Method == http.MethodGet && op.kind() == ast.Mutation) {
		w.Header().Set("Content-Type", media+"; charset=utf-8")
		status, body, pooled := t.http.finish(r, op, media, exec)
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", "POST")
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
		t.http.plans.put(pooled, body)
		return
	}
	// The operation outlives the request: its context keeps the
	// request's values (the caller, the request ID) and ends with the
	// operation or the reservation.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	res.mu.Lock()
	if _, busy := res.ops[id]; busy || res.ctx.Err() != nil {
		res.mu.Unlock()
		cancel()
		writeError(w, http.StatusConflict, codeBadRequest, "an operation with this id runs on the stream already")
		return
	}
	if t.maxOps > 0 && res.active >= t.maxOps {
		res.mu.Unlock()
		cancel()
		writeError(w, http.StatusTooManyRequests, codeBadRequest,
			fmt.Sprintf("this stream already runs %d operations, the most it may; complete one first", t.maxOps))
		return
	}
	releaseDoc, err := t.streams.held.hold(op.rc, addressOf(r))
	if err != nil {
		res.mu.Unlock()
		cancel()
		writeBusy(w, busyMessageFor(err))
		return
	}
	sop := &sseOp{cancel: cancel}
	res.ops[id] = sop
	res.active++
	res.running.Add(1)
	res.mu.Unlock()
	stopWith := context.AfterFunc(res.ctx, cancel)
	// It reads the store within its address's budget (replays.go).
	budget, releaseBudget := t.streams.set.replays.hold(addressOf(r))
	if budget != nil {
		ctx = pubsub.WithReadLimit(ctx, budget)
	}
	go func() {
		defer res.running.Done()
		defer func() {
			res.mu.Lock()
			res.active--
			res.mu.Unlock()
		}()
		defer releaseBudget()
		defer releaseDoc()
		defer stopWith()
		defer cancel()
		t.run(ctx, res, id, sop, exec, op.rc)
	}()
	w.WriteHeader(http.StatusAccepted)
}

// run runs one operation of a reservation, its events tagged with id,
// once the stream is open.
func (t *sseReservations) run(ctx context.Context, res *sseReservation, id string, op *sseOp, exec graphql.GraphExecutor, rc *graphql.OperationContext) {
	select {
	case <-res.opened:
	case <-ctx.Done():
		return
	}
	res.mu.Lock()
	out := res.out
	res.mu.Unlock()
	idJSON, _ := json.Marshal(id)
	stopped := func() bool {
		res.mu.Lock()
		defer res.mu.Unlock()
		return res.ops[id] != op
	}
	next := func(payload []byte) error {
		if stopped() {
			return errStreamClosed
		}
		return out.write(sseNext, []byte(`{"id":`), idJSON, []byte(`,"payload":`), payload, []byte("}"), sseEnd)
	}
	endErr := runOperation(ctx, exec, rc, func(_ *graphql.Response, body []byte) error { return next(body) })
	goingAway := errors.Is(endErr, items.ErrGoingAway)
	// Stopped by the client, or its stream ended: nothing more. Going
	// away, no complete: the stream closes once its other operations have
	// sent what they have, and the client reconnects elsewhere.
	if !stopped() {
		t.streams.end(ctx, endErr, func(errs gqlerror.List) error {
			body, _ := json.Marshal(struct {
				Errors gqlerror.List `json:"errors"`
			}{errs})
			_ = next(body)
			return nil
		}, func() {
			if !stopped() {
				_ = out.write(sseCompleteForID, []byte(`{"id":`), idJSON, []byte("}"), sseEnd)
			}
		})
	}
	res.mu.Lock()
	if res.ops[id] == op {
		delete(res.ops, id)
	}
	idle := len(res.ops) == 0
	res.mu.Unlock()
	if idle && (goingAway || t.streams.set.shuttingDown()) {
		res.cancel()
	}
}
