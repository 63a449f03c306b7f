package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"

	"itemsapi/auth"
	"itemsapi/items"
)

// Subscriptions travel over gqlgen's websocket transport, which speaks
// graphql-transport-ws and the legacy graphql-ws (subscriptions-transport-ws)
// but, measured on gqlgen 0.17.98, strays from the graphql-transport-ws
// specification (PROTOCOL.md of github.com/enisdenjo/graphql-ws):
//
//   - a connection_init whose payload is not an object ends the handler
//     without closing the socket, which then stays open, unread;
//   - a message that is not JSON, has no type or an unknown one closes the
//     socket with 1002 before the ack and 1000 after it, not with 4400;
//   - a subscribe before connection_init closes with 1002, not 4401;
//   - a second connection_init closes with 1002, not 4429;
//   - no connection_init in time closes with 1002, not 4408;
//   - a subscribe whose id is running replaces that operation instead of
//     closing with 4409;
//   - a ping before connection_init closes the socket instead of being
//     answered;
//   - an error is followed by a complete, and a client's complete by more
//     messages for that operation, which the specification rules out.
//
// Rather than fork gqlgen, guardedImplementation sits between it and the
// socket: it reads each client message before gqlgen does and closes the
// socket with the specification's code when a message breaks a rule, and it
// holds back the server messages that the specification says not to send.
// websocketTransport adds an origin check before the upgrade and makes
// sure every socket is closed when gqlgen is done with it.
//
// One gap remains: reusing an operation id right after completing it may
// get a late complete of the old operation, because gqlgen itself keys its
// operations by id alone. Real clients use a fresh id for each operation.

// subprotocolTransportWS is the subprotocol of the graphql-transport-ws
// specification; gqlgen serves the legacy graphql-ws for any other.
const subprotocolTransportWS = "graphql-transport-ws"

// Close codes of the graphql-transport-ws specification.
const (
	closeBadRequest          = 4400
	closeUnauthorized        = 4401
	closeInitTimeout         = 4408
	closeSubscriberExists    = 4409
	closeTooManyInitRequests = 4429
)

// websocketTransport is gqlgen's websocket transport, behind an origin
// check and guardedImplementation.
type websocketTransport struct {
	transport.Websocket
	origins []string
	// open counts the sockets open now; at most maxOpen at once.
	open    *atomic.Int64
	maxOpen int64
}

var _ graphql.Transport = websocketTransport{}

// newWebsocket returns the websocket transport of cfg. The token of a
// socket comes from its connection_init payload.
func newWebsocket(cfg Config, store auth.TokenStore) websocketTransport {
	coder := transport.CoderWebsocketImplementation{AcceptOptions: coderws.AcceptOptions{
		CompressionMode: coderws.CompressionDisabled,
		OriginPatterns:  cfg.WebsocketOrigins,
	}}
	return websocketTransport{
		origins: cfg.WebsocketOrigins,
		open:    new(atomic.Int64),
		maxOpen: int64(cfg.MaxWebsockets),
		Websocket: transport.Websocket{
			Implementation: guardedImplementation{
				inner:       coder,
				initTimeout: cfg.WebsocketInitTimeout,
				maxOps:      cfg.MaxSubscriptionsPerSocket,
			},
			// InitTimeout stays zero: the guard enforces it, with 4408.
			KeepAlivePingInterval: cfg.KeepAlive, // "ka" on graphql-ws
			PingPongInterval:      cfg.KeepAlive, // ping on graphql-transport-ws; no pong in twice that closes
			InitFunc: func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
				if token, ok := auth.FromInitPayload(payload); ok {
					ctx = auth.WithToken(ctx, store, token)
				}
				return ctx, nil, nil
			},
		},
	}
}

