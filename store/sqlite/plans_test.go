package sqlite

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"itemsapi/items"
	"itemsapi/store/storetest"
)

// TestPagePlans shows the query plan of the keyset query of every order,
// both ways, from a cursor: in ID order it reads a range of the table by
// its key, in the page's direction, and sorts nothing; in the other
// orders, a range of the order's index table (migration 0010), in the
// page's direction, and the items above the index's watermark, a range of
// the table by its key too. It sorts those (a few items at most) and the
// merge of the two parts (two pages at most), and nothing else.
func TestPagePlans(t *testing.T) {
	s := openTest(t)
	storetest.AddItems(t, s, "a", "b", "c")
	cursor := &items.Position{Name: "b", Time: time.Now(), ID: 2}
	for _, o := range storetest.Orders {
		for _, last := range []bool{false, true} {
			q := items.ItemQuery{Order: o, Limit: 21, Last: last, Start: cursor}
			if last {
				q.Start, q.End = nil, cursor
			}
			query, args := pageSQL(q)
			got := planOf(t, s, query, args...)
			name := fmt.Sprintf("%s last=%v", storetest.OrderName(o), last)
			t.Logf("%s: %s\n  plan: %s", name, query, got)
			sorts := 0
			want := []string{"SEARCH items USING INTEGER PRIMARY KEY (rowid"}
			switch o.Field {
			case items.ByName:
				sorts = 2
				want = append(want, "SEARCH x USING PRIMARY KEY ((name,id)", "SEARCH items USING INTEGER PRIMARY KEY (rowid>?)")
			case items.ByUpdatedAt:
				sorts = 2
				want = append(want, "SEARCH x USING PRIMARY KEY ((changed,id)", "SEARCH items USING INTEGER PRIMARY KEY (rowid>?)")
			}
			for _, w := range want {
				if !strings.Contains(got, w) {
					t.Errorf("%s: plan %q, want %q", name, got, w)
				}
			}
			if n := strings.Count(got, "TEMP B-TREE"); n != sorts || strings.Contains(got, "SCAN items") || strings.Contains(got, "SCAN x") {
				t.Errorf("%s: plan %q, want a range of each table and %d sorts", name, got, sorts)
			}
		}
	}
}

// TestLogLookupPlans shows the plans of the lookups of an item's events
// (the start of a subscription) and of the reads of the log (see
// Store.events): each reads a row by its ID or a range of a table; none
// reads the whole log. The events table has no index: an update appends
// to it, where an entry in an index of every event cost a page of its own
// (migration 0011).
func TestLogLookupPlans(t *testing.T) {
	s := openTest(t)
	storetest.AddItems(t, s, "a", "b", "c")
	var indexes int
	if err := s.w.QueryRowContext(t.Context(), `SELECT count(*) FROM sqlite_schema
		WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL`).Scan(&indexes); err != nil {
		t.Fatal(err)
	}
	if indexes != 0 {
		t.Errorf("the events table has %d indexes, want none", indexes)
	}
	for _, tt := range []struct {
		name, query string
		args        []any
		want        []string
	}{
		{"eventOf added", eventOfQuery, []any{2, 1}, []string{"USING INTEGER PRIMARY KEY (rowid=?)", "SEARCH first_events USING PRIMARY KEY (item_id=? AND kind=?)"}},
		{"eventOf updated", eventOfQuery, []any{2, 2}, []string{"SEARCH first_events USING PRIMARY KEY (item_id=? AND kind=?)"}},
		{"addedUpTo", addedUpToQuery, []any{2}, []string{"USING INTEGER PRIMARY KEY (rowid<?)", "SEARCH first_events USING PRIMARY KEY (item_id<?)"}},
		{"readAdded", "SELECT id FROM items WHERE id >= ? AND added_pos IS NOT NULL ORDER BY id LIMIT ?", []any{2, 10}, []string{"USING INTEGER PRIMARY KEY (rowid>?)"}},
		{"readEvents", "SELECT pos FROM events WHERE pos > ? ORDER BY pos LIMIT ?", []any{2, 10}, []string{"USING INTEGER PRIMARY KEY (rowid>?)"}},
	} {
		got := planOf(t, s, tt.query, tt.args...)
		t.Logf("%s: %s", tt.name, got)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: plan %q, want %q", tt.name, got, w)
			}
		}
		if strings.Contains(got, "SCAN events") || strings.Contains(got, "SCAN items") {
			t.Errorf("%s: plan %q reads a whole table", tt.name, got)
		}
	}
}

// planOf returns the details of the query plan of query, joined by "; ".
func planOf(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	return strings.Join(explain(t, s.w, query, args...), "; ")
}
