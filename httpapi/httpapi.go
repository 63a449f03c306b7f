// Package httpapi is the service's HTTP face: every route in one place,
// the GraphQL handler with its transports and limits, the middleware
// around them, health checks and the playground.
package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/go-chi/chi/v5"

	"itemsapi/auth"
	"itemsapi/gqlspec"
	"itemsapi/gqlspec/plan"
	"itemsapi/graph"
	"itemsapi/internal/cache"
	"itemsapi/items"
	"itemsapi/metrics"
	"itemsapi/playground"
	"itemsapi/tracing"
)

// Config holds the settings of the HTTP API. The zero value is not
// useful: start from DefaultConfig.
type Config struct {
	// Introspection answers __schema and __type queries; turn it off in
	// production to hide the schema.
	Introspection bool
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64
	// OperationLimits bound an operation's document: its tokens, depth,
	// cost and directives (see gqlspec.Limits).
	gqlspec.OperationLimits
	// MaxBatch bounds the operations of a batched request.
	MaxBatch int
	// QueryCacheBytes bounds the memory of the parsed and validated
	// documents kept, each weighed at 64 bytes per byte of its text (the
	// most measured); a document over an eighth of it is not kept. With
	// CompiledPlans, the plans take a quarter of it, each weighed as its
	// document (which it keeps).
	QueryCacheBytes int64
	// QueryCacheSize, when above 0, bounds the number of those documents
	// too.
	QueryCacheSize int
	// LimitsCacheBytes bounds the memory of the limits' verdicts, kept by
	// a hash of each document (see gqlspec.Limits).
	LimitsCacheBytes int64
	// APQCacheBytes bounds the memory of the automatic persisted queries
	// kept, each weighed by its text.
	APQCacheBytes int64
	// TokenCacheBytes bounds the memory of the tokens whose lookup is
	// remembered.
	TokenCacheBytes int64
	// MaxInflightBytes bounds the memory that the requests being read and
	// parsed hold at once, as reckoned in inflight.go; past it a request
	// waits up to a second, then is answered 503 with Retry-After.
	MaxInflightBytes int64
	// KeepAlive is how often a websocket is pinged; a graphql-transport-ws
	// client that answers no ping for twice as long is disconnected.
	KeepAlive time.Duration
	// WebsocketInitTimeout is how long a new websocket may take to send
	// connection_init.
	WebsocketInitTimeout time.Duration
	// WebsocketOrigins are the origins, besides the server's own, whose
	// pages may open websockets: host patterns matched as by path.Match
	// ("*.example.com"), or scheme://host patterns. A handshake from any
	// other Origin is refused with 403; one without Origin (not a browser)
	// is accepted. When empty, CORSOrigins serve.
	WebsocketOrigins []string
	// MaxWebsockets bounds the websockets open at once; past it an upgrade
	// is answered 503 with Retry-After.
	MaxWebsockets int
	// MaxSharePerAddress is the fraction of MaxWebsockets, MaxStreams
	// and MaxInflightBytes that one client address may hold (shares.go),
	// rounded up; 0 or 1 turns the shares off.
	MaxSharePerAddress float64
	// ReplayRate bounds the items per second that the subscriptions of
	// one client address may read from the store, beyond a burst of as
	// many (replays.go): resuming with after:, or catching up once behind
	// the log's memory. Past it they wait, and are not dropped for it; 0
	// turns the bound off.
	ReplayRate int
	// MaxSubscriptionsPerSocket bounds the operations running at once on
	// one websocket, counted from the start of each operation's goroutine
	// to its return; past it a subscribe gets an error message.
	MaxSubscriptionsPerSocket int
	// WebsocketWriteTimeout bounds the writing of one message to a
	// websocket: a client that reads nothing for that long, once the
	// network's buffers are full, is disconnected. Zero waits forever.
	WebsocketWriteTimeout time.Duration

	// Transports: streams, trusted documents (see sse.go, multipart.go,
	// trusted.go).
	//
	// MaxStreams bounds the HTTP streams open at once (graphql-sse event
	// streams and reservations, multipart/mixed answers); past it a
	// request for one is answered 503 with Retry-After. A reservation
	// runs at most MaxSubscriptionsPerSocket operations.
	MaxStreams int
	// TrustedDocuments are the documents of LoadTrustedDocuments, by
	// sha256: a request may name one by documentId or by
	// extensions.persistedQuery.sha256Hash.
	TrustedDocuments map[string]string
	// OnlyTrustedDocuments refuses every other document, before parsing,
	// with items.PersistedQueryNotFound, and turns the registration of
	// automatic persisted queries off.
	OnlyTrustedDocuments bool

	// ReadTimeout bounds reading a request, body included, and
	// WriteTimeout writing its answer. Neither applies to a websocket once
	// upgraded. (The header's own timeout is the http.Server's.)
	ReadTimeout  time.Duration
	WriteTimeout time.Duration

	// CORSOrigins are the origins whose pages' scripts may call the API
	// (https://app.example.com, or https://*.example.com); none by default.
	CORSOrigins []string
	// CSRFPrevention refuses requests a browser could send cross-site
	// without a preflight, as Apollo Server's csrfPrevention does. Off by
	// default: credentials travel only in headers, so such requests carry
	// none; turn it on where a proxy adds cookies.
	CSRFPrevention bool
	// RateLimit limits requests per client address and per token; off by
	// default.
	RateLimit RateLimit
	// ResponseCacheBytes bounds the response cache (see respcache.go); 0
	// turns it off. It keys on the store's versions (items.Writes), exact
	// only where this process makes every write: keep it 0 when the
	// store's writes are Shared.
	ResponseCacheBytes int64
	// CompiledPlans answers the queries and mutations the plan compiler supports with a
	// compiled plan instead of gqlgen's executor (see gqlspec/plan); off,
	// every operation goes to gqlgen's executor, for comparison.
	CompiledPlans bool
}

