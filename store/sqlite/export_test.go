package sqlite

import (
	"database/sql"
	"fmt"
	"testing"
)

// CreateAtVersion creates at path a database of schema version v, as the
// first v migrations make it, with nothing in it (the demo items come with
// a new database's newest schema only). A test writes into it what a
// program of that version wrote, closes it, and opens the file with
// this program, which runs the migrations after v: no test needs to undo
// a migration by hand.
func CreateAtVersion(t testing.TB, path string, v int) *sql.DB {
	t.Helper()
	steps, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatalf("sql.Open() = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	for i, step := range steps[:v] {
		if _, err := db.Exec(step); err != nil {
			t.Fatalf("migration %04d: %v", i+1, err)
		}
	}
	// PRAGMA takes no parameters; the number is ours.
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
		t.Fatalf("PRAGMA user_version: %v", err)
	}
	return db
}
