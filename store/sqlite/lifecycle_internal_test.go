package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"itemsapi/items"
	"itemsapi/store/storetest"
)

// TestIndexFollowsChanges updates and deletes items on both sides of the
// trigram index's watermark: an updated name is found by its new name and
// not its old one, a deleted item by nothing, whether the item was in the
// index when it changed or was added to it later; and the pages in every
// order, whose index tables share that watermark (migration 0010), are
// those of the items sorted in Go.
func TestIndexFollowsChanges(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	root, _ := storetest.AddUser(t, s, "root", items.RoleAdmin)
	by := storetest.Caller(root, items.RoleAdmin)
	indexed := storetest.AddItems(t, s, "alpha one", "alpha two", "alpha three")
	if err := s.indexTail(ctx); err != nil {
		t.Fatalf("indexTail() = %v", err)
	}
	tail := storetest.AddItems(t, s, "alpha four", "alpha five", "alpha six")
	if s.indexed.Load() >= tail[0].ID {
		// The idle writer indexed them already: the test still checks
		// changes of indexed items.
		t.Logf("indexed up to %d, above %d", s.indexed.Load(), tail[0].ID)
	}
	for _, its := range [][]items.Item{indexed, tail} {
		if _, err := s.UpdateItem(ctx, its[0].ID, items.ItemUpdate{Name: storetest.Ptr("omega " + its[0].Name[6:]), By: by}); err != nil {
			t.Fatalf("UpdateItem() = %v", err)
		}
		if _, err := s.UpdateItem(ctx, its[1].ID, items.ItemUpdate{Description: storetest.Ptr("alpha only here"), By: by}); err != nil {
			t.Fatalf("UpdateItem() = %v", err)
		}
		if err := s.DeleteItem(ctx, its[2].ID, items.ItemDelete{By: by}); err != nil {
			t.Fatalf("DeleteItem() = %v", err)
		}
	}
	check := func(when string) {
		t.Helper()
		for _, tt := range []struct {
			search string
			want   []string
		}{
			{"alpha", []string{"alpha two", "alpha five"}},
			{"alp", []string{"alpha two", "alpha five"}},
			{"al", []string{"alpha two", "alpha five"}},
			{"omega", []string{"omega one", "omega four"}},
			{"ega o", []string{"omega one"}},
			{"three", nil},
			{"six", nil},
			{"only here", nil},
		} {
			page, err := s.Items(ctx, items.ItemQuery{Search: tt.search, Limit: items.MaxPageSize + 1})
			if err != nil {
				t.Fatalf("Items(%q) = %v", tt.search, err)
			}
			if diff := cmp.Diff(tt.want, storetest.Names(page), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s: Items(Search %q) mismatch (-want +got):\n%s", when, tt.search, diff)
			}
			if n, err := s.CountItems(ctx, tt.search); err != nil || n != len(tt.want) {
				t.Errorf("%s: CountItems(%q) = %d, %v, want %d", when, tt.search, n, err, len(tt.want))
			}
		}
	}
	check("half indexed")
	checkOrders(t, s, "half indexed")
	if err := s.indexTail(ctx); err != nil {
		t.Fatalf("indexTail() = %v", err)
	}
	check("all indexed")
	checkOrders(t, s, "all indexed")
	for s.mergeIndex() {
	}
	check("merged")
	// Changes of items now indexed, in every order's index table.
	if _, err := s.UpdateItem(ctx, tail[1].ID, items.ItemUpdate{Name: storetest.Ptr("aardvark"), By: by}); err != nil {
		t.Fatalf("UpdateItem() = %v", err)
	}
	if err := s.DeleteItem(ctx, indexed[1].ID, items.ItemDelete{By: by}); err != nil {
		t.Fatalf("DeleteItem() = %v", err)
	}
	checkOrders(t, s, "changed after indexing")
}

