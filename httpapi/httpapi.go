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
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/go-chi/chi/v5"
	"github.com/vektah/gqlparser/v2/ast"

	"itemsapi/auth"
	"itemsapi/graph"
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
	// MaxTokens bounds the lexical tokens of a document.
	MaxTokens int
	// MaxDepth bounds how deeply an operation's selections nest.
	MaxDepth int
	// MaxCost bounds the cost of an operation (see graph.Limits).
	MaxCost int
	// MaxDirectives bounds the directives on one field.
	MaxDirectives int
	// MaxBatch bounds the operations of a batched request.
	MaxBatch int
	// QueryCacheSize is how many parsed and validated documents are kept.
	QueryCacheSize int
	// APQCacheSize is how many automatic persisted queries are kept.
	APQCacheSize int
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
	// MaxSubscriptionsPerSocket bounds the operations running at once on
	// one websocket; past it a subscribe gets an error message.
	MaxSubscriptionsPerSocket int

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
	// turns it off. It is exact only where this process makes every write
	// to the store: turn it off for PostgreSQL.
	ResponseCacheBytes int64
}

// DefaultConfig returns the settings the server starts with: every limit
// on.
func DefaultConfig() Config {
	return Config{
		Introspection:  true,
		MaxBodyBytes:   2 << 20,
		MaxTokens:      200_000,
		MaxDepth:       20,
		MaxCost:        10_000,
		MaxDirectives:  10,
		MaxBatch:       10,
		QueryCacheSize: 1000,
		APQCacheSize:   1000,
		KeepAlive:      10 * time.Second,

		WebsocketInitTimeout:      10 * time.Second,
		MaxWebsockets:             1000,
		MaxSubscriptionsPerSocket: 20,
		ReadTimeout:               30 * time.Second,
		WriteTimeout:              30 * time.Second,
		RateLimit:                 RateLimit{Window: time.Minute},
		ResponseCacheBytes:        16 << 20,
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
}

// NewHandler returns the HTTP handler of the whole service.
func NewHandler(cfg Config, deps Deps) http.Handler {
	if len(cfg.WebsocketOrigins) == 0 {
		cfg.WebsocketOrigins = cfg.CORSOrigins
	}
	cache := func(next http.Handler) http.Handler { return next }
	if cfg.ResponseCacheBytes > 0 {
		rc := newResponseCache(cfg.ResponseCacheBytes, deps.Metrics)
		deps.Store = rc.watch(deps.Store)
		cache = rc.middleware
	}
	// One look-up per token, and per request one check that nothing was
	// revoked (see auth.Tokens).
	tokens := deps.Tokens
	if tokens == nil {
		tokens = auth.NewTokens(deps.Store, auth.Options{Clock: deps.Clock, Logger: deps.Logger})
	}
	gql := newGraphQL(cfg, deps, tokens)
	r := chi.NewRouter()
	r.Use(deadlines(cfg.ReadTimeout, cfg.WriteTimeout))
	if deps.Metrics != nil {
		r.Use(deps.Metrics.Middleware)
	}
	if deps.Tracing != nil {
		r.Use(deps.Tracing.Middleware)
	}
	r.Use(requestLog(newAccessLog(deps.AccessLog, deps.Logger)), recoverPanics(deps.Logger),
		clientAddress(cfg.RateLimit), rateLimit(cfg.RateLimit))

	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
	r.Get("/readyz", ready(deps.Store, deps.Logger))
	api := r.With(corsMiddleware(cfg.CORSOrigins),
		allowMethods(http.MethodGet, http.MethodPost, http.MethodOptions))
	if cfg.CSRFPrevention {
		api = api.With(csrfPrevention)
	}
	api.With(auth.Middleware(tokens), limitBody(cfg.MaxBodyBytes), cache).Handle("/graphql", gql)
	if deps.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", deps.Metrics.Handler())
	}
	pg := playground.Handler("/graphql")
	r.Handle("/", pg)
	r.Handle(playground.AssetPrefix+"*", pg)
	return r
}

// newGraphQL configures gqlgen's server explicitly: transports, the error
// presenter, panic recovery, caches and limits.
func newGraphQL(cfg Config, deps Deps, tokens *auth.Tokens) http.Handler {
	srv := handler.New(graph.NewSchema(&graph.Resolver{Store: deps.Store, Broker: deps.Broker, Clock: deps.Clock}))
	srv.AddTransport(newWebsocket(cfg, tokens))
	srv.AddTransport(transport.Options{AllowedMethods: []string{http.MethodGet, http.MethodPost}})
	srv.AddTransport(httpTransport{maxBatch: cfg.MaxBatch})

	srv.SetErrorPresenter(graph.ErrorPresenter(deps.Logger))
	srv.SetRecoverFunc(graph.Recover(deps.Logger))
	srv.SetQueryCache(lru.New[*ast.QueryDocument](cfg.QueryCacheSize))
	srv.SetValidationRulesFn(graph.ValidationRules)
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
		srv.Use(graph.NoIntrospection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](cfg.APQCacheSize)})
	srv.Use(&graph.Limits{
		MaxTokens:     cfg.MaxTokens,
		MaxDepth:      cfg.MaxDepth,
		MaxCost:       cfg.MaxCost,
		MaxDirectives: cfg.MaxDirectives,
		CacheSize:     cfg.QueryCacheSize,
	})
	srv.Use(&graph.StrictVariables{})
	srv.Use(graph.UserCache{})
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		setOperation(ctx, oc.OperationName)
		return next(ctx)
	})
	return srv
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
