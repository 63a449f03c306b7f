// Package request keeps the one record of an HTTP request while it runs:
// its ID, the API token it carries and that token's hash (computed at
// most once), its chi route, the GraphQL operation it names, and the
// status and bytes of its answer, which the record's response writer
// notes. The first middleware makes it (Start); the access log, the
// metrics, the rate limit, authentication and tracing read it (Of,
// From), so that a request is parsed, hashed and wrapped once.
package request

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"itemsapi/items"
)

// Record is what the server knows of one request while it runs. Its
// methods are safe for concurrent use, but for the status and bytes of the
// answer, which are the handler's to write and read.
type Record struct {
	w        writer // first: the one allocation holds the writer
	id       string
	token    Token
	hasToken bool
	route    *chi.Context

	mu        sync.Mutex
	operation string

	// idHeader holds the value of the X-Request-Id header (see IDHeader).
	idHeader [1]string
}

type recordKey struct{}

// Start makes the record of r under id, puts it and id (items.RequestID)
// in the request's context, and returns it with the writer that notes the
// answer: the first middleware calls it, and hands the writer and request
// on. If r has a record already, Start returns that one, w and r as they
// are.
func Start(w http.ResponseWriter, r *http.Request, id string) (*Record, http.ResponseWriter, *http.Request) {
	if rec := From(r.Context()); rec != nil {
		return rec, w, r
	}
	rec := &Record{w: writer{ResponseWriter: w}, id: id}
	if tok, ok := TokenFromHeader(r.Header); ok {
		rec.token.Value, rec.hasToken = tok, true
	}
	ctx := context.WithValue(r.Context(), recordKey{}, rec)
	if id != "" {
		ctx = items.WithRequestID(ctx, id)
	}
	if rec.route = chi.RouteContext(ctx); rec.route == nil {
		// Outside a chi router: a routing context for the router
		// within to fill in, which chi uses rather than one of its own.
		rec.route = chi.NewRouteContext()
		ctx = context.WithValue(ctx, chi.RouteCtxKey, rec.route)
	}
	return rec, &rec.w, r.WithContext(ctx)
}

// Of is Start for a middleware that reads the record: the record that the
// first middleware made, or, where there is none (a middleware used
// alone), one made now without an ID.
func Of(w http.ResponseWriter, r *http.Request) (*Record, http.ResponseWriter, *http.Request) {
	return Start(w, r, "")
}

// From returns the record of the request that ctx belongs to, or nil.
func From(ctx context.Context) *Record {
	rec, _ := ctx.Value(recordKey{}).(*Record)
	return rec
}

// ID returns the ID under which the request is logged.
func (r *Record) ID() string { return r.id }

// Token returns the API token the request carries in its headers, or nil.
func (r *Record) Token() *Token {
	if !r.hasToken {
		return nil
	}
	return &r.token
}

// Route returns the chi route pattern that served the request ("/graphql",
// not "/graphql?x=1"), or "" when no route matched (yet).
func (r *Record) Route() string { return r.route.RoutePattern() }

// SetOperation records the name of the GraphQL operation of the request.
func (r *Record) SetOperation(name string) {
	r.mu.Lock()
	r.operation = name
	r.mu.Unlock()
}

// Operation returns the name SetOperation recorded last, or "".
func (r *Record) Operation() string {
	r.mu.Lock()
	op := r.operation
	r.mu.Unlock()
	return op
}

// Status returns the final status of the answer (or 101, for a switch
// to a websocket), or 0 while none is written.
func (r *Record) Status() int { return r.w.status }

// Bytes returns how many bytes of the answer's body are written.
func (r *Record) Bytes() int64 { return r.w.bytes }

// IDHeader returns the value of an X-Request-Id header that names the
// request's ID, held by the record (no allocation of its own).
func (r *Record) IDHeader() []string {
	r.idHeader[0] = r.id
	return r.idHeader[:]
}

