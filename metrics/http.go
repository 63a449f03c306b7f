package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
)

// Middleware measures every request that passes through it:
// itemsapi_http_requests_in_flight while it is served,
// itemsapi_http_requests_total and itemsapi_http_request_duration_seconds
// when it is done. A request upgraded to a websocket (status 101) leaves
// the in-flight gauge for itemsapi_websocket_connections until its handler
// returns, and is not timed.
//
// The path label is the chi route pattern that served the request
// ("/graphql", not "/graphql?x=1"), or "other" when no route matched; the
// method label is a standard method or "other". Use it first on the chi
// router (r.Use(m.Middleware, …)); wrapped around the router, it works too.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rctx := chi.RouteContext(r.Context())
		if rctx == nil {
			// Outside the router: give it a routing context to fill in,
			// which chi uses rather than one of its own.
			rctx = chi.NewRouteContext()
			r = r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, rctx))
		}
		start := time.Now()
		m.httpInFlight.Inc()
		sw := &statusWriter{ResponseWriter: w, m: m}
		completed := false
		defer func() {
			code := sw.code
			switch {
			case code == 0 && !completed:
				code = http.StatusInternalServerError // the handler panicked before answering
			case code == 0:
				code = http.StatusOK
			}
			method, path := methodLabel(r.Method), pathLabel(rctx.RoutePattern())
			m.httpRequests.WithLabelValues(method, path, statusClass(code)).Inc()
			if code == http.StatusSwitchingProtocols {
				m.websockets.Dec()
				return
			}
			m.httpInFlight.Dec()
			m.httpDuration.WithLabelValues(method, path).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(sw, r)
		completed = true
	})
}

// statusWriter remembers the final status of a response and counts a
// websocket instead of a request in flight when it switches protocols. It passes Flush and Hijack on
// through Unwrap, for http.ResponseController and websockets.
type statusWriter struct {
	http.ResponseWriter
	code int // 0 until a final status (or 101) is written
	m    *Metrics
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		switch {
		case code == http.StatusSwitchingProtocols:
			w.code = code
			w.upgraded()
		case code >= 200: // other 1xx statuses are informational
			w.code = code
		}
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

// methodLabel bounds the method label: a client may send any token as a
// method.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return other
}

// pathLabel is the route pattern, which comes from the route table and so
// is bounded, or "other" for a request that no route matched.
func pathLabel(pattern string) string {
	if pattern == "" {
		return other
	}
	return pattern
}

// statusClass is "1xx" to "5xx", or "other" for a status outside 100..599.
func statusClass(code int) string {
	if code < 100 || code > 599 {
		return other
	}
	return strconv.Itoa(code/100) + "xx"
}

// upgraded counts the request as a websocket from now on.
func (w *statusWriter) upgraded() {
	w.m.httpInFlight.Dec()
	w.m.websockets.Inc()
}
