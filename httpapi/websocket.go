package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	coderws "github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"itemsapi/auth"
	"itemsapi/graph"
	"itemsapi/internal/request"
	"itemsapi/items"
	"itemsapi/metrics"
	"itemsapi/pubsub"
)

// GraphQL over websockets, in both protocols that clients speak:
// graphql-transport-ws (PROTOCOL.md of github.com/enisdenjo/graphql-ws)
// and the legacy graphql-ws of subscriptions-transport-ws. Operations run
// through gqlgen's executor (CreateOperationContext, DispatchOperation), as
// over HTTP, with its extensions, limits and error presenter.
//
// We used to wrap gqlgen's own websocket transport, but it keys the
// operations of a socket by the ids the client picks: a legacy `start`
// with an id that runs starts another operation and forgets the first
// (still running, no longer stoppable), and a graphql-transport-ws
// subscribe/complete/subscribe with one id leaves operations running after
// the client completed them. No guard in front of it can count what runs,
// so the transport is ours:
//
//   - the socket's goroutine reads the client's messages in order, and
//     parses, validates and dispatches each operation (for a subscription,
//     its resolver opens the stream); the operation then runs on one
//     goroutine of its own, which waits for results and sends them, except
//     a subscription to the store's log, which needs none: its socket's
//     pump sends what its group executed (fanout.go). It is
//     counted (against Config.MaxSubscriptionsPerSocket, and in
//     itemsapi_subscriptions_active) from its dispatch until that goroutine
//     returns, whatever the client's ids say; a subscribe past the limit
//     first waits, up to a write timeout, for operations already ended to
//     return;
//   - an id is busy while its operation runs and the client has not ended
//     it; a client's complete (stop) cancels the operation and silences it
//     at once, so that nothing more is sent for it, and frees the id, while
//     the operation stays counted until its goroutine has returned;
//   - every operation passes the rate limits of HTTP requests (the
//     upgrade's client address, the connection_init token), gets an
//     access-log line (method WS, request ID <the upgrade's>.<n>), and
//     learns through items.EndSubscription why its stream ended: an error
//     message for the client, or nothing at all for items.ErrGoingAway;
//   - Shutdown drains: 503 to new upgrades, an error to new operations,
//     1001 to each socket once its operations have ended, or at the end
//     of the grace;
//   - a message is written by the goroutine that has it to send (the pump,
//     for subscriptions to the log, several at once), one at a time per
//     socket, each within Config.WebsocketWriteTimeout: a client that does
//     not read holds at most one message per operation, or what a pump's
//     round could not send (wscork.go), and is disconnected when a write,
//     or a pump's wait for room to write, times out. Nothing is queued.

// Subprotocols of the two protocols. A client that names neither gets the
// legacy one, as with gqlgen.
const (
	subprotocolTransportWS = "graphql-transport-ws"
	subprotocolLegacy      = "graphql-ws"
)

// Close codes of the graphql-transport-ws specification (the legacy
// protocol uses them too where it has none of its own).
const (
	closeBadRequest          = 4400
	closeUnauthorized        = 4401
	closeForbidden           = 4403
	closeInitTimeout         = 4408
	closeSubscriberExists    = 4409
	closeTooManyInitRequests = 4429
)

// wsReadLimit bounds one client message, as gqlgen's transport did.
const wsReadLimit = 1 << 20

// maxOperationID bounds the id a client gives an operation, in bytes,
// over websockets and graphql-sse: an id is kept while its operation runs
// and sent again with each of its results, so ids of a megabyte would
// hold gigabytes over a thousand sockets. Clients use UUIDs (36 bytes) or
// counters.
const maxOperationID = 128

// idTooLong is the error of an operation id over maxOperationID.
var idTooLong = fmt.Sprintf("an operation id is at most %d bytes", maxOperationID)

// reasonGoingAway is the close reason, and the error message, of a server
// that shuts down.
const reasonGoingAway = "the server is shutting down"

// websocketTransport serves GraphQL over websockets. It keeps the sockets
// open, so that Shutdown can drain them.
type websocketTransport struct {
	cfg     Config
	tokens  *auth.Tokens
	limiter *limiter // nil: no rate limit
	access  *accessLog
	log     *slog.Logger
	metrics *metrics.Metrics // nil: not measured
	// deliveries bounds the subscription events being executed at once,
	// over every socket (see items.Gate), and pressure lets writes go
	// first; nil: no writes counted.
	deliveries *items.Gate
	pressure   *writePressure
	// inflight is the budget of bytes in flight that HTTP requests share
	// (nil: none): a message reserves from it as it is read, and its
	// operation what parsing its document takes, as a request does.
	inflight *inflight
	// held counts the documents of running operations (nil: not).
	held *heldDocs
	// fanout groups the subscriptions to a log that share answers.
	fanout *fanout
	// socketsChanged is Deps.WebsocketsChanged, called under mu.
	socketsChanged func(open int)

	mu      sync.Mutex
	sockets map[*wsConn]struct{}
	// byAddress counts the open sockets of each client address, within
	// its share of MaxWebsockets (shares.go).
	byAddress addressCounts
	// replays paces the store reads of each address's subscriptions
	// (replays.go).
	replays  *replayBudgets
	shutting bool
	drained  chan struct{} // closed once shutting and no socket is left
}

var _ graphql.Transport = (*websocketTransport)(nil)

func newWebsocket(cfg Config, deps Deps, tokens *auth.Tokens, l *limiter, access *accessLog, f *inflight, held *heldDocs) *websocketTransport {
	// Sockets watch their tokens: start the poll that tells them of
	// revocations now, rather than with the first socket.
	tokens.Changed()
	t := &websocketTransport{
		cfg: cfg, tokens: tokens, limiter: l, access: access, log: deps.Logger, metrics: deps.Metrics, inflight: f, held: held,
		socketsChanged: deps.WebsocketsChanged,
		deliveries:     items.NewGate(4 * runtime.GOMAXPROCS(0)),
		sockets:        map[*wsConn]struct{}{},
		byAddress:      newAddressCounts(int64(cfg.MaxWebsockets), cfg.MaxSharePerAddress),
		drained:        make(chan struct{}),
	}
	t.fanout = newFanout(t)
	return t
}

