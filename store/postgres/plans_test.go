package postgres_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"itemsapi/items"
	"itemsapi/store/postgres"
	"itemsapi/store/storetest"
)

// TestPagePlans shows the query plan of the keyset query of every order,
// both ways, from a cursor, on 5,000 items: each is an index scan in the
// page's direction with no sort.
func TestPagePlans(t *testing.T) {
	t.Parallel()
	u := newSchema(t)
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	open(t, u, nil) // migrates
	if _, err := conn.Exec(ctx, `INSERT INTO items (name, name_folded, created_at)
		SELECT 'item ' || g, 'ITEM ' || g, now() - g * interval '1 second' FROM generate_series(1, 5000) g`); err != nil {
		t.Fatalf("insert: %v", err)
	}
	if _, err := conn.Exec(ctx, `ANALYZE items`); err != nil {
		t.Fatalf("ANALYZE: %v", err)
	}
	cursor := &items.Position{Name: "item 2500", Time: time.Now().Add(-2500 * time.Second), ID: 2500}
	for _, o := range storetest.Orders {
		for _, last := range []bool{false, true} {
			q := items.ItemQuery{Order: o, Limit: 21, Last: last, Start: cursor}
			if last {
				q.Start, q.End = nil, cursor
			}
			query, args := postgres.PageSQL(q)
			rows, err := conn.Query(ctx, "EXPLAIN "+query, args...)
			if err != nil {
				t.Fatalf("EXPLAIN %s: %v", query, err)
			}
			plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatalf("EXPLAIN: %v", err)
			}
			got := strings.Join(plan, "\n")
			want := map[items.OrderField]string{items.ByID: "items_pkey", items.ByName: "items_name_c", items.ByUpdatedAt: "items_changed"}[o.Field]
			name := fmt.Sprintf("%s last=%v", storetest.OrderName(o), last)
			t.Logf("%s: %s\n%s", name, query, got)
			if !strings.Contains(got, "Index Scan") || !strings.Contains(got, want) || strings.Contains(got, "Sort") {
				t.Errorf("%s: plan\n%s\nwant an index scan of %s and no sort", name, got, want)
			}
		}
	}
}
