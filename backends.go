package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"

	"itemsapi/items"
	"itemsapi/store/memory"
	"itemsapi/store/postgres"
	"itemsapi/store/sqlite"
)

// storeBroker is what a backend opens: a store that is also the broker of
// its events.
type storeBroker interface {
	items.Store
	items.Broker
}

// opener opens the store that dsn names.
type opener func(ctx context.Context, dsn string, log *slog.Logger) (storeBroker, error)

// backend is one kind of store that --db may name. A new backend is a
// package under store/ and one row of backends.
type backend struct {
	// prefixes are what a --db value of the backend starts with; one that
	// ends in neither ':' nor '/' is the whole value ("memory").
	prefixes []string
	// othersWrite is whether other processes may write to the same data:
	// then what this process keeps in memory could outlive a write made
	// by another, and the read and response caches stay off.
	othersWrite bool
	// flags registers the backend's own flags on fs, if it has any, and
	// returns the opener that reads them once fs is parsed.
	flags func(fs *flag.FlagSet) opener
}

// backends are the stores --db may name.
var backends = []backend{
	{prefixes: []string{"postgres://", "postgresql://"}, othersWrite: true, flags: func(fs *flag.FlagSet) opener {
		var pg postgres.Config
		pg.RegisterFlags(fs)
		return func(ctx context.Context, dsn string, log *slog.Logger) (storeBroker, error) {
			c := pg
			c.URL = dsn
			return postgres.Open(ctx, c, log)
		}
	}},
	{prefixes: []string{"memory"}, flags: func(*flag.FlagSet) opener {
		return func(context.Context, string, *slog.Logger) (storeBroker, error) { return memory.New(), nil }
	}},
	{prefixes: []string{"sqlite:"}, flags: func(*flag.FlagSet) opener {
		return func(ctx context.Context, dsn string, _ *slog.Logger) (storeBroker, error) {
			path := strings.TrimPrefix(dsn, "sqlite:")
			if path == "" {
				return nil, errors.New("--db sqlite: needs a file path, as in sqlite:items.db")
			}
			return sqlite.Open(ctx, path)
		}
	}},
}

// backendOf returns the index in backends of the backend dsn names.
func backendOf(dsn string) (int, error) {
	for i, b := range backends {
		for _, p := range b.prefixes {
			if dsn == p || (strings.HasSuffix(p, ":") || strings.HasSuffix(p, "/")) && strings.HasPrefix(dsn, p) {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("--db %q: want sqlite:PATH, memory or postgres://…", redactDSN(dsn))
}

// openStore opens the store of cfg, and logs that it did.
func openStore(ctx context.Context, cfg Config, log *slog.Logger) (storeBroker, error) {
	s, err := cfg.open(ctx, cfg.DB, log)
	if err != nil {
		return nil, err
	}
	log.Info("store open", "db", redactDSN(cfg.DB))
	return s, nil
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