// Supports implements graphql.Transport: every upgrade request.
func (*websocketTransport) Supports(r *http.Request) bool { return r.Header.Get("Upgrade") != "" }

// Do implements graphql.Transport. It refuses an upgrade from another
// origin with a 403, and one past the limit of open sockets, past its
// client address's share of it, or once shutdown has begun, with a 503;
// then it serves the socket until it closes and every operation of it
// has returned.
func (t *websocketTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if !originAllowed(r, t.cfg.WebsocketOrigins) {
		writeError(w, items.Forbidden.Status(), items.Forbidden,
			"websocket connections from the origin of this page are not allowed")
		return
	}
	c := &wsConn{t: t, exec: exec, r: r, addr: addressOf(r), reqID: items.RequestID(r.Context()), live: map[*wsOp]struct{}{}, ops: map[string]*wsOp{}, changed: make(chan struct{})}
	c.readCtx, c.stopRead = context.WithCancel(context.Background())
	if refusal := t.register(c); refusal != "" {
		w.Header().Set("Retry-After", "10")
		writeError(w, http.StatusServiceUnavailable, codeBadRequest, refusal)
		return
	}
	defer t.unregister(c)
	// Its subscriptions read the store within its address's budget.
	budget, releaseBudget := t.replays.hold(c.addr)
	defer releaseBudget()
	if budget != nil {
		c.replay = budget
	}
	// The record's writer hands the library a corkConn when it hijacks.
	rec, w, _ := request.Of(w, r)
	rec.OnHijack(func(conn net.Conn) net.Conn {
		c.cork = newCorkConn(conn, t.cfg.WebsocketWriteTimeout)
		return c.cork
	})
	conn, err := coderws.Accept(w, r, &coderws.AcceptOptions{
		Subprotocols:    []string{subprotocolTransportWS, subprotocolLegacy},
		CompressionMode: coderws.CompressionDisabled,
		OriginPatterns:  t.cfg.WebsocketOrigins,
	})
	if err != nil {
		return // Accept has answered
	}
	conn.SetReadLimit(wsReadLimit)
	limitSendBuffer(r.Context())
	c.serve(conn)
}

// wsSendBuffer is the kernel's send buffer of a websocket's connection.
// Left to itself the kernel grows it to megabytes for a client that reads
// nothing, and the server would execute and write thousands of events
// for such a client before its writes block; with a small buffer they
// block after a few dozen, and cost nothing more.
const wsSendBuffer = 32 << 10

type connKey struct{}

// ConnContext returns ctx carrying c, the connection a request came on:
// the http.Server's ConnContext, so that a websocket can size its send
// buffer.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// limitSendBuffer sets the send buffer of the TCP connection that ctx
// carries, if any.
func limitSendBuffer(ctx context.Context) {
	if tc, ok := ctx.Value(connKey{}).(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(wsSendBuffer)
	}
}

// register adds c to the open sockets, or returns why it may not open.
func (t *websocketTransport) register(c *wsConn) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.shutting:
		return reasonGoingAway + "; retry later"
	case t.cfg.MaxWebsockets > 0 && len(t.sockets) >= t.cfg.MaxWebsockets:
		countRefused(t.metrics, limitWebsockets, false)
		return fmt.Sprintf("the server has the most websockets it takes open (%d); retry later", t.cfg.MaxWebsockets)
	case !t.byAddress.fits(c.addr, 1):
		countRefused(t.metrics, limitWebsockets, true)
		if t.byAddress.refused(c.addr) {
			warnShare(t.log, c.addr, limitWebsockets, t.byAddress.share, int64(t.cfg.MaxWebsockets))
		}
		return fmt.Sprintf("this client address has the most websockets it may hold open (%d, its share of the server's %d); retry later",
			t.byAddress.share, t.cfg.MaxWebsockets)
	}
	t.sockets[c] = struct{}{}
	t.byAddress.add(c.addr, 1)
	if t.socketsChanged != nil {
		t.socketsChanged(len(t.sockets))
	}
	return ""
}

func (t *websocketTransport) unregister(c *wsConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.sockets, c)
	t.byAddress.add(c.addr, -1)
	if t.socketsChanged != nil {
		t.socketsChanged(len(t.sockets))
	}
	if t.shutting && len(t.sockets) == 0 {
		t.closeDrained()
	}
}

// closeDrained closes t.drained once. t.mu is held.
func (t *websocketTransport) closeDrained() {
	select {
	case <-t.drained:
	default:
		close(t.drained)
	}
}

// beginShutdown refuses new websockets from now on (503), and closes
// each open one with 1001 as soon as none of its operations runs any more
// (their streams end when the broker ends them, with items.ErrGoingAway).
func (t *websocketTransport) beginShutdown() {
	t.mu.Lock()
	t.shutting = true
	if len(t.sockets) == 0 {
		t.closeDrained()
	}
	conns := t.openSockets()
	t.mu.Unlock()
	for _, c := range conns {
		c.drain()
	}
}

// awaitShutdown waits, after beginShutdown, for every socket to close, and
// when ctx is done closes every socket left with 1001 too, ending its
// operations. It returns once every socket has closed and every operation
// has returned: nil if they all drained in time, ctx's error otherwise.
func (t *websocketTransport) awaitShutdown(ctx context.Context) error {
	select {
	case <-t.drained:
		return nil
	case <-ctx.Done():
	}
	t.mu.Lock()
	conns := t.openSockets()
	t.mu.Unlock()
	for _, c := range conns {
		c.closeWith(coderws.StatusGoingAway, reasonGoingAway)
	}
	// Their operations' contexts are done. A client has a second to
	// answer the close; then its connection is cut, which fails the
	// writes that wait, so that no socket holds the shutdown up for long.
	grace := time.NewTimer(closeHandshakeWait)
	defer grace.Stop()
	select {
	case <-t.drained:
	case <-grace.C:
		t.mu.Lock()
		conns = t.openSockets()
		t.mu.Unlock()
		for _, c := range conns {
			c.abort()
		}
		<-t.drained
	}
	return ctx.Err()
}