// DefaultConfig returns the settings the server starts with: every limit
// on.
func DefaultConfig() Config {
	return Config{
		Introspection: true,
		MaxBodyBytes:  2 << 20,
		OperationLimits: gqlspec.OperationLimits{
			MaxTokens:     200_000,
			MaxDepth:      20,
			MaxCost:       10_000,
			MaxDirectives: 10,
		},
		MaxBatch:  10,
		KeepAlive: 10 * time.Second,

		// The caches: 44 MiB here, and the read cache's 16 MiB
		// (store/readcache) make 60 MiB in all.
		QueryCacheBytes:    20 << 20,
		QueryCacheSize:     1000,
		LimitsCacheBytes:   2 << 20,
		APQCacheBytes:      4 << 20,
		TokenCacheBytes:    2 << 20,
		ResponseCacheBytes: 16 << 20,
		MaxInflightBytes:   64 << 20,
		CompiledPlans:      true,

		WebsocketInitTimeout:      10 * time.Second,
		MaxWebsockets:             1000,
		MaxSharePerAddress:        DefaultSharePerAddress,
		ReplayRate:                DefaultReplayRate,
		MaxSubscriptionsPerSocket: 20,
		WebsocketWriteTimeout:     10 * time.Second,
		MaxStreams:                1000,
		ReadTimeout:               30 * time.Second,
		WriteTimeout:              30 * time.Second,
		RateLimit:                 RateLimit{Window: time.Minute},
	}
}

// Deps are what the HTTP API serves.
type Deps struct {
	Store  items.Store
	Broker items.Broker
	Logger *slog.Logger
	// Metrics, when not nil, measures the service and serves GET /metrics.
	Metrics *metrics.Metrics
	// Tracing, when not nil, traces requests, operations and resolvers.
	Tracing *tracing.Tracing
	// AccessLog, when not nil, takes the line of each request, as Logger's
	// text handler would write it, formatted without slog (faster); when
	// nil, the lines go through Logger.
	AccessLog io.Writer
	// Tokens authenticates requests, exactly, over Store; when nil, the
	// handler makes one with Clock (the caller should then own a *Tokens to
	// Close, so that the last uses of tokens are written).
	Tokens *auth.Tokens
	// Clock tells the time for token rules (time.Now when nil); tests move
	// it forward to an expiry.
	Clock func() time.Time
	// WebsocketsChanged, when not nil, is told how many websockets are
	// open each time one opens or closes, in order (the server sizes the
	// collector's soft memory limit by it).
	WebsocketsChanged func(open int)
}

// Handler is the HTTP handler of the whole service. Its websockets
// outlive the requests that http.Server.Shutdown waits for: Shutdown
// drains them.
type Handler struct {
	router http.Handler
	ws     *websocketTransport
	broker items.Broker
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.router.ServeHTTP(w, r) }

// Shutdown drains the websockets: from now on an upgrade is answered 503
// and a new operation on an open socket gets an error; the broker, when it
// has a Shutdown method (the stores' brokers do), is told to end every
// subscription, with items.ErrGoingAway, once it has delivered every item
// acknowledged so far; each open socket closes with 1001 (going away) as
// soon as none of its operations runs any more, and when ctx is done every
// socket left closes with 1001 too, its operations cancelled. It returns
// once every socket has closed and every operation returned: nil if all
// drained before ctx was done, ctx's error otherwise. Call it alongside
// http.Server.Shutdown, with the same ctx: that one does not wait for
// hijacked connections, and the streams of other transports end with the
// broker's.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.ws.beginShutdown()
	if b, ok := h.broker.(interface{ Shutdown() }); ok {
		b.Shutdown()
	}
	return h.ws.awaitShutdown(ctx)
}

