// Command itemsapi serves the items GraphQL API.
//
//	go run .                                   # serve on :8080 with items.db
//	go run . token create --user NAME [--role ADMIN] [--expires 720h]
//	go run . token list [--user NAME]
//	go run . token revoke ID
//
// See README.md for the configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"itemsapi/auth"
	"itemsapi/httpapi"
	"itemsapi/items"
	"itemsapi/metrics"
	"itemsapi/store/memory"
	"itemsapi/store/postgres"
	"itemsapi/store/readcache"
	"itemsapi/store/sqlite"
	"itemsapi/tracing"
)

func main() {
	tuneGC(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "itemsapi:", err)
		os.Exit(1)
	}
}

// config is everything the server is told at start.
type config struct {
	Addr           string
	DB             string
	PG             postgres.Config
	BootstrapToken string
	ShutdownGrace  time.Duration
	HTTP           httpapi.Config
	Server         serverLimits
	// Tracing exports OpenTelemetry traces, configured by the standard
	// OTEL_* variables.
	Tracing bool
	// DebugAddr, when set, serves net/http/pprof there, apart from the API.
	DebugAddr string
	// ReadCacheBytes bounds the read cache (store/readcache); 0 turns it
	// off. It is always off, as is the response cache, on a store whose
	// writes are Shared (PostgreSQL).
	ReadCacheBytes int64
}

// serverLimits are the http.Server's own bounds on a connection.
type serverLimits struct {
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
}

// newFlagSet returns the flag set of the server, which prints --help and
// --version to w. A bad flag prints nothing there: run returns its error.
func newFlagSet(w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("itemsapi", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	help := fs.Bool("help", false, "print this help and exit")
	fs.BoolVar(help, "h", false, "print this help and exit")
	version := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		switch {
		case *help:
			_ = printHelp(w, fs)
		case *version:
			_ = printVersion(w)
		}
	}
	return fs
}

// envName is the environment variable of a flag: its name in upper snake
// case (--max-cost is MAX_COST), but for --addr and --db.
func envName(flagName string) string {
	switch flagName {
	case "addr":
		return "ADDR, or PORT for the port alone"
	case "db":
		return "DATABASE_URL"
	case "help", "h", "version":
		return ""
	}
	return strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// printHelp writes the usage of the server and of its token subcommand to
// w, each flag with its environment variable and default.
func printHelp(w io.Writer, fs *flag.FlagSet) error {
	var b strings.Builder
	b.WriteString(`itemsapi serves the items GraphQL API (playground at /, API at /graphql).

Usage:
  itemsapi [flags]                 serve
  itemsapi token create --user NAME [--role USER|ADMIN] [--expires DURATION] [--db DSN]
                                   make an API token against the store and
                                   print it, once, as the last line
  itemsapi token list [--user NAME] [--db DSN]
                                   list tokens (never their secrets)
  itemsapi token revoke ID [--db DSN]
                                   revoke a token, from the next request on
  itemsapi --version               print the version and exit

Every flag may also be set by its environment variable; a flag given on
the command line wins.

Flags:
`)
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "h" {
			return
		}
		fmt.Fprintf(&b, "  --%s\n        %s", f.Name, f.Usage)
		if env := envName(f.Name); env != "" {
			fmt.Fprintf(&b, " (env %s", env)
			if f.DefValue != "" {
				fmt.Fprintf(&b, "; default %s", f.DefValue)
			}
			b.WriteString(")")
		}
		b.WriteString("\n")
	})
	b.WriteString(`
Environment only:
  BOOTSTRAP_ADMIN_TOKEN
        at every start, made (or kept) a valid ADMIN token of user "admin";
        unset by default: there is no built-in token
`)
	_, err := io.WriteString(w, b.String())
	return err
}

