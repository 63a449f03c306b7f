package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"itemsapi/items"
	"itemsapi/store/sqlite"
	"itemsapi/store/storetest"
)

// TestLegacyUserNames stores users as the program did before migration
// 0004 and before new user names had to be ASCII (names differing only in
// case, non-ASCII names), then opens the file with this program, which
// migrates it.
func TestLegacyUserNames(t *testing.T) {
	storetest.RunLegacyUserNames(t, func(t *testing.T, users []storetest.LegacyUser) items.Store {
		ctx := t.Context()
		path := filepath.Join(t.TempDir(), "items.db")
		db := sqlite.CreateAtVersion(t, path, 3)
		for _, u := range users {
			var id int64
			if err := db.QueryRowContext(ctx, `INSERT INTO users (name, role) VALUES (?, 'USER') RETURNING id`, u.Name).Scan(&id); err != nil {
				t.Fatalf("insert user %q: %v", u.Name, err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO tokens (hash, user_id, role, created_at) VALUES (?, ?, 'USER', 0)`, u.Hash[:], id); err != nil {
				t.Fatalf("insert token of %q: %v", u.Name, err)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		return open(t, path)
	})
}

// TestUserLookupUsesIndex checks that finding a user by its folded name
// reads the index of migration 0004, not the whole table.
func TestUserLookupUsesIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "items.db")
	s := open(t, path)
	storetest.AddUser(t, s, "alice", items.RoleUser)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatalf("sql.Open() = %v", err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `EXPLAIN QUERY PLAN SELECT name FROM users WHERE lower(name) = ?
		ORDER BY name <> ?, id LIMIT 1`, "alice", "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan += detail + "\n"
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := "USING INDEX users_name_lower"; !strings.Contains(plan, want) {
		t.Errorf("query plan:\n%swant it to name %q", plan, want)
	}
}