// Do implements graphql.Transport. It refuses an upgrade from another
// origin with a 403 (coder/websocket would too, but then gqlgen writes a
// second response over its own), refuses one past the limit of open
// sockets with a 503, and closes the socket when gqlgen returns, whatever
// gqlgen did with it.
func (t websocketTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if !originAllowed(r, t.origins) {
		writeError(w, http.StatusForbidden, string(items.Forbidden),
			"websocket connections from the origin of this page are not allowed")
		return
	}
	if n := t.open.Add(1); t.maxOpen > 0 && n > t.maxOpen {
		t.open.Add(-1)
		w.Header().Set("Retry-After", "10")
		writeError(w, http.StatusServiceUnavailable, codeBadRequest,
			fmt.Sprintf("the server has the most websockets it takes open (%d); retry later", t.maxOpen))
		return
	}
	defer t.open.Add(-1)
	accepted := &acceptedConn{}
	t.Websocket.Do(w, r.WithContext(context.WithValue(r.Context(), acceptedConnKey{}, accepted)), exec)
	if accepted.conn != nil {
		accepted.conn.closeWith(coderws.StatusInternalError, "connection ended")
		_ = accepted.conn.Close()
	}
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

// acceptedConn passes the socket that guardedImplementation accepted back
// to websocketTransport.Do, through the request's context.
type acceptedConn struct{ conn *guardedConn }

type acceptedConnKey struct{}

// guardedImplementation accepts sockets with inner and guards each one.
type guardedImplementation struct {
	inner transport.WebsocketImplementation
	// initTimeout bounds the wait for connection_init; zero waits forever.
	initTimeout time.Duration
	// maxOps bounds the operations running at once on one socket; zero
	// leaves them unbounded.
	maxOps int
}

// Accept implements transport.WebsocketImplementation.
func (g guardedImplementation) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	conn, err := g.inner.Accept(w, r, opts)
	if err != nil {
		return nil, err
	}
	c := &guardedConn{
		WebsocketConn: conn,
		transportWS:   conn.Subprotocol() == subprotocolTransportWS,
		maxOps:        g.maxOps,
		ops:           map[string]opState{},
	}
	if g.initTimeout > 0 {
		c.initTimer = time.AfterFunc(g.initTimeout, func() {
			c.closeWith(closeInitTimeout, "Connection initialisation timeout")
		})
	}
	if accepted, ok := r.Context().Value(acceptedConnKey{}).(*acceptedConn); ok {
		accepted.conn = c
	}
	return c, nil
}

// opState is where an operation of a socket stands.
type opState int

const (
	opRunning opState = iota + 1
	// opEnded: the client completed it, or the server sent its error;
	// nothing more is sent for it.
	opEnded
)

// guardedConn is one socket, as gqlgen reads and writes it. On the legacy
// graphql-ws it only checks the connection_init payload and the init
// timeout; on graphql-transport-ws it enforces the specification.
type guardedConn struct {
	transport.WebsocketConn
	transportWS bool
	maxOps      int
	initTimer   *time.Timer

	mu          sync.Mutex
	initialised bool
	closed      bool
	ops         map[string]opState
}

var (
	_ transport.WebsocketReadLimiter   = (*guardedConn)(nil)
	_ transport.WebsocketReadDeadliner = (*guardedConn)(nil)
)

// verdict is what the guard does with a client message.
type verdict struct {
	closeCode coderws.StatusCode // if not 0, close the socket with this code and reason
	reason    string
	reply     []byte // answer this, and do not pass the message on
	drop      bool   // do not pass the message on
}

func badRequest(reason string) verdict { return verdict{closeCode: closeBadRequest, reason: reason} }

// NextReader implements transport.WebsocketConn: it returns the next
// message that gqlgen should see, after the guard has passed it.
func (c *guardedConn) NextReader() (int, io.Reader, error) {
	for {
		typ, r, err := c.WebsocketConn.NextReader()
		if err != nil {
			return typ, r, err
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return typ, nil, err
		}
		v := c.check(data)
		switch {
		case v.closeCode != 0:
			c.closeWith(v.closeCode, v.reason)
			return typ, nil, fmt.Errorf("%w: %s", transport.ErrWebsocketClosed, v.reason)
		case v.reply != nil:
			if err := c.WebsocketConn.WriteJSON(json.RawMessage(v.reply)); err != nil {
				return typ, nil, err
			}
		case v.drop:
		default:
			return typ, bytes.NewReader(data), nil
		}
	}
}