// printVersion writes the module version and VCS revision the binary was
// built from.
func printVersion(w io.Writer) error {
	version, revision := "(devel)", "unknown"
	modified := false
	if info, ok := debug.ReadBuildInfo(); ok {
		version = info.Main.Version
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if modified {
		revision += " (modified)"
	}
	_, err := fmt.Fprintf(w, "itemsapi %s, revision %s, %s\n", version, revision, runtime.Version())
	return err
}

// parseConfig fills a config from the defaults, then the environment, then
// the flags that were given, and validates it.
func parseConfig(fs *flag.FlagSet, args []string, getenv func(string) string) (config, error) {
	cfg := config{
		Addr:           ":8080",
		DB:             "sqlite:items.db",
		ShutdownGrace:  10 * time.Second,
		HTTP:           httpapi.DefaultConfig(),
		ReadCacheBytes: readcache.DefaultMaxBytes,
		Server: serverLimits{
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
		},
	}
	if v := getenv("ADDR"); v != "" {
		cfg.Addr = v
	}
	if v := getenv("PORT"); v != "" {
		cfg.Addr = ":" + v
	}
	if v := getenv("DATABASE_URL"); v != "" {
		cfg.DB = v
	}
	cfg.BootstrapToken = getenv("BOOTSTRAP_ADMIN_TOKEN")

	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "address to listen on: :8080 is every interface, 127.0.0.1:8080 this machine only")
	fs.StringVar(&cfg.DB, "db", cfg.DB, "store: sqlite:PATH (embedded), memory (nothing kept), or postgres://…")
	fs.Var(int32Flag{&cfg.PG.MaxConns}, "pg-max-conns", "PostgreSQL pool size (0: the URL's pool_max_conns, else 16)")
	fs.DurationVar(&cfg.PG.ConnectTimeout, "pg-connect-timeout", postgres.DefaultConnectTimeout, "PostgreSQL connect timeout")
	fs.DurationVar(&cfg.PG.StatementTimeout, "pg-statement-timeout", postgres.DefaultStatementTimeout, "PostgreSQL statement timeout")
	fs.BoolVar(&cfg.HTTP.Introspection, "introspection", cfg.HTTP.Introspection, "answer introspection queries")
	fs.Int64Var(&cfg.HTTP.MaxBodyBytes, "max-body-bytes", cfg.HTTP.MaxBodyBytes, "largest request body, in bytes")
	fs.IntVar(&cfg.HTTP.MaxDepth, "max-depth", cfg.HTTP.MaxDepth, "deepest nesting of an operation's selections")
	fs.IntVar(&cfg.HTTP.MaxCost, "max-cost", cfg.HTTP.MaxCost, "largest cost of an operation")
	fs.IntVar(&cfg.HTTP.MaxTokens, "max-tokens", cfg.HTTP.MaxTokens, "largest document, in lexical tokens")
	fs.IntVar(&cfg.HTTP.MaxDirectives, "max-directives", cfg.HTTP.MaxDirectives, "most directives on one field")
	fs.IntVar(&cfg.HTTP.MaxBatch, "max-batch", cfg.HTTP.MaxBatch, "most operations in a batched request")
	fs.IntVar(&cfg.HTTP.QueryCacheSize, "query-cache", cfg.HTTP.QueryCacheSize, "most parsed documents to keep, within --query-cache-bytes")
	fs.Int64Var(&cfg.HTTP.QueryCacheBytes, "query-cache-bytes", cfg.HTTP.QueryCacheBytes, "memory for parsed documents, each weighed at 64 bytes per byte of text (0: off)")
	fs.Int64Var(&cfg.HTTP.LimitsCacheBytes, "limits-cache-bytes", cfg.HTTP.LimitsCacheBytes, "memory for the limits' verdicts on documents, kept by hash (0: off)")
	fs.Int64Var(&cfg.HTTP.APQCacheBytes, "apq-cache-bytes", cfg.HTTP.APQCacheBytes, "memory for automatic persisted queries, weighed by their text (0: none kept)")
	fs.Int64Var(&cfg.HTTP.TokenCacheBytes, "token-cache-bytes", cfg.HTTP.TokenCacheBytes, "memory for tokens already looked up (0: off)")
	fs.Int64Var(&cfg.ReadCacheBytes, "read-cache-bytes", cfg.ReadCacheBytes, "memory for items, pages and counts read (0: off; always off on PostgreSQL)")
	fs.Int64Var(&cfg.HTTP.MaxInflightBytes, "max-inflight-bytes", cfg.HTTP.MaxInflightBytes, "memory for the requests being read and parsed at once; past it a request waits up to a second, then gets 503")
	fs.DurationVar(&cfg.Server.ReadHeaderTimeout, "read-header-timeout", cfg.Server.ReadHeaderTimeout, "time a client has to send a request's headers")
	fs.DurationVar(&cfg.HTTP.ReadTimeout, "read-timeout", cfg.HTTP.ReadTimeout, "time a client has to send a whole request, body included")
	fs.DurationVar(&cfg.HTTP.WriteTimeout, "write-timeout", cfg.HTTP.WriteTimeout, "time to write an answer")
	fs.DurationVar(&cfg.Server.IdleTimeout, "idle-timeout", cfg.Server.IdleTimeout, "how long an idle keep-alive connection stays open")
	fs.IntVar(&cfg.Server.MaxHeaderBytes, "max-header-bytes", cfg.Server.MaxHeaderBytes, "largest request header, in bytes")
	fs.IntVar(&cfg.HTTP.MaxWebsockets, "max-websockets", cfg.HTTP.MaxWebsockets, "most websockets open at once")
	fs.IntVar(&cfg.HTTP.MaxSubscriptionsPerSocket, "max-subscriptions", cfg.HTTP.MaxSubscriptionsPerSocket, "most operations running at once on one websocket")
	// Transports: HTTP streams and trusted documents.
	fs.DurationVar(&cfg.HTTP.WebsocketWriteTimeout, "websocket-write-timeout", cfg.HTTP.WebsocketWriteTimeout, "a websocket whose message cannot be written for this long (a client that reads nothing) is closed")
	fs.IntVar(&cfg.HTTP.MaxStreams, "max-streams", cfg.HTTP.MaxStreams, "most HTTP streams open at once (graphql-sse, multipart/mixed)")
	trustedDocs := fs.String("trusted-documents", "", "file of trusted documents (Apollo's persisted query manifest, or a JSON object of sha256 → document), which requests may name by documentId or persisted query hash")
	fs.BoolVar(&cfg.HTTP.OnlyTrustedDocuments, "only-trusted-documents", cfg.HTTP.OnlyTrustedDocuments, "refuse every document that is not in --trusted-documents, and automatic persisted query registration")
	fs.Var(listFlag{&cfg.HTTP.CORSOrigins}, "cors-origins", "comma-separated origins whose pages may call the API and open websockets (https://app.example.com, https://*.example.com); none by default")
	fs.BoolVar(&cfg.HTTP.CSRFPrevention, "csrf-prevention", cfg.HTTP.CSRFPrevention, "refuse requests a browser could send cross-site without a preflight, as Apollo Server does (for proxies that add cookies)")
	fs.IntVar(&cfg.HTTP.RateLimit.Requests, "rate-limit", cfg.HTTP.RateLimit.Requests, "requests per --rate-window per client address and per token (0: off)")
	fs.DurationVar(&cfg.HTTP.RateLimit.Window, "rate-window", cfg.HTTP.RateLimit.Window, "window of --rate-limit")
	fs.Var(listFlag{&cfg.HTTP.RateLimit.TrustedProxies}, "trusted-proxies", "comma-separated CIDR prefixes of the proxies whose X-Forwarded-For names the client address")
	fs.Int64Var(&cfg.HTTP.ResponseCacheBytes, "response-cache-bytes", cfg.HTTP.ResponseCacheBytes, "memory for answers to repeated queries, kept until the next write (0: off; always off on PostgreSQL)")
	fs.BoolVar(&cfg.HTTP.CompiledPlans, "compiled-plans", cfg.HTTP.CompiledPlans, "answer queries with compiled plans (false: every operation through gqlgen's executor, for comparison)")
	fs.StringVar(&cfg.DebugAddr, "debug-addr", "", "serve Go's profiler (net/http/pprof) on this address, e.g. 127.0.0.1:6060; never expose it")
	fs.BoolVar(&cfg.Tracing, "tracing", cfg.Tracing, "export OpenTelemetry traces over OTLP/HTTP, configured by the OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, …)")
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", cfg.ShutdownGrace, "how long in-flight requests may finish at shutdown")
	// Every other flag may come from the environment too, under its
	// name in upper snake case: --max-cost is MAX_COST.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		if f.Name == "addr" || f.Name == "db" || name == "" {
			return
		}
		if v := getenv(name); v != "" && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", name, v, err)
			}
		}
	})
	if envErr != nil {
		return cfg, envErr
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) { // -h, --help or --version: printed
			return cfg, err
		}
		return cfg, fmt.Errorf("%w (itemsapi --help lists the flags)", err)
	}
	if fs.Lookup("help").Value.String() == "true" || fs.Lookup("version").Value.String() == "true" {
		fs.Usage()
		return cfg, flag.ErrHelp
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	h := cfg.HTTP
	if h.MaxBodyBytes <= 0 || h.MaxCost <= 0 || h.MaxDepth <= 0 || h.MaxTokens <= 0 ||
		h.MaxDirectives <= 0 || h.MaxBatch <= 0 || h.QueryCacheSize <= 0 ||
		h.MaxWebsockets <= 0 || h.MaxSubscriptionsPerSocket <= 0 || h.MaxStreams <= 0 || cfg.Server.MaxHeaderBytes <= 0 ||
		h.WebsocketWriteTimeout <= 0 {
		return cfg, errors.New("limits and cache sizes must be positive")
	}
	if h.RateLimit.Requests < 0 || h.RateLimit.Window < time.Second {
		return cfg, errors.New("--rate-limit must be 0 (off) or more, over a --rate-window of a second or more")
	}
	if err := httpapi.ValidPrefixes(h.RateLimit.TrustedProxies); err != nil {
		return cfg, err
	}
	switch {
	case *trustedDocs != "":
		docs, err := httpapi.LoadTrustedDocuments(*trustedDocs)
		if err != nil {
			return cfg, err
		}
		cfg.HTTP.TrustedDocuments = docs
	case h.OnlyTrustedDocuments:
		return cfg, errors.New("--only-trusted-documents needs --trusted-documents FILE")
	}
	if h.ResponseCacheBytes < 0 || h.QueryCacheBytes < 0 || h.LimitsCacheBytes < 0 ||
		h.APQCacheBytes < 0 || h.TokenCacheBytes < 0 || cfg.ReadCacheBytes < 0 {
		return cfg, errors.New("cache budgets (--*-cache-bytes) must be 0 (off) or more")
	}
	if h.MaxInflightBytes <= 0 {
		return cfg, errors.New("--max-inflight-bytes must be positive")
	}
	return cfg, nil
}

