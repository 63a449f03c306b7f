package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"

	"itemsapi/items"
)

func openTest(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "items.db"))
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestPragmas checks the settings of several connections of each pool at
// once, so that connections opened after the first have them too.
func TestPragmas(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	want := map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL
		"busy_timeout": "5000",
		"foreign_keys": "1",
	}
	for _, pool := range []struct {
		name      string
		db        *sql.DB
		conns     int
		queryOnly string
	}{
		{"writer", s.w, 1, "0"},
		{"reader", s.r, 3, "1"},
	} {
		var conns []*sql.Conn
		for range pool.conns {
			c, err := pool.db.Conn(ctx)
			if err != nil {
				t.Fatalf("%s: Conn() = %v", pool.name, err)
			}
			defer c.Close()
			conns = append(conns, c)
		}
		for i, c := range conns {
			for pragma, value := range map[string]string{"query_only": pool.queryOnly} {
				want[pragma] = value
			}
			for pragma, value := range want {
				var got string
				if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
					t.Errorf("%s %d: PRAGMA %s = %v", pool.name, i, pragma, err)
				} else if got != value {
					t.Errorf("%s %d: PRAGMA %s = %s, want %s", pool.name, i, pragma, got, value)
				}
			}
		}
	}
}

// TestIDsNeverReused removes the newest item behind the store's back and
// checks that its ID is not handed out again, even after reopening.
func TestIDsNeverReused(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "items.db")
	s := openAt(t, path)
	it, err := s.AddItem(ctx, items.NewItem{Name: "doomed"})
	if err != nil {
		t.Fatalf("AddItem() = %v", err)
	}
	if _, err := s.w.ExecContext(ctx, "DELETE FROM items WHERE id = ?", it.ID); err != nil {
		t.Fatalf("DELETE = %v", err)
	}
	s.Close()

	s = openAt(t, path)
	next, err := s.AddItem(ctx, items.NewItem{Name: "next"})
	if err != nil {
		t.Fatalf("AddItem() = %v", err)
	}
	if next.ID <= it.ID {
		t.Errorf("AddItem().ID = %d after item %d was removed, want above %d", next.ID, it.ID, it.ID)
	}
}

// TestEmptyDatabaseNotSeededAgain checks that the demo items come with a
// new database only: one whose items were all removed stays empty.
func TestEmptyDatabaseNotSeededAgain(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "items.db")
	s := openAt(t, path)
	if _, err := s.w.ExecContext(ctx, "DELETE FROM items"); err != nil {
		t.Fatalf("DELETE = %v", err)
	}
	s.Close()
	s = openAt(t, path)
	if n, err := s.CountItems(ctx, ""); err != nil || n != 0 {
		t.Errorf("CountItems() = %d, %v, want 0, nil", n, err)
	}
}

// TestDriverErrorsTranslated checks that a driver error does not reach the
// caller as the driver's type.
func TestDriverErrorsTranslated(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	_, err := s.w.ExecContext(ctx, "INSERT INTO nonesuch VALUES (1)")
	if err == nil {
		t.Fatal("INSERT INTO nonesuch succeeded")
	}
	got := translate(ctx, "test", err)
	if code(got) != 0 {
		t.Errorf("translate(%v) = %T, a driver error", err, got)
	}
	if c := items.ErrorCode(got); c != items.Internal {
		t.Errorf("ErrorCode(translate(%v)) = %q, want %q", err, c, items.Internal)
	}
}