// NewHandler returns the HTTP handler of the whole service.
func NewHandler(cfg Config, deps Deps) *Handler {
	if len(cfg.WebsocketOrigins) == 0 {
		cfg.WebsocketOrigins = cfg.CORSOrigins
	}
	if rs, ok := deps.Store.(interface{ CacheStats() map[string]cache.Stats }); ok && deps.Metrics != nil {
		// The read cache (store/readcache).
		for _, name := range []string{"items", "pages", "counts"} {
			deps.Metrics.Cache("read_"+name, func() cache.Stats { return rs.CacheStats()[name] })
		}
	}
	// Writes go before subscription deliveries (see writePressure).
	pressure := &writePressure{writes: deps.Store.Writes()}
	respCache := func(next http.Handler) http.Handler { return next }
	if cfg.ResponseCacheBytes > 0 {
		rc := newResponseCache(cfg.ResponseCacheBytes, deps.Store.Writes(), deps.Metrics)
		respCache = rc.middleware
		if deps.Metrics != nil {
			deps.Metrics.Cache("responses", rc.entries.Stats)
		}
	}
	// One look-up per token, and per request one check that nothing was
	// revoked (see auth.Tokens).
	tokens := deps.Tokens
	if tokens == nil {
		tokens = auth.NewTokens(deps.Store, auth.Options{MaxBytes: cfg.TokenCacheBytes, Clock: deps.Clock, Logger: deps.Logger})
	}
	if deps.Metrics != nil {
		deps.Metrics.Cache("tokens", tokens.CacheStats)
	}
	limits := newLimiter(cfg.RateLimit)
	access := newAccessLog(deps.AccessLog, deps.Logger)
	inflight := newInflight(cfg.MaxInflightBytes, cfg.MaxBodyBytes).share(cfg.MaxSharePerAddress, deps.Metrics, deps.Logger)
	held := newHeldDocs(inflight, cfg.MaxSharePerAddress)
	ws := newWebsocket(cfg, deps, tokens, limits, access, inflight, held)
	ws.pressure = pressure
	ws.replays = newReplayBudgets(cfg.ReplayRate)
	gql := newGraphQL(cfg, deps, ws, held)
	r := chi.NewRouter()
	// requestLog first: it makes the record of the request (package
	// request) that the others read.
	r.Use(requestLog(access), deadlines(cfg.ReadTimeout, cfg.WriteTimeout))
	if deps.Metrics != nil {
		r.Use(deps.Metrics.Middleware)
	}
	if deps.Tracing != nil {
		r.Use(deps.Tracing.Middleware)
	}
	r.Use(recoverPanics(deps.Logger), clientAddress(cfg.RateLimit))

	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
	r.Get("/readyz", ready(deps.Store, deps.Logger))
	// The rate limit counts GraphQL requests: a probe of health,
	// readiness or metrics, or the playground's page, neither spends a
	// client's budget nor is refused.
	api := r.With(rateLimit(limits), corsMiddleware(cfg.CORSOrigins),
		// PUT and DELETE: graphql-sse's single-connection mode.
		allowMethods(http.MethodGet, http.MethodPost, http.MethodOptions, http.MethodPut, http.MethodDelete))
	if cfg.CSRFPrevention {
		api = api.With(csrfPrevention)
	}
	api.With(auth.Middleware(tokens), limitBody(cfg.MaxBodyBytes), inflight.middleware, respCache).Handle("/graphql", gql)
	if deps.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", deps.Metrics.Handler())
	}
	pg := playground.Handler("/graphql")
	r.Handle("/", pg)
	r.Handle(playground.AssetPrefix+"*", pg)
	return &Handler{router: r, ws: ws, broker: deps.Broker}
}