// run is the whole program: main only calls it, and tests call it too.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	logs := newFlushingWriter(stderr, logFlushInterval)
	defer logs.Flush()
	log := slog.New(slog.NewTextHandler(logs, nil))
	if len(args) > 0 && args[0] == "token" {
		return runToken(ctx, args[1:], getenv, stdout, log)
	}

	cfg, err := parseConfig(newFlagSet(stdout), args, getenv)
	if err != nil {
		return err
	}

	store, broker, err := openStore(ctx, cfg.DB, cfg.PG, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
	}()
	if err := bootstrap(ctx, store, cfg.BootstrapToken, log); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	m := metrics.New(prometheus.NewRegistry())
	served := m.Store(store) // metrics see the calls that reach the store
	// The caches key on the store's record of writes (items.Writes), which
	// is exact where this process makes every write.
	if store.Writes().Shared() {
		// Other processes write to the same database: an answer kept
		// here could outlive a write made there.
		cfg.HTTP.ResponseCacheBytes = 0
	} else if cfg.ReadCacheBytes > 0 {
		served = readcache.New(served, cfg.ReadCacheBytes)
	}
	// Closed after the server has stopped (deferred before serve), so the
	// last uses of tokens are written.
	topts := auth.Options{MaxBytes: cfg.HTTP.TokenCacheBytes, Logger: log}
	if n, ok := store.(interface{ TokenRevisionChanged() <-chan struct{} }); ok {
		topts.Notified = n.TokenRevisionChanged // PostgreSQL: revocations by other processes, at once
	}
	tokens := auth.NewTokens(served, topts)
	defer tokens.Close()
	deps := httpapi.Deps{Store: served, Broker: broker, Logger: log, Metrics: m, AccessLog: logs, Tokens: tokens}
	if cfg.Tracing {
		tr, err := tracing.Setup(ctx, log)
		if err != nil {
			return fmt.Errorf("tracing: %w", err)
		}
		defer func() {
			// Flush what is left, after the last request has ended.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tr.Shutdown(ctx); err != nil {
				log.Error("flushing traces", "err", err)
			}
		}()
		deps.Tracing = tr
	}
	if cfg.DebugAddr != "" {
		if err := serveDebug(ctx, cfg.DebugAddr, log); err != nil {
			return err
		}
	}
	return serve(ctx, ln, httpapi.NewHandler(cfg.HTTP, deps), cfg.Server, cfg.ShutdownGrace, log)
}

