package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

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

// TestIndexMergedUnderLoad runs the writer's steps under load back to
// back, each after a batch of additions, with no idle time between them to
// merge the trigram index in. Each step merges a little, widely, so that
// the index's segments stay well below crisismerge (migration 0012, 64), where
// FTS5 would merge a whole level in one step: at 9,000 additions a second
// such a step held every AddItem for up to 340 ms. Once idle, the writer
// merges narrowly again.
func TestIndexMergedUnderLoad(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	query := func(q string) int {
		t.Helper()
		var n int
		if err := s.w.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	const (
		segments  = "SELECT count(DISTINCT segid) FROM items_fts_idx"
		usermerge = "SELECT v FROM items_fts_config WHERE k = 'usermerge'"
		steps     = 300
		perStep   = 100
	)
	crisis := query("SELECT v FROM items_fts_config WHERE k = 'crisismerge'")
	most := 0
	for i := range steps {
		// The items are added here, not through the writer, which stays
		// idle and so does not merge meanwhile.
		its := make([]items.Item, perStep)
		for j := range its {
			its[j] = items.Item{Name: fmt.Sprintf("item %d of step %d", j, i), Version: 1, CreatedAt: time.Now()}
		}
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			var head int64
			if err := tx.StmtContext(ctx, s.logHead).QueryRowContext(ctx).Scan(&head); err != nil {
				return err
			}
			return insertItems(ctx, tx.StmtContext(ctx, s.insertItems), its, head+1)
		})
		if err != nil {
			t.Fatalf("adding step %d's items: %v", i, err)
		}
		if err := s.indexStep(ctx, true); err != nil {
			t.Fatalf("indexStep(underLoad) = %v", err)
		}
		most = max(most, query(segments))
	}
	t.Logf("at most %d segments in %d steps (crisismerge %d)", most, steps, crisis)
	if limit := crisis * 3 / 4; most >= limit {
		t.Errorf("the index held %d segments under load, want fewer than %d: merging does not keep up", most, limit)
	}
	if got := query(usermerge); got != 16 {
		t.Errorf("usermerge under load = %d, want 16", got)
	}
	for s.mergeIndex() {
	}
	if got := query(usermerge); got != 4 {
		t.Errorf("usermerge once idle = %d, want 4", got)
	}
}
