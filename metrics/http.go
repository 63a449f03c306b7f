package metrics

import (
	"net/http"
	"time"

	"itemsapi/internal/request"
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
// method label is a standard method or "other". It reads the status and
// route from the request's record (package request). Use it on the chi
// router (r.Use(m.Middleware, …)), right after the middleware that makes
// the record; wrapped around the router, or alone, it works too.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, w, r := request.Of(w, r)
		start := time.Now()
		m.httpInFlight.Inc()
		rec.OnUpgrade(m.upgraded)
		completed := false
		defer func() {
			code := rec.Status()
			switch {
			case code == 0 && !completed:
				code = http.StatusInternalServerError // the handler panicked before answering
			case code == 0:
				code = http.StatusOK
			}
			method, path := methodLabel(r.Method), pathLabel(rec.Route())
			m.httpRequestSeries.get(httpLabels{method, path, statusClass(code)}).Inc()
			if code == http.StatusSwitchingProtocols {
				m.websockets.Dec()
				return
			}
			m.httpInFlight.Dec()
			m.httpDurationSeries.get(httpLabels{method: method, path: path}).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(w, r)
		completed = true
	})
}

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
	return statusClasses[code/100-1]
}

// statusClasses are the values of statusClass, made once.
var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}