// TestMigrationFrom0008 migrates a database of schema 0008, in which every
// addition is a row of the events table, to 0009 (and on through 0011,
// which keeps the oldest event of each item and kind apart): each item
// gets the position of its addition, and every subscription starts where it
// started before, whatever the item went through (added only, updated,
// deleted, updated then deleted; the demo items, logged at their IDs), and
// the log reads the same. Then the migrated store goes on: an update
// copies the right addition, and new additions take the next positions.
func TestMigrationFrom0008(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "items.db")
	s := openAt(t, path)
	root, _ := storetest.AddUser(t, s, "root", items.RoleAdmin)
	by := storetest.Caller(root, items.RoleAdmin)
	added := storetest.AddItems(t, s, "a", "b", "c", "d", "e", "f")
	if _, err := s.UpdateItem(ctx, added[1].ID, items.ItemUpdate{Name: storetest.Ptr("b2"), By: by}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteItem(ctx, added[2].ID, items.ItemDelete{By: by}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateItem(ctx, added[3].ID, items.ItemUpdate{Name: storetest.Ptr("d2"), By: by}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteItem(ctx, added[3].ID, items.ItemDelete{By: by}); err != nil {
		t.Fatal(err)
	}
	g := storetest.AddItems(t, s, "g")[0]
	last := g.ID + 1 // one ID above every ID given
	type start struct {
		kind items.EventKind
		id   int64
	}
	// A start: its position, and whether the ID is above every ID.
	type at struct {
		Pos   int64
		Above bool
	}
	positions := func(s *Store) map[start]at {
		t.Helper()
		m := map[start]at{}
		for _, kind := range []items.EventKind{items.ItemAdded, items.ItemUpdated, items.ItemDeleted} {
			for id := int64(0); id <= last; id++ {
				pos, above, err := s.position(ctx, kind, id)
				if err != nil {
					t.Fatalf("position(%v, %d) = %v", kind, id, err)
				}
				m[start{kind, id}] = at{pos, above}
			}
		}
		return m
	}
	wantPos := positions(s)
	wantAdded := addedPositions(t, s)
	if len(wantAdded) != len(items.DemoItems)+5 {
		t.Fatalf("items with positions: %v", wantAdded)
	}
	wantLog, err := s.events(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Back to 0008 (from 0011, then from 0009, and from 0010 below), by
	// hand rather than with CreateAtVersion: the data is the store's own,
	// so that the answers after the migration are compared with its
	// answers before. Migrations after 0011 run again on reopening; one
	// that cannot run twice must be undone here too.
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"DROP TRIGGER events_first", "DROP TABLE first_events", "CREATE INDEX events_item ON events (item_id, kind, pos)",
		// An addition of an item not changed since, as 0006 logged it.
		"INSERT INTO events (pos, kind, item_id) SELECT added_pos, 1, id FROM items WHERE version = 1",
		"ALTER TABLE items DROP COLUMN added_pos", "PRAGMA user_version = 8",
		// Back from 0010.
		"DROP TRIGGER items_order_delete", "DROP TRIGGER items_by_name_update", "DROP TRIGGER items_by_changed_update",
		"DROP TABLE items_by_name", "DROP TABLE items_by_changed",
		"CREATE INDEX items_name ON items (name, id)", "CREATE INDEX items_changed ON items (coalesce(updated_at, created_at), id)",
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path)
	if diff := cmp.Diff(wantAdded, addedPositions(t, s)); diff != "" {
		t.Errorf("items.added_pos after the migration (-before +after):\n%s", diff)
	}
	checkOrders(t, s, "after the migration")
	if diff := cmp.Diff(wantPos, positions(s)); diff != "" {
		t.Errorf("subscription starts after the migration (-before +after):\n%s", diff)
	}
	gotLog, err := s.events(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantLog, gotLog); diff != "" {
		t.Errorf("log after the migration (-before +after):\n%s", diff)
	}

	// The first change of an item added before the migration keeps it as
	// added; the next additions follow the log.
	if _, err := s.UpdateItem(ctx, added[4].ID, items.ItemUpdate{Name: storetest.Ptr("e2"), By: by}); err != nil {
		t.Fatal(err)
	}
	more := storetest.AddItems(t, s, "h", "i")
	log, err := s.events(ctx, wantLog[len(wantLog)-1].Pos-1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range log {
		got = append(got, fmt.Sprintf("%d %v %d %s", e.Pos, e.Kind, e.Item.ID, e.Item.Name))
	}
	p := wantLog[len(wantLog)-1].Pos
	want := []string{
		fmt.Sprintf("%d %v %d g", p, items.ItemAdded, g.ID),
		fmt.Sprintf("%d %v %d e2", p+1, items.ItemUpdated, added[4].ID),
		fmt.Sprintf("%d %v %d h", p+2, items.ItemAdded, more[0].ID),
		fmt.Sprintf("%d %v %d i", p+3, items.ItemAdded, more[1].ID),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log after the migration and more changes (-want +got):\n%s", diff)
	}
	e, err := s.events(ctx, s.mustPosition(t, items.ItemAdded, added[4].ID)-1, 1)
	if err != nil || len(e) != 1 || e[0].Item.Name != "e" || e[0].Kind != items.ItemAdded {
		t.Errorf("the addition of %d after its update: %+v, %v; want it as added", added[4].ID, e, err)
	}
	if pos := s.mustPosition(t, items.ItemAdded, more[1].ID); pos != p+3 {
		t.Errorf("position(added, %d) = %d, want %d", more[1].ID, pos, p+3)
	}
}

func (s *Store) mustPosition(t *testing.T, kind items.EventKind, id int64) int64 {
	t.Helper()
	pos, _, err := s.position(t.Context(), kind, id)
	if err != nil {
		t.Fatalf("position(%v, %d) = %v", kind, id, err)
	}
	return pos
}

// addedPositions returns the position of the addition of each item.
func addedPositions(t *testing.T, s *Store) map[int64]int64 {
	t.Helper()
	rows, err := s.w.QueryContext(t.Context(), `SELECT id, added_pos FROM items`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := map[int64]int64{}
	for rows.Next() {
		var id, pos int64
		if err := rows.Scan(&id, &pos); err != nil {
			t.Fatal(err)
		}
		m[id] = pos
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestLogReads reads a log of additions, updates and deletions, in
// batches that mix them, from every position and in pages of every size:
// the log is every position from the first to the head, once each, in
// order, each event as the writer published it, and paging through it
// from anywhere reads the rest of it exactly.
func TestLogReads(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	root, _ := storetest.AddUser(t, s, "root", items.RoleAdmin)
	by := storetest.Caller(root, items.RoleAdmin)
	ids := storetest.AddItems(t, s, "a", "b", "c", "d", "e", "f", "g", "h")
	var batch []*addRequest
	add := func(name string) {
		batch = append(batch, newBenchRequest(s, items.Item{Name: name}))
	}
	update := func(id int64, name string) {
		r := newBenchRequest(s, items.Item{})
		r.op, r.id, r.update = opUpdate, id, items.ItemUpdate{Name: storetest.Ptr(name), By: by}
		batch = append(batch, r)
	}
	del := func(id int64) {
		r := newBenchRequest(s, items.Item{})
		r.op, r.id, r.del = opDelete, id, items.ItemDelete{By: by}
		batch = append(batch, r)
	}
	flush := func() {
		s.writeBatch(batch)
		for _, r := range batch {
			if res := <-r.done; res.err != nil {
				t.Fatalf("op %v: %v", r.op, res.err)
			}
		}
		batch = nil
	}
	update(ids[0].ID, "a2")
	add("i")
	add("j")
	del(ids[1].ID)
	add("k")
	update(ids[0].ID, "a3")
	flush()
	del(ids[0].ID)
	update(ids[2].ID, "c2")
	update(ids[2].ID, "c3")
	flush()
	for range 3 {
		add("l")
	}
	flush()
	update(ids[7].ID, "h2")
	del(ids[6].ID)
	flush()

	var head int64
	if err := s.w.QueryRowContext(ctx, logHeadQuery).Scan(&head); err != nil {
		t.Fatal(err)
	}
	all, err := s.events(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(all)) != head {
		t.Fatalf("read %d events, want the head's position, %d", len(all), head)
	}
	for i, e := range all {
		if e.Pos != int64(i+1) {
			t.Fatalf("event %d at position %d, want %d", i, e.Pos, i+1)
		}
	}
	// What the writer published, which the log holds in memory (the demo
	// items' additions, from before it opened, it reads from the store).
	var published []items.Event
	for pos := int64(0); pos < head; {
		events, err := s.log.Read(ctx, pos, nil)
		if err != nil || len(events) == 0 {
			t.Fatalf("log.Read(%d) = %d events, %v", pos, len(events), err)
		}
		published = append(published, events...)
		pos = events[len(events)-1].Pos
	}
	if diff := cmp.Diff(published, all); diff != "" {
		t.Errorf("the log read from the store differs from the one published (-published +read):\n%s", diff)
	}
	for after := int64(0); after <= head; after++ {
		for _, limit := range []int{1, 2, 3, 5, 16} {
			var got []items.Event
			for pos := after; ; {
				page, err := s.events(ctx, pos, limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > limit {
					t.Fatalf("events(%d, %d) = %d events", pos, limit, len(page))
				}
				if len(page) == 0 {
					break
				}
				got = append(got, page...)
				pos = page[len(page)-1].Pos
			}
			if diff := cmp.Diff(all[after:], got, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("paging from %d by %d (-want +got):\n%s", after, limit, diff)
			}
		}
	}
}

// checkOrders checks the pages of s in every order, both ways, in pages
// of 2, against its items sorted in Go.
func checkOrders(t *testing.T, s *Store, when string) {
	t.Helper()
	all := storetest.ReadAll(t, s, "", items.MaxPageSize)
	for _, o := range storetest.Orders {
		want := storetest.Sorted(all, o)
		for _, last := range []bool{false, true} {
			got := storetest.Walk(t, s, items.ItemQuery{Order: o}, 2, last)
			if diff := cmp.Diff(storetest.IDs(want), storetest.IDs(got)); diff != "" {
				t.Errorf("%s: %s last=%v (-want +got):\n%s", when, storetest.OrderName(o), last, diff)
			}
		}
	}
}