// OnUpgrade has f called when the answer switches protocols (101), as a
// websocket upgrade writes it; each function once, in the order given.
func (r *Record) OnUpgrade(f func()) {
	if prev := r.w.upgraded; prev != nil {
		r.w.upgraded = func() { prev(); f() }
		return
	}
	r.w.upgraded = f
}

// OnHijack makes wrap wrap the connection that a hijack of the answer hands
// over (a websocket library's Accept hijacks it): the handler then reads
// and writes through the net.Conn that wrap returns, and the hijack's
// buffered writer writes to it too. A later call replaces wrap.
func (r *Record) OnHijack(wrap func(net.Conn) net.Conn) { r.w.hijacked = wrap }

// writer is the one response-writer wrapper: it notes the status and the
// bytes of the answer, and keeps http.Flusher and http.Hijacker (streams
// and websockets need them), and Unwrap for http.ResponseController.
type writer struct {
	http.ResponseWriter
	status   int // 0 until a final status (or 101) is written
	bytes    int64
	upgraded func()
	hijacked func(net.Conn) net.Conn // see OnHijack
}

var (
	_ http.Flusher  = (*writer)(nil)
	_ http.Hijacker = (*writer)(nil)
)

func (w *writer) WriteHeader(code int) {
	if w.status == 0 {
		switch {
		case code == http.StatusSwitchingProtocols:
			w.status = code
			if w.upgraded != nil {
				w.upgraded()
			}
		case code >= 200: // other 1xx statuses are informational
			w.status = code
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *writer) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// SetReadDeadline sets the connection's read deadline through the writer
// below, as http.ResponseController does, without making one when that
// writer sets it itself (net/http's does).
func (w *writer) SetReadDeadline(t time.Time) error {
	if d, ok := w.ResponseWriter.(interface{ SetReadDeadline(time.Time) error }); ok {
		return d.SetReadDeadline(t)
	}
	return http.NewResponseController(w.ResponseWriter).SetReadDeadline(t)
}

// SetWriteDeadline is SetReadDeadline's twin for the write deadline.
func (w *writer) SetWriteDeadline(t time.Time) error {
	if d, ok := w.ResponseWriter.(interface{ SetWriteDeadline(time.Time) error }); ok {
		return d.SetWriteDeadline(t)
	}
	return http.NewResponseController(w.ResponseWriter).SetWriteDeadline(t)
}

// Flush implements http.Flusher: a writer below that cannot flush does
// nothing.
func (w *writer) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack implements http.Hijacker; it fails with http.ErrNotSupported
// when the writer below cannot hijack. The connection it returns is the
// one OnHijack's function wraps, if the record has one.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil || w.hijacked == nil {
		return conn, brw, err
	}
	if err := brw.Writer.Flush(); err != nil { // nothing should be left, but
		conn.Close()
		return nil, nil, err
	}
	conn = w.hijacked(conn)
	brw.Writer.Reset(conn)
	return conn, brw, nil
}

// Unwrap returns the writer below, for http.ResponseController.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Token is an API token as a request carries it; its hash is computed
// at most once, whoever asks for it first.
type Token struct {
	Value string
	once  sync.Once
	hash  items.TokenHash
}

// NewToken returns the Token of value.
func NewToken(value string) *Token { return &Token{Value: value} }

// Hash returns items.HashToken of the token.
func (t *Token) Hash() items.TokenHash {
	t.once.Do(func() { t.hash = items.HashToken(t.Value) })
	return t.hash
}

// TokenFromHeader returns the token that h carries, from `Authorization:
// Bearer <token>` (the scheme in any case) or else from `token: <token>`.
func TokenFromHeader(h http.Header) (string, bool) {
	if v := h.Get("Authorization"); v != "" {
		scheme, token, ok := strings.Cut(strings.TrimSpace(v), " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(token), true
		}
		// Another scheme, or none: pass it on as a token, which will not
		// match, so the client hears that it is invalid rather than absent.
		return strings.TrimSpace(v), true
	}
	if v := h.Get("Token"); v != "" {
		return strings.TrimSpace(v), true
	}
	return "", false
}