// serve serves h on ln until ctx is done, then lets in-flight requests
// finish for up to grace and drains the websockets: a handler with a
// Shutdown method (httpapi.Handler) closes each with 1001 once its
// operations have ended, or when grace runs out.
func serve(ctx context.Context, ln net.Listener, h http.Handler, limits serverLimits, grace time.Duration, log *slog.Logger) error {
	// Websockets are hijacked connections, which srv.Shutdown does not
	// wait for: h drains them, or else they end when this base context is
	// cancelled.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: limits.ReadHeaderTimeout,
		IdleTimeout:       limits.IdleTimeout,
		MaxHeaderBytes:    limits.MaxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return base },
		ConnContext:       httpapi.ConnContext,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	drainer, drains := h.(interface{ Shutdown(context.Context) error })
	if !drains {
		srv.RegisterOnShutdown(cancelBase)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	drained := make(chan error, 1)
	if drains {
		go func() { drained <- drainer.Shutdown(shutdownCtx) }()
	} else {
		drained <- nil
	}
	err := srv.Shutdown(shutdownCtx)
	if err := <-drained; err != nil {
		log.Warn("websockets still busy when the shutdown grace ran out were closed", "err", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// The grace is the operator's bound, not a failure: what still
		// runs when it runs out is cut.
		log.Warn("requests still running when the shutdown grace ran out were cut")
		err = srv.Close()
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// closer is a store that is also a broker and can be closed.
type closer interface {
	items.Store
	items.Broker
}

// openStore opens the store that dsn names.
func openStore(ctx context.Context, dsn string, pg postgres.Config, log *slog.Logger) (items.Store, items.Broker, error) {
	var s closer
	switch {
	case isPostgres(dsn):
		pg.URL = dsn
		db, err := postgres.Open(ctx, pg, log)
		if err != nil {
			return nil, nil, err
		}
		s = db
	case dsn == "memory":
		s = memory.New()
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, nil, errors.New("--db sqlite: needs a file path, as in sqlite:items.db")
		}
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, nil, err
		}
		s = db
	default:
		return nil, nil, fmt.Errorf("--db %q: want sqlite:PATH, memory or postgres://…", redactDSN(dsn))
	}
	log.Info("store open", "db", redactDSN(dsn))
	return s, s, nil
}

// redactDSN hides the password of a database URL, for logs and errors.
func redactDSN(dsn string) string {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return dsn
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return dsn
	}
	if user, _, hasPass := strings.Cut(userinfo, ":"); hasPass {
		return scheme + "://" + user + ":xxxxx@" + host
	}
	return dsn
}

