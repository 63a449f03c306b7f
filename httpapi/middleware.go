package httpapi

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"itemsapi/internal/request"
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

// setOperation records the GraphQL operation name of the request that ctx
// belongs to, for its log line.
func setOperation(ctx context.Context, name string) {
	if rec := request.From(ctx); rec != nil {
		rec.SetOperation(name)
	}
}

// requestLog is the first middleware: it gives every request an ID, taken
// from a well-formed X-Request-Id header or made anew, makes the request's
// record under it (package request), echoes it in the response, and
// writes one line per request: method, path, operation name, status,
// duration and request ID (see accessLog). A new ID is a random prefix
// drawn once per process and a counter: unique, and without a call for
// random bytes per request.
func requestLog(log *accessLog) func(http.Handler) http.Handler {
	var prefix [6]byte
	_, _ = rand.Read(prefix[:])
	// The start of every ID this server makes, in hex, with its dash.
	var start [12 + 1]byte
	hex.Encode(start[:12], prefix[:])
	start[12] = '-'
	var counter atomic.Uint64
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			began := time.Now()
			id := r.Header.Get("X-Request-Id")
			if !wellFormedID(id) {
				var b [12 + 1 + 16]byte
				copy(b[:], start[:])
				id = string(strconv.AppendUint(b[:13], counter.Add(1), 16))
			}
			rec, w, r := request.Start(w, r, id)
			if rec.ID() == id {
				w.Header()["X-Request-Id"] = rec.IDHeader()
			} else {
				w.Header()["X-Request-Id"] = []string{id}
			}
			next.ServeHTTP(w, r)
			now := time.Now()
			log.request(now, rec.ID(), r.Method, r.URL.Path, rec.Operation(), cmp.Or(rec.Status(), http.StatusOK), now.Sub(began))
		})
	}
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
					writeError(w, items.Internal.Status(), items.Internal, "internal server error")
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
