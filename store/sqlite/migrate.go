package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"itemsapi/items"
)

// ErrNewerSchema is wrapped by the error of Open for a database that a newer
// version of the program has migrated: this one does not know its schema and
// leaves it alone.
var ErrNewerSchema = errors.New("the database has a newer schema than this program knows; run a newer version")

// migrationFiles holds the schema changes, one file each, named
// NNNN_what.sql and numbered from 0001 without gaps. A file, once released,
// is never edited: a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations returns the statements of each migration, in order:
// migrations()[i] brings a database from user_version i to i+1.
func migrations() ([]string, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	// fs.Glob returns the names sorted.
	var steps []string
	for i, name := range names {
		base := path.Base(name)
		n, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil || n != i+1 {
			return nil, fmt.Errorf("sqlite: migration %s is out of sequence: want number %04d", base, i+1)
		}
		b, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		steps = append(steps, string(b))
	}
	return steps, nil
}

// migrate brings the database to the newest schema in one transaction,
// which BEGIN IMMEDIATE (the writer's _txlock) makes wait for any other
// process that is migrating the same file, so that each step runs once.
// PRAGMA user_version counts the steps applied. A new database also gets
// the demo items, exactly once: when it is created.
func migrate(ctx context.Context, w *sql.DB) (err error) {
	steps, err := migrations()
	if err != nil {
		return err
	}
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return translate(ctx, "begin migration", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return translate(ctx, "read schema version", err)
	}
	switch {
	case version > len(steps):
		return fmt.Errorf("%w (schema version %d; this program knows up to %d)", ErrNewerSchema, version, len(steps))
	case version == len(steps):
		// Write the version again, to learn now whether the file can be
		// written: a server on a read-only database would start and then
		// fail every write.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", version)); err != nil {
			return notWritable(ctx, err)
		}
		if err := tx.Commit(); err != nil {
			return notWritable(ctx, err)
		}
		return nil
	}
	for i := version; i < len(steps); i++ {
		if _, err := tx.ExecContext(ctx, steps[i]); err != nil {
			return translate(ctx, fmt.Sprintf("migration %04d", i+1), err)
		}
	}
	if version == 0 {
		if err := seed(ctx, tx); err != nil {
			return err
		}
	}
	// PRAGMA takes no parameters; the number is ours.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(steps))); err != nil {
		return notWritable(ctx, err)
	}
	if err := tx.Commit(); err != nil {
		return notWritable(ctx, err)
	}
	return nil
}

// notWritable explains a failed write at start: most often a file, or
// its directory (where the WAL files go), that the server may not write.
func notWritable(ctx context.Context, err error) error {
	return fmt.Errorf("the database cannot be written (check the permissions of the file and of its directory, and that its file system is not read-only): %w", translate(ctx, "write", err))
}

// seed adds the demo items to a new database.
func seed(ctx context.Context, tx *sql.Tx) error {
	now := time.Now().UTC().Truncate(time.Microsecond).UnixMicro()
	for _, n := range items.DemoItems {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO items (name, name_folded, description, created_at) VALUES (?, ?, ?, ?)`,
			n.Name, items.FoldString(n.Name), nullString(n.Description), now)
		if err != nil {
			return translate(ctx, "add demo items", err)
		}
	}
	// Their additions open the log (migration 0006), at the positions of
	// their IDs, which their rows hold (migration 0009).
	if _, err := tx.ExecContext(ctx, `UPDATE items SET added_pos = id`); err != nil {
		return translate(ctx, "log demo items", err)
	}
	return nil
}