// int32Flag is a flag.Value for an int32 setting.
type int32Flag struct{ p *int32 }

func (f int32Flag) String() string {
	if f.p == nil {
		return "0"
	}
	return strconv.FormatInt(int64(*f.p), 10)
}

func (f int32Flag) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 {
		return fmt.Errorf("want a number from 0 up")
	}
	*f.p = int32(n)
	return nil
}

// listFlag is a flag.Value for a comma-separated list; each use replaces
// the list.
type listFlag struct{ p *[]string }

func (f listFlag) String() string {
	if f.p == nil {
		return ""
	}
	return strings.Join(*f.p, ",")
}

func (f listFlag) Set(s string) error {
	var list []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			list = append(list, v)
		}
	}
	*f.p = list
	return nil
}

// isPostgres reports whether dsn names a PostgreSQL database.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// logFlushInterval is the longest a log line waits in memory.
const logFlushInterval = 50 * time.Millisecond

// flushingWriter gathers log lines and writes them out together, at most
// interval after the first of them, rather than with a system call each:
// at tens of thousands of requests a second, one write per request line
// costs as much as a cached answer. Lines are written out from a second
// buffer, so that a request logging its line never waits for the write of
// others'. A crash may lose the last interval of lines; run flushes on
// every way out.
type flushingWriter struct {
	out      io.Writer
	interval time.Duration
	timer    *time.Timer

	mu      sync.Mutex // guards buf and pending
	buf     []byte
	pending bool

	outMu sync.Mutex // keeps writes to out in order; guards spare
	spare []byte
}