// closeHandshakeWait is how long Shutdown waits, once its ctx is done, for
// clients to answer the close of their sockets.
const closeHandshakeWait = time.Second

// openSockets lists the open sockets. t.mu is held.
func (t *websocketTransport) openSockets() []*wsConn {
	conns := make([]*wsConn, 0, len(t.sockets))
	for c := range t.sockets {
		conns = append(conns, c)
	}
	return conns
}

// runningOps returns the ids of the operations whose goroutine runs, on
// every socket, sorted: for tests.
func (t *websocketTransport) runningOps() []string {
	t.mu.Lock()
	conns := t.openSockets()
	t.mu.Unlock()
	var ids []string
	for _, c := range conns {
		c.mu.Lock()
		for op := range c.live {
			ids = append(ids, op.id)
		}
		c.mu.Unlock()
	}
	slices.Sort(ids)
	return ids
}

// originAllowed reports whether a websocket may be opened from the Origin
// of r, as coder/websocket decides: with no Origin, from the request's own
// host, or from an origin that matches one of patterns (path.Match, in any
// case, against the host, or against scheme://host for a pattern with
// "://").
func originAllowed(r *http.Request, patterns []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(r.Host, u.Host) {
		return true
	}
	for _, p := range patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(target)); ok {
			return true
		}
	}
	return false
}

// wsConn is one socket.
type wsConn struct {
	t    *websocketTransport
	exec graphql.GraphExecutor
	r    *http.Request // the upgrade request: headers, client address
	addr netip.Addr    // the client address (addressOf), for shares
	// replay is the address's budget of store reads (nil: none), which
	// its subscriptions to a log read within.
	replay pubsub.ReadLimit
	reqID  string // the upgrade's request ID; operations' derive from it
	legacy bool

	// wmu makes writes one at a time, and makes the check that an
	// operation may still send one with its write.
	wmu sync.Mutex

	mu          sync.Mutex
	conn        *coderws.Conn
	ctx         context.Context // operations' parent: the upgrade's, with the token of connection_init
	cancel      context.CancelFunc
	token       *request.Token // nil: none
	initialised bool
	// live holds every operation whose goroutine runs; ops the one of
	// each id that the client has not ended (or the latest).
	live      map[*wsOp]struct{}
	ops       map[string]*wsOp
	seq       uint64
	draining  bool
	closing   bool
	initTimer *time.Timer
	keepAlive *time.Timer
	lastPong  time.Time
	// res is the reservation of bytes in flight of the message being
	// handled; only the socket's goroutine uses it.
	res *reservation
	// subs holds the operations that follow a log without a goroutine
	// of their own (fanout.go); the pump sends their events, and uses
	// the round's buffers.
	subs      []*wsOp
	pumpState atomic.Int32
	roundSubs []*wsOp
	readBuf   *[]items.Event // a round's, from eventBuffers (nil between rounds)
	// keepAliveOwed: a keep-alive waits for the pump's next round (tick).
	keepAliveOwed atomic.Bool
	rounds        uint64          // rounds run, to rotate where a round starts
	frame         []byte          // under wmu
	cork          *corkConn       // the connection, corked by send (nil: not hijacked through the record's writer)
	readCtx       context.Context // the reads'; abort cancels it
	stopRead      context.CancelFunc
	changed       chan struct{} // closed and replaced as an operation returns
	goroutines    sync.WaitGroup
}

// wsOp is one operation of a socket.
type wsOp struct {
	id     string
	idJ    []byte // id in JSON
	cancel context.CancelFunc
	pacer  *items.Pacer
	// sub: it follows a log without a goroutine of its own (fanout.go).
	sub *wsSub
	// doc is the document the operation keeps (heldDocs), which
	// finishOp releases; nil: none counted.
	doc *heldDoc
	// counted: the metrics count it (CountOperation) until finishOp.
	counted bool
	// For its access-log line: its operation's name, request ID, and
	// when its message was received.
	name, reqID string
	received    time.Time
	// silenced: nothing more is sent for it. Set under wsConn.wmu, before
	// its last message, or when the client ends it.
	silenced atomic.Bool
	// stopped: the client ended it.
	stopped atomic.Bool

	mu     sync.Mutex
	endErr error // why its stream ended, from items.EndSubscription
}

func (op *wsOp) setEnd(err error) {
	op.mu.Lock()
	if op.endErr == nil {
		op.endErr = err
	}
	op.mu.Unlock()
}

// idJSON returns the operation's id in JSON.
func (op *wsOp) idJSON() []byte {
	if op.idJ == nil {
		op.idJ, _ = json.Marshal(op.id) // a string always marshals
	}
	return op.idJ
}

func (op *wsOp) end() error {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.endErr
}

// serve runs the socket: it reads and handles the client's messages in
// order until the socket closes, then ends the operations and waits for
// their goroutines.
func (c *wsConn) serve(conn *coderws.Conn) {
	c.legacy = conn.Subprotocol() != subprotocolTransportWS
	defer c.stopRead()
	base, cancel := context.WithCancel(c.r.Context())
	c.mu.Lock()
	c.conn, c.ctx, c.cancel = conn, base, cancel
	if rec := request.From(c.r.Context()); rec != nil {
		c.token = rec.Token()
	}
	if d := c.t.cfg.WebsocketInitTimeout; d > 0 {
		c.initTimer = time.AfterFunc(d, func() {
			c.closeWith(closeInitTimeout, "Connection initialisation timeout")
		})
	}
	draining := c.draining
	c.mu.Unlock()
	defer c.finish()
	if draining { // Shutdown came first
		c.drain()
	}
	for {
		res := &reservation{in: c.t.inflight, addr: c.addr}
		data, err := c.read(conn, res)
		if errors.Is(err, errBusy) {
			res.release()
			c.closeWith(coderws.StatusTryAgainLater, res.message())
			return
		}
		if err != nil {
			res.release()
			return
		}
		if !utf8.Valid(data) {
			// RFC 6455: a message that is not UTF-8 fails the socket,
			// with 1007. Decoded, its bad bytes would become U+FFFD,
			// unseen, in a name stored or an id echoed.
			res.release()
			c.closeWith(coderws.StatusInvalidFramePayloadData, "the message is not valid UTF-8")
			return
		}
		c.res = res
		var v verdict
		if c.legacy {
			v = c.handleLegacy(data)
		} else {
			v = c.handle(data)
		}
		c.res = nil
		res.release()
		if v.closeCode != 0 {
			c.closeWith(v.closeCode, v.reason)
			return
		}
	}
}