// check applies the rules of the protocol to one client message.
func (c *guardedConn) check(data []byte) verdict {
	var msg map[string]json.RawMessage
	if err := json.Unmarshal(data, &msg); err != nil || msg == nil {
		if !c.transportWS {
			return verdict{} // gqlgen answers the legacy protocol itself
		}
		return badRequest("Invalid message received: not a JSON object")
	}
	typ, _ := jsonString(msg["type"])
	payload := msg["payload"]

	c.mu.Lock()
	defer c.mu.Unlock()
	id, hasID := jsonString(msg["id"])
	if !c.transportWS {
		switch typ {
		case "connection_init":
			if !nullOrObject(payload) {
				return badRequest("Invalid message received: the payload of connection_init must be an object")
			}
			c.stopInitTimer()
		case "start":
			if c.tooManyOps() {
				return verdict{reply: c.tooManyOpsError(id)}
			}
			c.ops[id] = opRunning
		case "stop":
			delete(c.ops, id)
		}
		return verdict{}
	}

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

	switch {
	case typ == "connection_init" && c.initialised:
		return verdict{closeCode: closeTooManyInitRequests, reason: "Too many initialisation requests"}
	case typ == "connection_init":
		c.initialised = true
		c.stopInitTimer()
	case !c.initialised:
		// gqlgen takes nothing but connection_init before it.
		switch typ {
		case "subscribe":
			return verdict{closeCode: closeUnauthorized, reason: "Unauthorized"}
		case "ping":
			return verdict{reply: pong(payload)}
		default: // a pong, or the complete of an unknown operation
			return verdict{drop: true}
		}
	case typ == "subscribe":
		if c.ops[id] == opRunning {
			return verdict{closeCode: closeSubscriberExists,
				reason: limitReason("Subscriber for "+id+" already exists", "Subscriber already exists")}
		}
		if c.tooManyOps() {
			return verdict{reply: c.tooManyOpsError(id)}
		}
		c.ops[id] = opRunning
	case typ == "complete":
		if c.ops[id] == opRunning {
			c.ops[id] = opEnded
		}
	}
	return verdict{}
}

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

// tooManyOps reports whether the socket runs as many operations as it
// may. c.mu is held.
func (c *guardedConn) tooManyOps() bool {
	if c.maxOps <= 0 {
		return false
	}
	running := 0
	for _, st := range c.ops {
		if st == opRunning {
			running++
		}
	}
	return running >= c.maxOps
}

// tooManyOpsError is the error message that refuses operation id because
// the socket runs as many as it may; the socket stays open.
func (c *guardedConn) tooManyOpsError(id string) []byte {
	idJSON, _ := json.Marshal(id)
	return fmt.Appendf(nil, `{"id":%s,"type":"error","payload":[{"message":"this connection already runs %d operations, the most it may; complete one first","extensions":{"code":%q}}]}`,
		idJSON, c.maxOps, codeBadRequest)
}

// WriteJSON implements transport.WebsocketConn: it keeps track of the
// operations that end, and on graphql-transport-ws it sends nothing for an
// operation that has ended, and no complete after an error.
func (c *guardedConn) WriteJSON(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var msg struct{ Type, ID string }
	if err := json.Unmarshal(data, &msg); err != nil {
		return err
	}
	if msg.ID != "" && !c.mayWrite(msg.Type, msg.ID) {
		return nil
	}
	return c.WebsocketConn.WriteJSON(json.RawMessage(data))
}

// mayWrite reports whether a server message of typ for operation id may
// go out, and records that it did.
func (c *guardedConn) mayWrite(typ, id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.transportWS {
		if typ == "complete" || typ == "error" {
			delete(c.ops, id)
		}
		return true
	}
	running := c.ops[id] == opRunning
	switch typ {
	case "complete":
		delete(c.ops, id)
	case "error":
		if running {
			c.ops[id] = opEnded
		}
	}
	return running
}

// WriteClose implements transport.WebsocketConn: the first close wins.
func (c *guardedConn) WriteClose(code int, reason string) error {
	c.closeWith(coderws.StatusCode(code), reason)
	return nil
}

// closeWith starts closing the socket, unless it is closing already.
func (c *guardedConn) closeWith(code coderws.StatusCode, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	_ = c.WebsocketConn.WriteClose(int(code), reason)
}

// Close implements transport.WebsocketConn.
func (c *guardedConn) Close() error {
	c.stopInitTimer()
	return c.WebsocketConn.Close()
}

func (c *guardedConn) stopInitTimer() {
	if c.initTimer != nil {
		c.initTimer.Stop()
	}
}

// SetReadLimit implements transport.WebsocketReadLimiter, so that gqlgen's
// limit on a message's size holds.
func (c *guardedConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

// SetReadDeadline implements transport.WebsocketReadDeadliner, so that a
// client that does not answer pings is closed.
func (c *guardedConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
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
