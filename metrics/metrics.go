// Package metrics measures the service for Prometheus: HTTP requests and
// websockets (Middleware), GraphQL operations and their errors
// (Extension), store calls (Store), the caches (Cache), and the Go runtime
// and process. Every
// metric lives on the registry given to New, never on the global one, and
// every label takes its values from a bounded set, so that no client can
// make the number of series grow without end.
package metrics

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"itemsapi/items"
)

// namespace prefixes the name of every metric of the service.
const namespace = "itemsapi"

// DefaultMaxOperationNames is how many distinct GraphQL operation names
// keep their own label value unless MaxOperationNames says otherwise.
const DefaultMaxOperationNames = 100

// Metrics holds the service's metrics and the registry they are
// registered on. It is safe for concurrent use. The zero value is not
// usable; call New.
type Metrics struct {
	handler http.Handler

	httpInFlight prometheus.Gauge
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	websockets   prometheus.Gauge

	gqlRequests   *prometheus.CounterVec
	gqlDuration   *prometheus.HistogramVec
	gqlErrors     *prometheus.CounterVec
	subscriptions prometheus.Gauge
	plans         *prometheus.CounterVec
	cacheHits     prometheus.Counter
	// trustedRefused: see TrustedDocumentRefused (documents.go).
	trustedRefused prometheus.Counter
	// refused: see Refused (admission.go).
	refused *prometheus.CounterVec

	storeDuration *prometheus.HistogramVec
	storeErrors   *prometheus.CounterVec

	names  operationNames
	caches *caches

	// The children of the vectors above that requests use (see memo).
	opSeries           *memo[opLabels, opSeries]
	httpRequestSeries  *memo[httpLabels, prometheus.Counter]
	httpDurationSeries *memo[httpLabels, prometheus.Observer]
	storeSeries        *memo[string, storeSeries]
	// upgraded moves a request from the requests in flight to the
	// websockets, as it is upgraded.
	upgraded func()
}

// Option changes a setting of New.
type Option func(*Metrics)

// MaxOperationNames sets how many distinct GraphQL operation names keep
// their own label value: the first n names seen in a valid document do,
// every later one is counted as "other". n <= 0 keeps none.
func MaxOperationNames(n int) Option {
	return func(m *Metrics) { m.names.max = max(n, 0) }
}