// A message is read in chunks, each chunk's bytes in flight reserved
// before it is read: the first of wsFirstChunk, most messages' whole size
// (a ping, a subscribe, a complete), then each twice the one before, up to
// wsReadChunk, so that a small message costs a small buffer.
const (
	wsFirstChunk = 1 << 10
	wsReadChunk  = 32 << 10
)

// read reads the next message, reserving in res bodyBytesFactor times its
// bytes as they come (for the message, and the decoding of it): the
// messages being read and handled at once on every socket hold at most
// the budget of bytes in flight, and a client that trickles a message
// holds only what it has sent. A message that cannot have its memory
// within inflightWait fails with errBusy: the sockets that each hold part
// of the budget, waiting for more, would otherwise wait for each other.
func (c *wsConn) read(conn *coderws.Conn, res *reservation) ([]byte, error) {
	_, r, err := conn.Reader(c.readCtx)
	if err != nil {
		return nil, err
	}
	if res.in == nil {
		return io.ReadAll(r)
	}
	var data []byte
	for chunk := wsFirstChunk; ; chunk = min(2*chunk, wsReadChunk) {
		if err := res.grow(c.readCtx, int64(chunk)*bodyBytesFactor); err != nil {
			return nil, err
		}
		data = slices.Grow(data, chunk)
		n, err := io.ReadFull(r, data[len(data):len(data)+chunk])
		data = data[:len(data)+n]
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			// What the message holds, not the chunks reserved for it:
			// a ping keeps a few bytes while its pong is written.
			res.trim(int64(len(data)) * bodyBytesFactor)
			return data, nil
		case err != nil:
			return nil, err
		}
	}
}

// finish ends every operation of the socket and waits for them.
func (c *wsConn) finish() {
	c.mu.Lock()
	for _, t := range []*time.Timer{c.initTimer, c.keepAlive} {
		if t != nil {
			t.Stop()
		}
	}
	closing := c.closing
	c.closing = true
	c.mu.Unlock()
	c.cancel()
	c.kick() // the pump ends the subscriptions it runs
	c.goroutines.Wait()
	if !closing {
		_ = c.conn.CloseNow() // the client closed it, or the connection broke
	}
}

// closeWith closes the socket with code and reason, unless it is closing
// already, and ends its operations. The close handshake runs on its own
// goroutine: it waits up to 5 s for the client's answer.
func (c *wsConn) closeWith(code coderws.StatusCode, reason string) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	if c.conn == nil {
		// Not accepted yet, and only Shutdown closes such a socket:
		// serve drains it, with 1001, as soon as it is.
		c.draining = true
		c.mu.Unlock()
		return
	}
	c.closing = true
	conn, cancel := c.conn, c.cancel
	c.mu.Unlock()
	cancel()
	c.kick()
	go func() {
		if c.cork != nil {
			c.cork.release()
		}
		_ = conn.Close(code, reason)
	}()
}

// abort cuts the socket's connection, without a close handshake, even
// one under way: cancelling a read closes the connection.
func (c *wsConn) abort() { c.stopRead() }

// drain makes the socket refuse new operations and close with 1001 once
// none runs.
func (c *wsConn) drain() {
	c.mu.Lock()
	c.draining = true
	idle := c.conn != nil && len(c.live) == 0
	c.mu.Unlock()
	if idle {
		c.closeWith(coderws.StatusGoingAway, reasonGoingAway)
	}
}

// verdict is what a client message does to the socket: nothing more than
// handling it did, or close the socket with closeCode and reason.
type verdict struct {
	closeCode coderws.StatusCode
	reason    string
}

func badRequest(reason string) verdict { return verdict{closeCode: closeBadRequest, reason: reason} }

// handle applies one message of graphql-transport-ws.
func (c *wsConn) handle(data []byte) verdict {
	var msg map[string]json.RawMessage
	if err := json.Unmarshal(data, &msg); err != nil || msg == nil {
		return badRequest("Invalid message received: not a JSON object")
	}
	typ, _ := jsonString(msg["type"])
	id, hasID := jsonString(msg["id"])
	payload := msg["payload"]
	switch typ {
	case "":
		return badRequest("Invalid message received: no type")
	case "connection_init", "ping", "pong":
		if !nullOrObject(payload) {
			return badRequest("Invalid message received: the payload of " + typ + " must be an object")
		}
	case "subscribe":
		if !hasID || id == "" {
			return badRequest("Invalid message received: subscribe needs a non-empty id")
		}
		if len(id) > maxOperationID {
			return badRequest("Invalid message received: " + idTooLong)
		}
		if reason := checkSubscribePayload(payload); reason != "" {
			return badRequest("Invalid message received: " + reason)
		}
	case "complete":
		if !hasID || id == "" {
			return badRequest("Invalid message received: complete needs a non-empty id")
		}
	default:
		return badRequest(limitReason("Invalid message received: unexpected type "+typ, "Invalid message received: unexpected type"))
	}

	c.mu.Lock()
	initialised := c.initialised
	c.mu.Unlock()
	switch {
	case typ == "connection_init" && initialised:
		return verdict{closeCode: closeTooManyInitRequests, reason: "Too many initialisation requests"}
	case typ == "connection_init":
		return c.init(payload)
	case typ == "ping":
		c.write(nil, pong(payload))
	case typ == "pong":
		c.mu.Lock()
		c.lastPong = time.Now()
		c.mu.Unlock()
	case !initialised:
		if typ == "subscribe" {
			return verdict{closeCode: closeUnauthorized, reason: "Unauthorized"}
		}
		// the complete of an unknown operation: nothing to do
	case typ == "subscribe":
		return c.start(id, payload)
	case typ == "complete":
		c.stop(id)
	}
	return verdict{}
}

