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
// both ways, from a cursor: each reads the order's index (or the table by
// its key) in the page's direction, and none sorts.
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
			rows, err := s.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
			if err != nil {
				t.Fatalf("EXPLAIN %s: %v", query, err)
			}
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			rows.Close()
			got := strings.Join(plan, "; ")
			want := map[items.OrderField]string{
				items.ByID:        "USING INTEGER PRIMARY KEY (rowid",
				items.ByName:      "USING INDEX items_name (",
				items.ByUpdatedAt: "USING INDEX items_changed (",
			}[o.Field]
			name := fmt.Sprintf("%s last=%v", storetest.OrderName(o), last)
			t.Logf("%s: %s\n  plan: %s", name, query, got)
			if !strings.Contains(got, want) || strings.Contains(got, "TEMP B-TREE") {
				t.Errorf("%s: plan %q, want a range of %q and no sort", name, got, want)
			}
		}
	}
}