// New registers the service's metrics, and collectors of the Go runtime
// and of the process, on reg (on a new registry when reg is nil), and
// returns them. Like prometheus.MustRegister, it panics when reg already
// holds a metric of the same name, for instance when New is called twice
// with the same registry.
func New(reg *prometheus.Registry, opts ...Option) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		httpInFlight: newGauge("http_requests_in_flight",
			"HTTP requests being served, websockets not included once upgraded."),
		httpRequests: newCounterVec("http_requests_total",
			"HTTP requests served, by method, route pattern (or other) and status class (2xx, 4xx, …).",
			"method", "path", "status"),
		httpDuration: newHistogramVec("http_request_duration_seconds",
			"Time to serve an HTTP request that was not upgraded to a websocket, by method and route pattern.",
			prometheus.DefBuckets, "method", "path"),
		websockets: newGauge("websocket_connections",
			"Open websocket connections."),
		gqlRequests: newCounterVec("graphql_requests_total",
			"GraphQL operations requested, by operation name and type (query, mutation, subscription, or unknown when the document did not parse or validate).",
			"operation", "type"),
		gqlDuration: newHistogramVec("graphql_request_duration_seconds",
			"Time from the start of a GraphQL operation (parsing included) to its first response; for a subscription, to the start of its stream.",
			prometheus.DefBuckets, "operation", "type"),
		plans: newCounterVec("graphql_plans_total",
			"GraphQL operations that compiled plans were asked to answer (gqlspec/plan), by outcome: compiled (a plan answered), fallback (a plan met an error and gqlgen's executor answered), unsupported (no plan: gqlgen's executor answered).",
			"outcome"),
		gqlErrors: newCounterVec("graphql_errors_total",
			"Errors in GraphQL responses, by extensions.code.",
			"code"),
		subscriptions: newGauge("subscriptions_active",
			"GraphQL operations running: subscriptions whose stream has not ended, and every operation running on a websocket."),
		cacheHits: newCounter("graphql_response_cache_hits_total",
			"GraphQL queries answered from the response cache, without running."),
		trustedRefused: newCounter("trusted_documents_refused_total",
			"GraphQL documents refused because they are not among the trusted documents (--only-trusted-documents), or name a trusted document that does not exist."),
		refused: newCounterVec("admission_refused_total",
			"Requests, websocket upgrades and streams refused with 503 at a bound, by limit (websockets, streams, inflight_bytes) and scope (server: the server's bound; address: the client address's share of it, --max-share-per-address).",
			"limit", "scope"),
		storeDuration: newHistogramVec("store_call_duration_seconds",
			"Time a call to the store took, by method.",
			[]float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}, "method"),
		storeErrors: newCounterVec("store_errors_total",
			"Store calls that failed, by method; not found, unknown tokens and cancelled requests are not failures.",
			"method"),
		names:  operationNames{max: DefaultMaxOperationNames},
		caches: newCaches(),
	}
	for _, o := range opts {
		o(m)
	}
	m.newMemos()
	m.upgraded = func() {
		m.httpInFlight.Dec()
		m.websockets.Inc()
	}
	// Series whose label values are known in advance start at 0, so that
	// rate() sees their first increase.
	for _, code := range items.PublicCodes() {
		m.gqlErrors.WithLabelValues(code)
	}
	m.gqlErrors.WithLabelValues(other)
	for _, limit := range admissionLimits {
		for _, scope := range admissionScopes {
			m.refused.WithLabelValues(limit, scope)
		}
	}
	for _, method := range storeMethods {
		m.storeDuration.WithLabelValues(method)
		m.storeErrors.WithLabelValues(method)
	}

	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpInFlight, m.httpRequests, m.httpDuration, m.websockets,
		m.gqlRequests, m.gqlDuration, m.gqlErrors, m.subscriptions, m.plans, m.cacheHits, m.trustedRefused, m.refused,
		m.storeDuration, m.storeErrors, m.caches,
	)
	// Created once: each handler registers its own metrics on reg.
	m.handler = promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A collector that fails leaves its metrics out of the scrape and
		// counts in promhttp_metric_handler_errors_total; the rest is
		// still served.
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg,
	}))
	return m
}

// newGauge, newCounter, newCounterVec and newHistogramVec make a metric
// of the service's namespace.
func newGauge(name, help string) prometheus.Gauge {
	return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help})
}

func newCounter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help})
}

func newCounterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
}

func newHistogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets}, labels)
}

// Handler returns the handler of GET /metrics: every metric of the
// registry, in the Prometheus text format (or a format the scraper asks
// for in its Accept header). A collector that fails is left out of the
// answer, not turned into an error status.
func (m *Metrics) Handler() http.Handler { return m.handler }

// other is the label value of everything outside a label's bounded set.
const other = "other"

// operationNames bounds the label values of GraphQL operation names.
type operationNames struct {
	max  int
	mu   sync.Mutex
	seen map[string]struct{}
}

// label returns the label value of an operation name: "anonymous" for an
// empty name; the name itself if it is a GraphQL name of at most 64
// characters and either already known or, when admit is true, one of the
// first max names seen; "other" otherwise.
func (n *operationNames) label(name string, admit bool) string {
	if name == "" {
		return "anonymous"
	}
	if !validName(name) {
		return other
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.seen[name]; ok {
		return name
	}
	if !admit || len(n.seen) >= n.max {
		return other
	}
	if n.seen == nil {
		n.seen = make(map[string]struct{})
	}
	n.seen[name] = struct{}{}
	return name
}

// maxNameLength bounds the operation names that are label values.
const maxNameLength = 64

// validName reports whether s is a GraphQL name ([_A-Za-z][_0-9A-Za-z]*)
// of at most maxNameLength bytes, and is not one of the label values this
// package gives other operations.
func validName(s string) bool {
	if s == "" || len(s) > maxNameLength || s == other || s == "anonymous" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
