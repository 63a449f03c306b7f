package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"itemsapi/items"
)

// wellFormedID accepts 1 to 64 characters of [A-Za-z0-9._-], so that a
// client's ID cannot forge log lines.
func wellFormedID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// requestInfo collects, while a request runs, what its log line says.
type requestInfo struct {
	mu        sync.Mutex
	operation string
}

type requestInfoKey struct{}

// setOperation records the GraphQL operation name of the request that ctx
// belongs to, for its log line.
func setOperation(ctx context.Context, name string) {
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		info.mu.Lock()
		info.operation = name
		info.mu.Unlock()
	}
}

// requestLog gives every request an ID, taken from a well-formed
// X-Request-Id header or made anew, echoes it in the response, and writes
// one line per request: method, path, operation name, status, duration and
// request ID (see accessLog). A new ID is a random prefix drawn once per
// process and a counter: unique, and without a call for random bytes per
// request.
func requestLog(log *accessLog) func(http.Handler) http.Handler {
	var prefix [6]byte
	_, _ = rand.Read(prefix[:])
	var counter atomic.Uint64
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			id := r.Header.Get("X-Request-Id")
			if !wellFormedID(id) {
				var b [12 + 1 + 16]byte
				hex.Encode(b[:12], prefix[:])
				b[12] = '-'
				id = string(strconv.AppendUint(b[:13], counter.Add(1), 16))
			}
			// One allocation for the writer, the record and the header's
			// value, one context.
			rec := &loggedRequest{sw: statusWriter{ResponseWriter: w}}
			rec.id[0] = id
			w.Header()["X-Request-Id"] = rec.id[:]
			ctx := context.WithValue(items.WithRequestID(r.Context(), id), requestInfoKey{}, &rec.info)
			next.ServeHTTP(&rec.sw, r.WithContext(ctx))
			rec.info.mu.Lock()
			op := rec.info.operation
			rec.info.mu.Unlock()
			now := time.Now()
			log.request(now, id, r.Method, r.URL.Path, op, rec.sw.status(), now.Sub(start))
		})
	}
}

// loggedRequest is what requestLog keeps of a request while it runs.
type loggedRequest struct {
	sw   statusWriter
	info requestInfo
	id   [1]string
}

// statusWriter remembers the status of a response. It passes Flush and
// Hijack on through Unwrap, for http.ResponseController and websockets.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// recoverPanics answers 500 to a request whose handler panicked, logs the
// panic with its stack, and keeps the server serving.
func recoverPanics(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p)
					}
					log.ErrorContext(r.Context(), "panic in handler", "req_id", items.RequestID(r.Context()),
						"panic", p, "stack", string(debug.Stack()))
					writeError(w, http.StatusInternalServerError, string(items.Internal), "internal server error")
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// deadlines bounds the time to read each request, body included, and to
// write its answer, so that a client trickling bytes cannot hold a
// connection for long. A websocket upgrade clears both instead: a keep-alive
// connection may carry the deadlines of an earlier request, and a socket
// lives as long as its client answers pings.
func deadlines(read, write time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var readBy, writeBy time.Time
			if !isWebsocketUpgrade(r) {
				now := time.Now()
				if read > 0 {
					readBy = now.Add(read)
				}
				if write > 0 {
					writeBy = now.Add(write)
				}
			}
			// net/http's own writer sets deadlines: asked directly, without
			// a ResponseController (an allocation), which unwraps others.
			if d, ok := w.(deadliner); ok {
				_ = d.SetReadDeadline(readBy)
				_ = d.SetWriteDeadline(writeBy)
			} else {
				rc := http.NewResponseController(w)
				_ = rc.SetReadDeadline(readBy)
				_ = rc.SetWriteDeadline(writeBy)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// deadliner is a ResponseWriter that sets its connection's deadlines, as
// net/http's does.
type deadliner interface {
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// limitBody refuses a request body over n bytes.
func limitBody(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				writeError(w, http.StatusRequestEntityTooLarge, codeBadRequest,
					"the request body is larger than the limit of "+byteSize(n))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}

// allowMethods answers 405 with an Allow header to any other method.
func allowMethods(methods ...string) func(http.Handler) http.Handler {
	allow := strings.Join(methods, ", ")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !slices.Contains(methods, r.Method) {
				w.Header().Set("Allow", allow)
				writeError(w, http.StatusMethodNotAllowed, codeBadRequest, "method "+r.Method+" is not allowed: use "+allow)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
