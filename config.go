package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"itemsapi/httpapi"
	"itemsapi/store/readcache"
)

// Config is everything the server is told at start: the defaults, then
// the environment, then the flags given (parseConfig). Each setting is
// declared once, in the package that uses it (httpapi.Config for the
// HTTP API, a backend's package for its own flags), and gathered here.
type Config struct {
	Addr           string
	DB             string
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
	// writes are Shared (PostgreSQL): run reads that of the store.
	ReadCacheBytes int64

	// Backend is the row of backends that DB names, and open opens it
	// with what the backend's flags said.
	Backend backend
	open    opener
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

// parseConfig fills a Config from the defaults, then the environment, then
// the flags that were given, and validates it.
func parseConfig(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, error) {
	cfg := Config{
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

	trustedDocs := cfg.register(fs)
	openers := make([]opener, len(backends))
	for i, b := range backends {
		openers[i] = b.flags(fs)
	}
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
	if err := cfg.validate(); err != nil {
		return cfg, err
	}
	switch {
	case *trustedDocs != "":
		docs, err := httpapi.LoadTrustedDocuments(*trustedDocs)
		if err != nil {
			return cfg, err
		}
		cfg.HTTP.TrustedDocuments = docs
	case cfg.HTTP.OnlyTrustedDocuments:
		return cfg, errors.New("--only-trusted-documents needs --trusted-documents FILE")
	}
	i, err := backendOf(cfg.DB)
	if err != nil {
		return cfg, err
	}
	cfg.Backend, cfg.open = backends[i], openers[i]
	return cfg, nil
}

// register registers the server's flags on fs, filling cfg when fs is
// parsed, each defaulting to what cfg holds, and returns the path of
// --trusted-documents, which parseConfig loads.
func (cfg *Config) register(fs *flag.FlagSet) *string {
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "address to listen on: :8080 is every interface, 127.0.0.1:8080 this machine only")
	fs.StringVar(&cfg.DB, "db", cfg.DB, "store: sqlite:PATH (embedded), memory (nothing kept), or postgres://…")
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
	fs.BoolVar(&cfg.HTTP.CompiledPlans, "compiled-plans", cfg.HTTP.CompiledPlans, "answer queries and item mutations with compiled plans (false: every operation through gqlgen's executor, for comparison)")
	fs.StringVar(&cfg.DebugAddr, "debug-addr", "", "serve Go's profiler (net/http/pprof) on this address, e.g. 127.0.0.1:6060; never expose it")
	// Shares of the server's bounds per client address (httpapi/shares.go).
	fs.Float64Var(&cfg.HTTP.MaxSharePerAddress, "max-share-per-address", cfg.HTTP.MaxSharePerAddress,
		"fraction of --max-websockets, --max-streams and --max-inflight-bytes that one client address (as --rate-limit counts it) may hold; 0 or 1: no share")
	fs.IntVar(&cfg.HTTP.ReplayRate, "replay-rate", cfg.HTTP.ReplayRate,
		"items per second (beyond a burst of as many) that the subscriptions of one client address may read from the store, resuming with after: or catching up; past it they wait (0: no bound)")
	fs.BoolVar(&cfg.Tracing, "tracing", cfg.Tracing, "export OpenTelemetry traces over OTLP/HTTP, configured by the OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, …)")
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", cfg.ShutdownGrace, "how long in-flight requests may finish at shutdown")
	return trustedDocs
}

// validate returns an error naming the first setting out of its range.
func (cfg *Config) validate() error {
	h := cfg.HTTP
	if h.OperationLimits.Check() != nil || h.MaxBodyBytes <= 0 || h.MaxBatch <= 0 || h.QueryCacheSize <= 0 ||
		h.MaxWebsockets <= 0 || h.MaxSubscriptionsPerSocket <= 0 || h.MaxStreams <= 0 || cfg.Server.MaxHeaderBytes <= 0 ||
		h.WebsocketWriteTimeout <= 0 {
		return errors.New("limits and cache sizes must be positive")
	}
	if h.RateLimit.Requests < 0 || h.RateLimit.Window < time.Second {
		return errors.New("--rate-limit must be 0 (off) or more, over a --rate-window of a second or more")
	}
	if err := httpapi.ValidPrefixes(h.RateLimit.TrustedProxies); err != nil {
		return err
	}
	if h.ResponseCacheBytes < 0 || h.QueryCacheBytes < 0 || h.LimitsCacheBytes < 0 ||
		h.APQCacheBytes < 0 || h.TokenCacheBytes < 0 || cfg.ReadCacheBytes < 0 {
		return errors.New("cache budgets (--*-cache-bytes) must be 0 (off) or more")
	}
	if h.MaxInflightBytes <= 0 {
		return errors.New("--max-inflight-bytes must be positive")
	}
	if !(h.MaxSharePerAddress >= 0 && h.MaxSharePerAddress <= 1) { // NaN too
		return errors.New("--max-share-per-address must be a fraction from 0 to 1 (0 or 1: no share)")
	}
	if h.ReplayRate < 0 {
		return errors.New("--replay-rate must be 0 (no bound) or more")
	}
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

// tuneGC sets the garbage collector for a server whose live heap is small
// and whose requests allocate a lot, unless GOGC or GOMEMLIMIT say
// otherwise: a collection when the heap has grown by 400% rather than
// 100% spends a quarter of the CPU on collecting and cuts the pauses that
// make p99 latency, and a soft limit of 192 MiB makes the collector work
// harder before the heap would grow past it: room for the 60 MiB the
// caches may hold at the defaults, the 64 MiB of requests in flight, and
// the garbage of a busy second, within the 256 MB the server is measured
// against.
//
// Open websockets hold memory of their own, outside that budget (their
// subscriptions' state and buffers: 40–60 KiB a socket of 20 blocked
// subscriptions), which would otherwise eat the room the limit leaves for
// garbage: at 1,000 sockets the collector ran 2.5 times as often for the
// same writes, each cycle marking five times as much. So when tuneGC sets
// the limit it returns a function for the number of open websockets, that
// raises the limit by gcSocketRoom for each, up to gcSocketsRoomMax in
// all: the sockets' state and as much again of room. With
// GOMEMLIMIT set it returns nil, and the limit is the operator's.
func tuneGC(getenv func(string) string) (websocketsChanged func(open int)) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if getenv("GOMEMLIMIT") != "" {
		return nil
	}
	debug.SetMemoryLimit(gcBaseLimit)
	return func(open int) { debug.SetMemoryLimit(gcLimit(open)) }
}

// The collector's soft memory limit (tuneGC): gcBaseLimit with no
// websocket open, gcSocketRoom more for each open one, up to
// gcSocketsRoomMax more (1,000 sockets, the default --max-websockets,
// take 94 MiB of it: the limit is then 286 MiB, and the server's RSS with
// 1,000 sockets of 20 subscriptions that read nothing about 310 MB, under
// the 384 MB it is measured against).
const (
	gcBaseLimit      = 192 << 20
	gcSocketRoom     = 96 << 10
	gcSocketsRoomMax = 96 << 20
)

// gcLimit is the soft memory limit while open websockets are open.
func gcLimit(open int) int64 {
	return gcBaseLimit + min(int64(max(open, 0))*gcSocketRoom, gcSocketsRoomMax)
}