// handleLegacy applies one message of the legacy graphql-ws. Its rules
// are those of subscriptions-transport-ws's server: a message it cannot
// read gets a connection_error and the socket stays open.
func (c *wsConn) handleLegacy(data []byte) verdict {
	var msg map[string]json.RawMessage
	if err := json.Unmarshal(data, &msg); err != nil || msg == nil {
		c.write(nil, connectionError("the message is not a JSON object"))
		return verdict{}
	}
	typ, _ := jsonString(msg["type"])
	id, hasID := jsonString(msg["id"])
	payload := msg["payload"]
	c.mu.Lock()
	initialised := c.initialised
	c.mu.Unlock()
	switch typ {
	case "connection_init":
		if !nullOrObject(payload) {
			return badRequest("Invalid message received: the payload of connection_init must be an object")
		}
		if initialised {
			return verdict{closeCode: closeTooManyInitRequests, reason: "Too many initialisation requests"}
		}
		return c.init(payload)
	case "connection_terminate":
		return verdict{closeCode: coderws.StatusNormalClosure, reason: "terminated"}
	case "start":
		switch {
		case !initialised:
			return verdict{closeCode: closeUnauthorized, reason: "Unauthorized"}
		case !hasID:
			c.write(nil, connectionError("start needs a string id"))
		case len(id) > maxOperationID:
			c.write(nil, connectionError(idTooLong))
		default:
			return c.start(id, payload)
		}
	case "stop":
		if initialised && hasID {
			c.stop(id)
		}
	default:
		c.write(nil, connectionError(limitReason("unexpected message type "+typ, "unexpected message type")))
	}
	return verdict{}
}

// init acknowledges connection_init, takes the token of its payload (or,
// without one, that of the upgrade request's headers), and starts the
// keep-alive. A token that is unknown, revoked or expired closes the
// socket with 4403 instead; one that is revoked or expires while the
// socket is open closes it with 4403 then, wherever it came from.
func (c *wsConn) init(payload json.RawMessage) verdict {
	var p map[string]any
	_ = json.Unmarshal(payload, &p) // null or an object, checked
	c.mu.Lock()
	tok := c.token // the upgrade's, or nil
	c.mu.Unlock()
	if s, ok := auth.FromInitPayload(p); ok {
		tok = request.NewToken(s)
	}
	if tok != nil {
		_, ended, err := c.t.tokens.Watch(c.ctx, tok.Hash())
		if err != nil {
			if items.ErrorCode(err) == items.Internal {
				c.t.log.ErrorContext(c.ctx, "checking a websocket's token", "req_id", c.reqID, "err", err)
				return verdict{closeCode: coderws.StatusInternalError, reason: "the token could not be checked"}
			}
			return verdict{closeCode: closeForbidden, reason: limitReason("Forbidden: "+items.ErrorMessage(err), "Forbidden")}
		}
		done := c.ctx.Done() // c.ctx changes below
		go func() {
			select {
			case err := <-ended:
				c.closeWith(closeForbidden, limitReason("Forbidden: "+items.ErrorMessage(err), "Forbidden"))
			case <-done:
			}
		}()
	}
	c.mu.Lock()
	c.initialised = true
	if tok != nil {
		c.token = tok
		c.ctx = auth.WithToken(c.ctx, c.t.tokens, tok)
	}
	if c.initTimer != nil {
		c.initTimer.Stop()
	}
	c.lastPong = time.Now()
	c.mu.Unlock()
	c.write(nil, []byte(`{"type":"connection_ack"}`))
	if c.legacy {
		c.write(nil, []byte(`{"type":"ka"}`))
	}
	if d := c.t.cfg.KeepAlive; d > 0 {
		c.mu.Lock()
		if !c.closing {
			c.keepAlive = time.AfterFunc(d, c.tick)
		}
		c.mu.Unlock()
	}
	return verdict{}
}

// tick sends a keep-alive: "ka" on the legacy protocol, a ping on
// graphql-transport-ws, whose client is disconnected if it answered no
// ping for twice the interval.
func (c *wsConn) tick() {
	d := c.t.cfg.KeepAlive
	c.mu.Lock()
	late := !c.legacy && time.Since(c.lastPong) > 2*d
	c.mu.Unlock()
	if late {
		c.closeWith(coderws.StatusPolicyViolation, "no pong within twice the keep-alive interval")
		return
	}
	if c.cork != nil && c.cork.waiting() {
		// The socket waits for room, or writes a round: its client
		// has not read what came before. The keep-alive goes with the
		// pump's next round, rather than wait for the socket's writer
		// on a goroutine of its own (1,000 such sockets held 1,000
		// goroutines).
		c.keepAliveOwed.Store(true)
		c.kick()
	} else {
		c.write(nil, c.keepAliveMessage())
	}
	c.mu.Lock()
	if !c.closing {
		c.keepAlive.Reset(d)
	}
	c.mu.Unlock()
}

// keepAliveMessage is the keep-alive of the socket's protocol.
func (c *wsConn) keepAliveMessage() []byte {
	if c.legacy {
		return []byte(`{"type":"ka"}`)
	}
	return []byte(`{"type":"ping"}`)
}

