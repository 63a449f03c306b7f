package sqlite

import (
	"fmt"
	"path/filepath"
	"testing"

	"itemsapi/items"
	"itemsapi/store/storetest"
)

// TestCountKeptByTriggers: the count of all items, read from the row the
// triggers keep, is the table's count(*) after additions, imports,
// failed and successful deletions, and on a database migrated with items
// in it.
func TestCountKeptByTriggers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "items.db")
	s := openAt(t, path)
	ctx := t.Context()
	check := func(when string) {
		t.Helper()
		got, err := s.CountItems(ctx, "")
		var kept, want int
		if err == nil {
			err = s.r.QueryRowContext(ctx, `SELECT (SELECT seq FROM sqlite_sequence WHERE name = 'items count'), (SELECT count(*) FROM items)`).Scan(&kept, &want)
		}
		if err != nil || got != want || kept != want {
			t.Fatalf("%s: CountItems = %d, %v; the kept count %d; count(*) = %d", when, got, err, kept, want)
		}
	}
	check("new")
	root, _ := storetest.AddUser(t, s, "root", items.RoleAdmin)
	by := storetest.Caller(root, items.RoleAdmin)
	added := storetest.AddItems(t, s, "a", "b", "c", "d")
	check("after additions")
	var batch []items.NewItem
	for i := range 50 {
		batch = append(batch, items.NewItem{Name: fmt.Sprint("imported ", i)})
	}
	if err := s.Import(ctx, batch); err != nil {
		t.Fatal(err)
	}
	check("after an import")
	if err := s.DeleteItem(ctx, added[1].ID, items.ItemDelete{By: by}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteItem(ctx, added[1].ID, items.ItemDelete{By: by}); err == nil {
		t.Fatal("a second deletion of one item succeeded")
	}
	stale := 7
	if err := s.DeleteItem(ctx, added[2].ID, items.ItemDelete{By: by, ExpectedVersion: &stale}); err == nil {
		t.Fatal("a deletion expecting another version succeeded")
	}
	check("after deletions, one done and two refused")

	// A database of the version before 0007, with items and a deletion
	// in it: the migrations count the items, then move the count.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "v6.db")
	db := CreateAtVersion(t, path, 6)
	for _, stmt := range []string{
		`INSERT INTO items (name, name_folded, created_at) VALUES ('a', 'a', 0), ('b', 'b', 0), ('c', 'c', 0)`,
		`INSERT INTO events (pos, kind, item_id) VALUES (1, 1, 1), (2, 1, 2), (3, 1, 3)`,
		`DELETE FROM items WHERE id = 2`,
		`INSERT INTO events (pos, kind, item_id) VALUES (4, 3, 2)`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path)
	check("after the migration")
}