// newGraphQL configures gqlgen's server explicitly: transports, the error
// presenter, panic recovery, caches and limits.
func newGraphQL(cfg Config, deps Deps, ws *websocketTransport, held *heldDocs) http.Handler {
	resolver := &graph.Resolver{Store: deps.Store, Broker: deps.Broker, Clock: deps.Clock}
	root := graph.ResolverRoot(resolver)
	if plansOn(cfg, deps) {
		root = plan.Replaying(resolver) // a mutation a plan ran is not run again
	}
	schema := graph.NewSchema(root)
	srv := handler.New(schema)
	// gqlgen serves a request with the first transport that supports it,
	// so the order is the design: websocket upgrades (a GET like a
	// query's), then OPTIONS, then graphql-sse's single-connection mode
	// (PUT, DELETE, and any request carrying a stream token, whose POSTs
	// are otherwise ordinary GraphQL requests), and last GraphQL over
	// HTTP, which reads each operation and then answers it in JSON, as an
	// event stream or as multipart/mixed, from its Accept header and its
	// type (see acceptance.answer).
	srv.AddTransport(ws)
	srv.AddTransport(transport.Options{AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete}})
	streams := &streaming{
		set:  newStreamSet(cfg.MaxStreams, cfg.MaxSharePerAddress, deps.Metrics, deps.Logger, ws.replays),
		cfg:  streamConfig{keepAlive: cfg.KeepAlive, writeTimeout: cfg.WriteTimeout},
		log:  deps.Logger,
		held: held,
	}
	plain := httpTransport{maxBatch: cfg.MaxBatch, streams: streams}
	var engine *plan.Engine
	if plansOn(cfg, deps) {
		pc := plan.Config{MaxBytes: planCacheBytes(cfg, deps), BytesPerSourceByte: docBytesPerSourceByte}
		if deps.Metrics != nil {
			outcomes := [...]func(){
				plan.Compiled:    deps.Metrics.PlanOutcome("compiled"),
				plan.Fallback:    deps.Metrics.PlanOutcome("fallback"),
				plan.Unsupported: deps.Metrics.PlanOutcome("unsupported"),
			}
			pc.Observe = func(o plan.Outcome) { outcomes[o]() }
		}
		engine = plan.New(resolver, schema.Schema(), pc)
		plain.plans = newPlans(engine, deps.Metrics)
		if deps.Metrics != nil {
			deps.Metrics.Cache("plans", engine.CacheStats)
		}
	}
	srv.AddTransport(newSSEReservations(plain, streams, cfg.MaxSubscriptionsPerSocket))
	srv.AddTransport(plain)

	srv.SetErrorPresenter(graph.ErrorPresenter(deps.Logger))
	srv.SetRecoverFunc(graph.Recover(deps.Logger))
	qc := newQueryCache(cfg.QueryCacheBytes-planCacheBytes(cfg, deps), cfg.QueryCacheSize)
	srv.SetQueryCache(qc)
	srv.SetValidationRulesFn(gqlspec.ValidationRules(cfg.Introspection))
	if deps.Metrics != nil {
		srv.Use(deps.Metrics.Extension())
	}
	if deps.Tracing != nil {
		srv.Use(deps.Tracing.Extension())
	}
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		// Production mode: "Did you mean …" would reveal the schema that
		// turning introspection off hides.
		srv.SetDisableSuggestion(true)
		srv.Use(gqlspec.NoIntrospection())
	}
	if len(cfg.TrustedDocuments) > 0 || cfg.OnlyTrustedDocuments {
		srv.Use(newTrustedDocuments(cfg.TrustedDocuments, cfg.OnlyTrustedDocuments, deps.Metrics))
	}
	apq := newAPQCache(cfg.APQCacheBytes)
	if !cfg.OnlyTrustedDocuments {
		srv.Use(gqlspec.AutomaticPersistedQueries(apq))
	}
	limits := &gqlspec.Limits{
		OperationLimits: cfg.OperationLimits,
		CacheBytes:      cfg.LimitsCacheBytes,
		Reserve:         reserve,
	}
	srv.Use(limits)
	if deps.Metrics != nil {
		deps.Metrics.Cache("query", qc.c.Stats)
		deps.Metrics.Cache("apq", apq.c.Stats)
		deps.Metrics.Cache("limits", limits.CacheStats) // made by srv.Use
	}
	srv.Use(&gqlspec.StrictVariables{})
	srv.Use(gqlspec.NoNestedDefer())
	srv.Use(graph.UserCache())
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		setOperation(ctx, oc.OperationName)
		return next(ctx)
	})
	// Last, so that it runs innermost (see plan.Engine.Extension), for the
	// transports that do not try plans themselves.
	if engine != nil {
		srv.Use(engine.Extension())
	}
	return srv
}

// plansOn reports whether compiled plans answer queries: under tracing,
// gqlgen's executor answers everything, as it traces each resolver, which
// a plan does not.
func plansOn(cfg Config, deps Deps) bool { return cfg.CompiledPlans && deps.Tracing == nil }

// planCacheBytes is the part of QueryCacheBytes that compiled plans take,
// when they are on: a quarter; the parsed documents have the rest.
func planCacheBytes(cfg Config, deps Deps) int64 {
	if !plansOn(cfg, deps) {
		return 0
	}
	return cfg.QueryCacheBytes / 4
}

// ready answers 200 while the store answers a ping within a second.
func ready(store items.Store, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := store.Ping(ctx); err != nil {
			log.WarnContext(ctx, "store not ready", "req_id", items.RequestID(ctx), "err", err)
			writeText(w, http.StatusServiceUnavailable, "store unavailable\n")
			return
		}
		writeText(w, http.StatusOK, "ok\n")
	}
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
