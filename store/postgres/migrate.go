package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"itemsapi/items"
)

// ErrNewerSchema is matched (errors.Is) by the error of Open for a
// database that a newer version of the program has migrated: this one does
// not know its schema and leaves it alone.
var ErrNewerSchema = errors.New("postgres: the database schema is newer than this binary knows")

// newerSchemaError says which versions: the database's and the newest this
// binary knows.
type newerSchemaError struct{ have, known int }

func (e *newerSchemaError) Error() string {
	return fmt.Sprintf("postgres: database schema version %d is newer than this binary knows (%d); upgrade the server", e.have, e.known)
}

func (e *newerSchemaError) Is(target error) bool { return target == ErrNewerSchema }

// migrationFiles holds the schema changes, one file each, named
// NNNN_what.sql, applied in the order of their numbers. Numbers may have
// gaps (files written at the same time on different branches take numbers
// apart), and a file whose number was not applied yet is applied even
// when a greater one was. A file, once released, is never edited: a change
// is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock keys the advisory lock that migrations hold: one for the
// whole database, because CREATE EXTENSION is per database and may race
// even with IF NOT EXISTS, whatever schema a store lives in.
const migrationLock int64 = 0x6974656d73617069 // "itemsapi"

// migrationTimeout replaces the statement timeout while migrating: a
// migration may build an index over a large table, and waits for other
// processes' migrations.
const migrationTimeout = "5min"

// migration is one file of migrationFiles.
type migration struct {
	version int
	sql     string
}

// migrations returns the migrations in the order of their numbers, which
// are distinct and positive.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	// fs.Glob returns the names sorted, and the numbers have four digits.
	steps := make([]migration, 0, len(names))
	for _, name := range names {
		base := path.Base(name)
		n, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil || n <= 0 || len(steps) > 0 && n <= steps[len(steps)-1].version {
			return nil, fmt.Errorf("postgres: migration %s: want a number NNNN_ above the previous file's", base)
		}
		b, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		steps = append(steps, migration{version: n, sql: string(b)})
	}
	return steps, nil
}

// migrate brings the schema to the newest version in one transaction that
// holds an advisory lock, so that processes starting at once apply each
// migration once, one after the other. Table schema_migrations lists the
// versions applied. A new schema also gets the demo items, exactly once:
// with migration 1.
func migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	steps, err := migrations()
	if err != nil {
		return err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return migrationError("begin", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	for _, stmt := range []string{
		`SET LOCAL statement_timeout = '` + migrationTimeout + `'`,
		`SELECT pg_advisory_xact_lock(` + strconv.FormatInt(migrationLock, 10) + `)`,
		`CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
		)`,
	} {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return migrationError("prepare", err)
		}
	}
	applied := map[int]bool{}
	rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return migrationError("read the schema version", err)
	}
	version := 0
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return migrationError("read the schema version", err)
		}
		applied[v] = true
		version = max(version, v)
	}
	if err := rows.Err(); err != nil {
		return migrationError("read the schema version", err)
	}
	known := steps[len(steps)-1].version
	if version > known {
		return &newerSchemaError{have: version, known: known}
	}
	var done []int
	for _, m := range steps {
		if applied[m.version] {
			continue
		}
		// Without arguments, pgx sends the file as one simple query, which
		// may hold several statements.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return migrationError(fmt.Sprintf("apply migration %04d", m.version), err)
		}
		if m.version == 1 {
			if err := seed(ctx, tx); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.version); err != nil {
			return migrationError("record the schema version", err)
		}
		done = append(done, m.version)
	}
	if len(done) == 0 {
		return nil
	}
	if err := tx.Commit(ctx); err != nil {
		return migrationError("commit", err)
	}
	log.Info("database schema migrated", "from_version", version, "applied", done)
	return nil
}

// seed adds the demo items to a new schema. They are created by nobody,
// and their IDs are 1, 2, … since the table is new.
func seed(ctx context.Context, tx pgx.Tx) error {
	for _, n := range items.DemoItems {
		_, err := tx.Exec(ctx,
			`INSERT INTO items (name, name_folded, description, created_at) VALUES ($1, $2, $3, clock_timestamp())`,
			n.Name, items.FoldString(n.Name), n.Description)
		if err != nil {
			return migrationError("add the demo items", err)
		}
	}
	return nil
}

func migrationError(op string, err error) error {
	return &dbError{op: "migrate: " + op, msg: err.Error(), ctxErr: ctxCause(err)}
}
