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
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"itemsapi/auth"
	"itemsapi/httpapi"
	"itemsapi/metrics"
	"itemsapi/store/readcache"
	"itemsapi/tracing"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "itemsapi:", err)
		os.Exit(1)
	}
}

// run is the whole program: main only calls it, and tests call it too.
// ready, when not nil, is called with the address the server listens on
// once it serves (operators read the "listening" log line instead).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready func(addr string)) error {
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
	websocketsChanged := tuneGC(getenv)

	store, err := openStore(ctx, cfg, log)
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
	deps := httpapi.Deps{Store: served, Broker: store, Logger: log, Metrics: m, AccessLog: logs, Tokens: tokens,
		WebsocketsChanged: websocketsChanged}
	if cfg.Tracing {
		tr, err := tracing.Setup(ctx, getenv, log)
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
	return serve(ctx, ln, httpapi.NewHandler(cfg.HTTP, deps), cfg.Server, cfg.ShutdownGrace, log, ready)
}

// serve serves h on ln until ctx is done, then lets in-flight requests
// finish for up to grace and drains the websockets: a handler with a
// Shutdown method (httpapi.Handler) closes each with 1001 once its
// operations have ended, or when grace runs out. ready, when not nil, is
// called once h serves.
func serve(ctx context.Context, ln net.Listener, h http.Handler, limits serverLimits, grace time.Duration, log *slog.Logger, ready func(string)) error {
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
	if ready != nil {
		ready(ln.Addr().String())
	}

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