// start starts operation id, or refuses it: a busy id closes a
// graphql-transport-ws socket with 4409 and gets an error message on the
// legacy protocol (the running operation goes on); past the limit of
// operations, during shutdown, or past a rate limit it gets an error
// message and the socket stays open.
func (c *wsConn) start(id string, payload json.RawMessage) verdict {
	received := graphql.Now()
	params, reqErr := paramsFromJSON(payload)

	c.mu.Lock()
	c.seq++
	reqID := c.reqID + "." + strconv.FormatUint(c.seq, 10)
	if old := c.ops[id]; old != nil && !old.silenced.Load() {
		c.mu.Unlock()
		if !c.legacy {
			return verdict{closeCode: closeSubscriberExists,
				reason: limitReason("Subscriber for "+id+" already exists", "Subscriber already exists")}
		}
		c.refuseLogged(id, reqID, http.StatusConflict, codeBadRequest,
			"an operation with this id is already running; stop it first or use another id")
		return verdict{}
	}
	c.awaitEnding()
	switch {
	case c.draining:
		c.mu.Unlock()
		c.refuseLogged(id, reqID, items.Unavailable.Status(), items.Unavailable, reasonGoingAway)
		return verdict{}
	case c.t.cfg.MaxSubscriptionsPerSocket > 0 && len(c.live) >= c.t.cfg.MaxSubscriptionsPerSocket:
		c.mu.Unlock()
		c.refuseLogged(id, reqID, http.StatusServiceUnavailable, codeBadRequest, fmt.Sprintf(
			"this connection already runs %d operations, the most it may; complete one first", c.t.cfg.MaxSubscriptionsPerSocket))
		return verdict{}
	}
	token := c.token
	c.mu.Unlock()

	if reqErr != nil {
		c.refuseLogged(id, reqID, http.StatusBadRequest, codeBadRequest, reqErr.message)
		return verdict{}
	}
	if l := c.t.limiter; l != nil && l.limited(headerSink{http.Header{}}, c.r, token) {
		c.refuseLogged(id, reqID, http.StatusTooManyRequests, codeBadRequest, l.message)
		return verdict{}
	}

	// The document is parsed and validated here, on the socket's own
	// goroutine, as gqlgen's transport did: an operation's goroutine then
	// only streams, and keeps a small stack.
	c.mu.Lock()
	ctx, cancel := context.WithCancel(c.ctx)
	c.mu.Unlock()
	// What a subscription to a log keeps: the message's reservation,
	// released once it is handled, goes on top of it.
	idCtx := items.WithRequestID(ctx, reqID)
	ctx = idCtx
	if c.res != nil && c.res.in != nil {
		// Parsing reserves what it takes with the message's bytes.
		ctx = context.WithValue(ctx, reservationKey{}, c.res)
	}
	ctx = graphql.StartOperationTrace(ctx)
	params.Headers = c.r.Header
	params.ReadTime = graphql.TraceTiming{Start: received, End: graphql.Now()}
	rc, errs := c.exec.CreateOperationContext(ctx, params)
	if refused(ctx) {
		cancel()
		c.refuseLogged(id, reqID, http.StatusServiceUnavailable, codeBadRequest, busyMessageOf(ctx))
		return verdict{}
	}
	if errs != nil {
		defer cancel()
		resp := c.exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		if errcode.GetErrorKind(errs) == errcode.KindProtocol {
			c.write(nil, c.errorMessage(id, resp.Errors))
		} else {
			c.write(nil, c.message(c.nextType(), id, marshalResponse(resp)))
			c.write(nil, c.message("complete", id, nil))
		}
		now := time.Now()
		c.t.access.request(now, reqID, "WS", c.r.URL.Path, params.OperationName, http.StatusBadRequest, now.Sub(received))
		return verdict{}
	}

	doc, err := c.t.held.holdDoc(rc, c.addr)
	if err != nil {
		cancel()
		c.refuseLogged(id, reqID, http.StatusServiceUnavailable, codeBadRequest, busyMessageFor(err))
		return verdict{}
	}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		c.t.held.release(doc)
		cancel()
		return verdict{}
	}
	name := rc.OperationName
	if name == "" && rc.Operation != nil {
		name = rc.Operation.Name
	}
	// What the operation keeps to its end is in op itself, not in
	// closures: a parked subscription is then a few objects for the
	// collector to mark at each cycle, not a dozen.
	op := &wsOp{id: id, cancel: cancel, doc: doc, name: name, reqID: reqID, received: received}
	c.ops[id] = op
	c.live[op] = struct{}{}
	c.goroutines.Add(1)
	c.mu.Unlock()
	// The operation counts from here until its goroutine returns.
	// DispatchOperation runs the operation interceptors and, for a
	// subscription, the resolver that opens its stream; it runs here too,
	// so that the goroutine only waits for results and sends them.
	if c.t.metrics != nil {
		ctx = c.t.metrics.CountOperation(ctx)
		op.counted = true
	}
	op.pacer = items.NewPacer()
	ctx = items.WithPacer(items.WithSubscriptionEnd(graphql.WithOperationContext(ctx, rc), op.setEnd), op.pacer)
	if rc.Operation == nil || rc.Operation.Operation != ast.Subscription {
		responses, ctx, panicked := c.dispatch(ctx, rc)
		go c.run(ctx, op, rc, responses, panicked)
		return verdict{}
	}
	// A subscription is dispatched under a context that outlives the
	// operation: when it follows a log, its stream may serve the other
	// subscriptions of its group after it ends (fanout.go).
	tap := &pubsub.Tap{}
	dctx, dcancel := context.WithCancel(pubsub.WithTap(context.WithoutCancel(ctx), tap))
	responses, dctx, panicked := c.dispatch(dctx, rc)
	if panicked || tap.Log() == nil {
		context.AfterFunc(ctx, dcancel)
		go c.run(dctx, op, rc, responses, panicked)
		return verdict{}
	}
	// It keeps neither its dispatch nor its document's operation context:
	// its group executes for it (a subscription to a log costs little).
	x := executor{ctx: dctx, cancel: dcancel, feed: tap.Feed(), handler: responses, rc: rc}
	key := c.subKey(rc, tap, graph.EventCallerIndependent(rc.Operation), op)
	op.pacer = nil
	fctx := idCtx
	if c.replay != nil {
		fctx = pubsub.WithReadLimit(idCtx, c.replay)
	}
	c.follow(fctx, op, key, x, tap.After())
	return verdict{}
}