// maxLogBuffer is how much a flushingWriter gathers before a writer
// flushes it at once rather than waiting for the timer.
const maxLogBuffer = 256 << 10

func newFlushingWriter(w io.Writer, interval time.Duration) *flushingWriter {
	f := &flushingWriter{out: w, interval: interval}
	f.timer = time.AfterFunc(time.Hour, f.Flush)
	f.timer.Stop()
	return f
}

// Write implements io.Writer.
func (f *flushingWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	f.buf = append(f.buf, p...)
	full := len(f.buf) >= maxLogBuffer
	if !f.pending {
		f.pending = true
		f.timer.Reset(f.interval)
	}
	f.mu.Unlock()
	if full {
		f.Flush()
	}
	return len(p), nil
}

// Flush writes out what is buffered.
func (f *flushingWriter) Flush() {
	f.outMu.Lock()
	defer f.outMu.Unlock()
	f.mu.Lock()
	b := f.buf
	f.buf, f.spare = f.spare[:0], nil
	f.pending = false
	f.mu.Unlock()
	if len(b) > 0 {
		_, _ = f.out.Write(b)
	}
	f.spare = b[:0]
}

// tuneGC sets the garbage collector for a server whose live heap is small
// and whose requests allocate a lot, unless GOGC or GOMEMLIMIT say
// otherwise: a collection when the heap has grown by 400% rather than
// 100% spends a quarter of the CPU on collecting and cuts the pauses that
// make p99 latency, and a soft limit of 192 MiB makes the collector work
// harder before the heap would grow past it: room for the 60 MiB the
// caches may hold at the defaults, the 64 MiB of requests in flight, and
// the garbage of a busy second, within the 256 MB the server is measured
// against.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(192 << 20)
	}
}

// serveDebug serves net/http/pprof on addr until ctx is done.
func serveDebug(ctx context.Context, addr string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--debug-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	log.Info("profiler listening", "addr", ln.Addr().String())
	return nil
}
