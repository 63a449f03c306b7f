// Command seed creates a benchmark dataset: a new store holding the demo
// items and the generated ones (see package workload), so that it holds
// -items items in all.
//
//	seed -items 10000 -db /tmp/bench/items.db
//	seed -items 10000 -pg 'postgres://…/bench?search_path=itemsapi_bench'
//
// SQLite goes through the real store: sqlite.Open, then Store.Import in
// batches of 10,000 items, one transaction each. PostgreSQL, which the
// benchmarks run only for information, goes through postgres.Open (which
// creates the schema) and then COPY into the items table, as the store's
// own benchmarks load it: the schema named by the URL's search_path is
// dropped and made anew first, so point it at a schema you can lose.
//
// It prints how many items match each search the scenarios make, for the
// log of the run; the checker computes the same counts on its own.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"iter"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"itemsapi/bench/workload"
	"itemsapi/items"
	"itemsapi/store/postgres"
	"itemsapi/store/sqlite"
)

// batchSize is how many items go into one Import call, one transaction:
// large enough that the per-transaction sync is amortised, small enough
// that the batch's memory stays modest at 1M items.
const batchSize = 10_000

func main() {
	total := flag.Int("items", workload.SmallItems, "items the store holds in all, demo items included")
	dbPath := flag.String("db", "", "SQLite file to create (must not exist)")
	pgURL := flag.String("pg", "", "PostgreSQL URL with a search_path parameter naming the schema to (re)create")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *total, *dbPath, *pgURL); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, total int, dbPath, pgURL string) error {
	if total < len(items.DemoItems) {
		return fmt.Errorf("-items %d: a store holds at least the %d demo items", total, len(items.DemoItems))
	}
	start := time.Now()
	var err error
	switch {
	case (dbPath == "") == (pgURL == ""):
		return errors.New("give one of -db PATH and -pg URL")
	case dbPath != "":
		err = seedSQLite(ctx, dbPath, total)
	default:
		err = seedPostgres(ctx, pgURL, total)
	}
	if err != nil {
		return err
	}
	counts := countMatches(total, workload.CommonQuery, workload.Marker)
	fmt.Printf("seeded %d items in %.1fs; matches: %s\n", total, time.Since(start).Seconds(), counts)
	return nil
}

// seedSQLite creates the file at path through the real store.
func seedSQLite(ctx context.Context, path string, total int) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s exists: a dataset starts from a new file", path)
	}
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	batch := make([]items.NewItem, 0, batchSize)
	for n := range workload.Generate(total) {
		batch = append(batch, n)
		if len(batch) == batchSize {
			if err := s.Import(ctx, batch); err != nil {
				s.Close()
				return err
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		if err := s.Import(ctx, batch); err != nil {
			s.Close()
			return err
		}
	}
	return s.Close()
}

// seedPostgres recreates the schema that rawURL's search_path names, lets
// the store create its tables there, and copies the items in.
func seedPostgres(ctx context.Context, rawURL string, total int) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return errors.New("-pg: want a postgres:// URL")
	}
	schema := u.Query().Get("search_path")
	if schema == "" || strings.Contains(schema, ",") || schema == "public" {
		// Never drop a schema the URL did not name on purpose.
		return errors.New("-pg: the URL needs a search_path parameter naming one schema, not public, which is dropped and made anew")
	}
	conn, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	id := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+id+" CASCADE"); err != nil {
		return fmt.Errorf("drop schema: %w", err)
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+id); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	// Opening the store migrates the new schema and adds the demo items.
	s, err := postgres.Open(ctx, postgres.DefaultConfig(rawURL), nil)
	if err != nil {
		return err
	}
	s.Close()

	now := time.Now().UTC()
	next, stop := iter.Pull(workload.Generate(total))
	defer stop()
	src := pgx.CopyFromFunc(func() ([]any, error) {
		n, ok := next()
		if !ok {
			return nil, nil
		}
		return []any{n.Name, items.FoldString(n.Name), n.Description, now}, nil
	})
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{schema, "items"},
		[]string{"name", "name_folded", "description", "created_at"}, src); err != nil {
		return fmt.Errorf("copy items: %w", err)
	}
	// The planner needs statistics to use the trigram index.
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE "+pgx.Identifier{schema, "items"}.Sanitize()); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	return nil
}

// countMatches counts the generated names that contain each query,
// case-insensitively.
func countMatches(total int, queries ...string) string {
	e := workload.NewExpect(total, queries...)
	parts := make([]string, len(queries))
	for i, q := range queries {
		parts[i] = fmt.Sprintf("%s=%d", q, e.Matches(q))
	}
	return strings.Join(parts, " ")
}