// dispatch calls DispatchOperation, and reports a panic in it.
func (c *wsConn) dispatch(ctx context.Context, rc *graphql.OperationContext) (_ graphql.ResponseHandler, _ context.Context, panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			_ = rc.Recover(ctx, p) // logs it
			panicked = true
		}
	}()
	responses, ctx := c.exec.DispatchOperation(ctx, rc)
	return responses, ctx, false
}

// awaitEnding waits, while the socket runs as many operations as it may
// and some of them are ending (the client or the server ended them, and
// their goroutines are returning), for those to return, for up to a write
// timeout: a client may complete an operation and start another at once.
// c.mu is held.
func (c *wsConn) awaitEnding() {
	limit := c.t.cfg.MaxSubscriptionsPerSocket
	var deadline <-chan time.Time
	for limit > 0 && len(c.live) >= limit && !c.closing {
		ending := false
		for op := range c.live {
			if op.silenced.Load() {
				ending = true
				break
			}
		}
		if !ending {
			return
		}
		if deadline == nil {
			d := c.t.cfg.WebsocketWriteTimeout
			if d <= 0 {
				d = 5 * time.Second
			}
			t := time.NewTimer(d)
			defer t.Stop()
			deadline = t.C
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			c.mu.Lock()
			return
		}
		c.mu.Lock()
	}
}

// stop ends operation id for the client: nothing more is sent for it (on
// the legacy protocol, a complete first), and its context is cancelled.
// It stays counted until its goroutine returns.
func (c *wsConn) stop(id string) {
	c.mu.Lock()
	op := c.ops[id]
	c.mu.Unlock()
	if op == nil || op.silenced.Load() {
		return
	}
	op.stopped.Store(true)
	if c.legacy {
		c.writeLast(op, c.message("complete", id, nil))
	} else {
		c.wmu.Lock()
		op.silenced.Store(true)
		c.wmu.Unlock()
	}
	op.cancel()
	if op.sub != nil {
		c.kick() // its pump ends it
	}
}

// run is the goroutine of one operation: it sends the operation's
// results, then its end, and logs it. The frames below a parked operation
// (run, stream) are kept small, and the operation's setting-up ran on the
// socket's goroutine (see start): a parked subscription then needs a
// small stack, which matters at 20,000 of them.
func (c *wsConn) run(ctx context.Context, op *wsOp, rc *graphql.OperationContext, responses graphql.ResponseHandler, panicked bool) {
	if !panicked {
		panicked = c.stream(ctx, op, rc, responses)
	}
	c.finishOp(ctx, op, panicked)
}

// stream sends the operation's results until there are no more. It
// reports whether the operation panicked.
func (c *wsConn) stream(ctx context.Context, op *wsOp, rc *graphql.OperationContext, responses graphql.ResponseHandler) (panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			_ = rc.Recover(ctx, p) // logs it
			panicked = true
		}
	}()
	if !op.pacer.Joined() {
		// Not a subscription of a paced producer: results come as the
		// handler makes them.
		for resp := responses(ctx); resp != nil; resp = responses(ctx) {
			c.sendResult(op, resp)
		}
		return false
	}
	results := make(chan executed, 1)
	for {
		// Wait for news without executing anything, so that this
		// goroutine's stack stays small whatever an execution needs;
		// each item is executed on a goroutine that ends with it, inside
		// the gate that bounds executions at once. Writing the answer,
		// which a client that reads slowly holds up, is outside it.
		select {
		case <-op.pacer.Pending():
		case <-ctx.Done():
			return false
		}
		c.t.pressure.queued.Add(1)
		entered := c.t.deliveries.Enter(ctx)
		c.t.pressure.queued.Add(-1)
		if entered != nil {
			return false
		}
		c.t.pressure.yield(ctx)
		go func() {
			defer c.t.deliveries.Leave()
			defer func() {
				if p := recover(); p != nil {
					_ = rc.Recover(ctx, p) // logs it
					results <- executed{panicked: true}
				}
			}()
			op.pacer.Ready()
			results <- executed{resp: responses(ctx)}
		}()
		r := <-results
		switch {
		case r.panicked:
			return true
		case r.resp == nil:
			return false
		}
		c.sendResult(op, r.resp)
	}
}

// executed is what an execution of a subscription's item gave.
type executed struct {
	resp     *graphql.Response
	panicked bool
}

// sendResult sends one result of op; a write that fails ends op, whose
// socket is gone.
func (c *wsConn) sendResult(op *wsOp, resp *graphql.Response) {
	if err := c.write(op, c.message(c.nextType(), op.id, marshalResponse(resp))); err != nil {
		op.cancel()
	}
}

// finishOp sends the end of op: complete, or an error message when it
// panicked or its stream ended for a reason of its own, or nothing at
// shutdown; then it uncounts op and writes its access-log line.
func (c *wsConn) finishOp(ctx context.Context, op *wsOp, panicked bool) {
	status := http.StatusOK
	switch err := op.end(); {
	case panicked:
		c.writeLast(op, c.errorMessage(op.id, gqlerror.List{{
			Message: "internal server error", Extensions: items.Internal.Extensions(),
		}}))
		status = items.Internal.Status()
	case err == nil:
		if ctx.Err() == nil {
			c.writeLast(op, c.message("complete", op.id, nil))
		} else if op.stopped.Load() {
			status = statusClientClosed
		}
	case errors.Is(err, items.ErrGoingAway):
		// The server shuts down: the socket closes with 1001 once its
		// operations have ended, and the client resumes elsewhere.
		status = http.StatusServiceUnavailable
	default:
		code := items.ErrorCode(err)
		if code == items.Internal {
			c.t.log.ErrorContext(ctx, "subscription ended", "req_id", items.RequestID(ctx), "err", err)
		}
		c.writeLast(op, c.errorMessage(op.id, gqlerror.List{{
			Message: items.ErrorMessage(err), Extensions: code.Extensions(),
		}}))
		status = code.Status()
	}
	op.cancel()
	if op.counted {
		c.t.metrics.OperationEnded()
	}
	c.t.held.release(op.doc)
	c.opDone(op)
	now := time.Now()
	c.t.access.request(now, op.reqID, "WS", c.r.URL.Path, op.name, status, now.Sub(op.received))
}

