package postgres_test

import (
	"context"
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
	conn := connect(t, u)
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
			got := explainPlan(t, conn, query, args...)
			want := map[items.OrderField]string{items.ByID: "items_pkey", items.ByName: "items_name_c", items.ByUpdatedAt: "items_changed"}[o.Field]
			name := fmt.Sprintf("%s last=%v", storetest.OrderName(o), last)
			t.Logf("%s: %s\n%s", name, query, got)
			if !strings.Contains(got, "Index Scan") || !strings.Contains(got, want) || strings.Contains(got, "Sort") {
				t.Errorf("%s: plan\n%s\nwant an index scan of %s and no sort", name, got, want)
			}
		}
	}
}

// TestLogPlans shows the plans of a stamping round and of a read of the
// log under the statistics of a table that grew since it was analyzed:
// 3,000 events, all stamped, when ANALYZE ran, then 3,000 more without a
// position, which the statistics say are about one. Neither plan scans a
// whole table or index, and the round's join of the events to stamp with
// their rows is not a nested loop that reads the events to stamp again
// for each of them (a Join Filter): both cost what they stamp or read.
func TestLogPlans(t *testing.T) {
	t.Parallel()
	u := newSchema(t)
	ctx := t.Context()
	conn := connect(t, u)
	open(t, u, nil).Close() // migrates
	for _, q := range []string{
		`INSERT INTO items (name, name_folded, created_at) SELECT 'item ' || g, 'ITEM ' || g, now() FROM generate_series(1, 6000) g`,
		`INSERT INTO events (item_id, pos) SELECT id, id FROM items WHERE id BETWEEN 3 AND 3000`,
		`ANALYZE items, events`,
		`INSERT INTO events (item_id) SELECT id FROM items WHERE id > 3000`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	explain := func(settings, query string, args ...any) string {
		t.Helper()
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatalf("begin: %v", err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, settings); err != nil {
			t.Fatalf("%s: %v", settings, err)
		}
		return explainPlan(t, tx, query, args...)
	}
	stamp := explain(postgres.StampPlans, postgres.StampSQL, 10_000, "channel", "name")
	t.Logf("stamping round:\n%s", stamp)
	if strings.Contains(stamp, "Seq Scan") || strings.Contains(stamp, "Join Filter") {
		t.Errorf("stamping round: plan\n%s\nwant no sequential scan and no nested loop over the events to stamp", stamp)
	}
	read := explain(postgres.LogPlans, postgres.ReadSQL, 2990, 1000)
	t.Logf("read:\n%s", read)
	if strings.Contains(read, "Seq Scan") || strings.Contains(read, "Merge") || strings.Contains(read, "Hash") ||
		!strings.Contains(read, "events_pos") || !strings.Contains(read, "items_pkey") {
		t.Errorf("read: plan\n%s\nwant the events by events_pos and each one's item by items_pkey, no scan of a whole table or index", read)
	}
}

// explainPlan returns the plan PostgreSQL gives query with args, on q (a
// connection, or a transaction whose settings it then has), a line a node.
func explainPlan(t *testing.T, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, query string, args ...any) string {
	t.Helper()
	rows, err := q.Query(t.Context(), "EXPLAIN "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", query, err)
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("EXPLAIN: %v", err)
	}
	return strings.Join(plan, "\n")
}