// statusClientClosed is the access-log status of an operation that its
// client ended before it ended by itself (nginx's 499).
const statusClientClosed = 499

// opDone uncounts op as its goroutine returns, and closes a draining
// socket whose last operation it was.
func (c *wsConn) opDone(op *wsOp) {
	c.mu.Lock()
	delete(c.live, op)
	if c.ops[op.id] == op {
		delete(c.ops, op.id)
	}
	drained := c.draining && len(c.live) == 0
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	if drained {
		c.closeWith(coderws.StatusGoingAway, reasonGoingAway)
	}
	c.goroutines.Done()
}

// refuse answers operation id with an error message of that code, and
// starts nothing.
func (c *wsConn) refuse(id string, code items.Code, message string) {
	c.write(nil, c.errorMessage(id, gqlerror.List{{Message: message, Extensions: code.Extensions()}}))
}

// refuseLogged is refuse, with the operation's access-log line.
func (c *wsConn) refuseLogged(id, reqID string, status int, code items.Code, message string) {
	start := time.Now()
	c.refuse(id, code, message)
	now := time.Now()
	c.t.access.request(now, reqID, "WS", c.r.URL.Path, "", status, now.Sub(start))
}

// nextType is the type of a result message: next, or data on the legacy
// protocol.
func (c *wsConn) nextType() string {
	if c.legacy {
		return "data"
	}
	return "next"
}

// marshalResponse is the JSON of one result.
func marshalResponse(resp *graphql.Response) []byte {
	payload, err := json.Marshal(resp)
	if err != nil {
		panic(err) // a response of gqlgen's own types always marshals
	}
	return payload
}

// write sends msg, unless it belongs to an operation that has been
// silenced. A write that takes longer than the write timeout closes the
// socket.
func (c *wsConn) write(op *wsOp, msg []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if op != nil && op.silenced.Load() {
		return nil
	}
	return c.writeLocked(msg)
}

// writeLast sends the last message of op: nothing is sent for op after it.
func (c *wsConn) writeLast(op *wsOp, msg []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if op.silenced.Swap(true) {
		return
	}
	_ = c.writeLocked(msg)
}

func (c *wsConn) writeLocked(msg []byte) error {
	ctx := context.Background()
	if d := c.t.cfg.WebsocketWriteTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	return c.conn.Write(ctx, coderws.MessageText, msg)
}

// message is a server message of type typ for operation id, with payload
// when not nil.
func (c *wsConn) message(typ, id string, payload []byte) []byte {
	idJSON, _ := json.Marshal(id) // a string always marshals
	b := make([]byte, 0, len(`{"type":"","id":,"payload":}`)+len(typ)+len(idJSON)+len(payload))
	return appendMessage(b, typ, idJSON, payload)
}

// appendMessage appends to b the message of type typ for the operation
// whose id is idJSON in JSON, with payload when not nil.
func appendMessage(b []byte, typ string, idJSON, payload []byte) []byte {
	b = append(b, `{"type":"`...)
	b = append(b, typ...)
	b = append(b, `","id":`...)
	b = append(b, idJSON...)
	if payload != nil {
		b = append(b, `,"payload":`...)
		b = append(b, payload...)
	}
	return append(b, '}')
}

// errorMessage is the error message that ends operation id with errs.
func (c *wsConn) errorMessage(id string, errs gqlerror.List) []byte {
	payload, err := json.Marshal(errs)
	if err != nil {
		panic(err)
	}
	return c.message("error", id, payload)
}

// connectionError is the legacy protocol's message for a client message
// that the server could not take.
func connectionError(message string) []byte {
	payload, _ := json.Marshal(map[string]string{"message": message})
	return fmt.Appendf(nil, `{"type":"connection_error","payload":%s}`, payload)
}

// headerSink is a ResponseWriter that keeps nothing: the rate limiter sets
// headers on it for websocket operations, which have none to send.
type headerSink struct{ h http.Header }

func (s headerSink) Header() http.Header       { return s.h }
func (headerSink) Write(b []byte) (int, error) { return len(b), nil }
func (headerSink) WriteHeader(int)             {}

// checkSubscribePayload returns what is wrong with the payload of a
// subscribe message, or "".
func checkSubscribePayload(raw json.RawMessage) string {
	var p map[string]json.RawMessage
	if !isObject(raw) || json.Unmarshal(raw, &p) != nil {
		return "the payload of subscribe must be an object"
	}
	if _, ok := jsonString(p["query"]); !ok {
		return "the query of subscribe must be a string"
	}
	if _, ok := jsonString(p["operationName"]); !ok && !isNull(p["operationName"]) {
		return "the operationName of subscribe must be a string"
	}
	if !nullOrObject(p["variables"]) || !nullOrObject(p["extensions"]) {
		return "the variables and extensions of subscribe must be objects"
	}
	return ""
}

// pong answers a ping with its payload.
func pong(payload json.RawMessage) []byte {
	if isObject(payload) {
		return fmt.Appendf(nil, `{"type":"pong","payload":%s}`, payload)
	}
	return []byte(`{"type":"pong"}`)
}

// limitReason returns reason, or short when reason is over the 123 bytes
// that a close frame holds.
func limitReason(reason, short string) string {
	if len(reason) > 123 {
		return short
	}
	return reason
}

// jsonString decodes a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

func isObject(raw json.RawMessage) bool { return len(raw) > 0 && raw[0] == '{' }

func nullOrObject(raw json.RawMessage) bool { return isNull(raw) || isObject(raw) }
