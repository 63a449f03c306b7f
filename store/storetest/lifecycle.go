package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"itemsapi/items"
)

// runLifecycle checks UpdateItem and DeleteItem: what they change, the
// order of their checks, and that every read after them (by ID, pages,
// searches, counts) shows the change.
func runLifecycle(t *testing.T, newStore func(t *testing.T) items.Store) {
	runCases(t, newStore, []storeCase{
		{"UpdateItem", testUpdateItem},
		{"UpdateChecks", testUpdateChecks},
		{"DeleteItem", testDeleteItem},
		{"DeleteChecks", testDeleteChecks},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ConcurrentDeletes", testConcurrentDeletes},
		{"Orders", testOrders},
		{"SearchBothWays", testSearchBothWays},
		{"ForgedPositions", testForgedPositions},
		{"LegacyNames", testLegacyNames},
	})
}

// Caller returns the caller that u is with role.
func Caller(u items.User, role items.Role) items.Caller { return items.Caller{User: u, Role: role} }

// ReadAll returns every item of s that search matches (all when empty),
// in ID order, read through pages of n, each after the last ID of the
// one before.
func ReadAll(t testing.TB, s items.Store, search string, n int) []items.Item {
	t.Helper()
	var all []items.Item
	after := int64(0)
	for {
		page, err := s.Items(t.Context(), items.ItemQuery{Search: search, After: after, Limit: n})
		if err != nil {
			t.Fatalf("Items(Search %q, After %d) = %v", search, after, err)
		}
		all = append(all, page...)
		if len(page) < n {
			return all
		}
		after = page[len(page)-1].ID
	}
}

// checkReads checks that every read of s agrees with want, the items s
// holds in ID order: by ID, pages of every size, searches and counts.
func checkReads(t testing.TB, s items.Store, want []items.Item, gone []int64, searches ...string) {
	t.Helper()
	ctx := t.Context()
	for _, w := range want {
		got, err := s.Item(ctx, w.ID)
		if err != nil {
			t.Errorf("Item(%d) = %v", w.ID, err)
		} else if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("Item(%d) mismatch (-want +got):\n%s", w.ID, diff)
		}
	}
	for _, id := range gone {
		if got, err := s.Item(ctx, id); items.ErrorCode(err) != items.NotFound {
			t.Errorf("Item(%d) of a deleted item = %v, %v, want code NotFound", id, got, err)
		}
	}
	for _, n := range []int{1, 2, 3, items.MaxPageSize + 1} {
		if diff := cmp.Diff(want, ReadAll(t, s, "", n)); diff != "" {
			t.Errorf("Items() in pages of %d mismatch (-want +got):\n%s", n, diff)
		}
	}
	if got, err := s.CountItems(ctx, ""); err != nil || got != len(want) {
		t.Errorf(`CountItems("") = %d, %v, want %d`, got, err, len(want))
	}
	for _, q := range searches {
		var match []items.Item
		for _, it := range want {
			if containsFolded(it.Name, q) {
				match = append(match, it)
			}
		}
		for _, n := range []int{1, items.MaxPageSize + 1} {
			if diff := cmp.Diff(Names(match), Names(ReadAll(t, s, q, n))); diff != "" {
				t.Errorf("Items(Search %q) in pages of %d mismatch (-want +got):\n%s", q, n, diff)
			}
		}
		if got, err := s.CountItems(ctx, q); err != nil || got != len(match) {
			t.Errorf("CountItems(%q) = %d, %v, want %d", q, got, err, len(match))
		}
	}
}

func containsFolded(name, q string) bool {
	return q == "" || len(q) <= len(name) && contains(items.FoldString(name), items.FoldString(q))
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func testUpdateItem(t *testing.T, s items.Store) {
	ctx := t.Context()
	alice, _ := AddUser(t, s, "alice", items.RoleUser)
	added, err := s.AddItem(ctx, items.NewItem{Name: "Cherry tomato", Description: Ptr("red"), CreatedByID: alice.ID})
	if err != nil {
		t.Fatalf("AddItem() = %v", err)
	}
	other := AddItems(t, s, "Walnut")[0]
	demo, err := s.Item(ctx, 1)
	if err != nil {
		t.Fatalf("Item(1) = %v", err)
	}
	// Read everything once, so that caches hold the old state.
	checkReads(t, s, []items.Item{demo, mustItem(t, s, 2), added, other}, nil, "cherry", "tom", "grape")

	by := Caller(alice, items.RoleUser)
	steps := []struct {
		name string
		u    items.ItemUpdate
		want func(it items.Item) items.Item
	}{
		{"name", items.ItemUpdate{Name: Ptr("  Grape  "), By: by}, func(it items.Item) items.Item { it.Name = "Grape"; return it }},
		{"description", items.ItemUpdate{Description: Ptr("green"), ExpectedVersion: Ptr(2), By: by}, func(it items.Item) items.Item { it.Description = Ptr("green"); return it }},
		{"clear description", items.ItemUpdate{ClearDescription: true, By: by}, func(it items.Item) items.Item { it.Description = nil; return it }},
		{"both", items.ItemUpdate{Name: Ptr("Cherry again"), Description: Ptr(""), ExpectedVersion: Ptr(4), By: by}, func(it items.Item) items.Item {
			it.Name, it.Description = "Cherry again", Ptr("")
			return it
		}},
	}
	cur := added
	for _, st := range steps {
		before := time.Now().UTC().Truncate(time.Microsecond)
		got, err := s.UpdateItem(ctx, added.ID, st.u)
		if err != nil {
			t.Fatalf("%s: UpdateItem() = %v", st.name, err)
		}
		if got.UpdatedAt == nil || got.UpdatedAt.Before(before) || got.UpdatedAt.Location() != time.UTC {
			t.Errorf("%s: UpdatedAt = %v, want a UTC time from %v on", st.name, got.UpdatedAt, before)
		}
		want := st.want(cur)
		want.Version = cur.Version + 1
		want.UpdatedAt = got.UpdatedAt
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%s: UpdateItem() mismatch (-want +got):\n%s", st.name, diff)
		}
		cur = got
		checkReads(t, s, []items.Item{demo, mustItem(t, s, 2), cur, other}, nil, "cherry", "tom", "grape", "again", "wal")
	}
	// An ADMIN may change any item, the demo items too.
	root, _ := AddUser(t, s, "root", items.RoleAdmin)
	demo2, err := s.UpdateItem(ctx, demo.ID, items.ItemUpdate{Name: Ptr("Apple pie"), By: Caller(root, items.RoleAdmin)})
	if err != nil || demo2.Name != "Apple pie" || demo2.Version != 2 {
		t.Fatalf("UpdateItem(demo, by an ADMIN) = %v, %v, want Apple pie at version 2", demo2, err)
	}
	checkReads(t, s, []items.Item{demo2, mustItem(t, s, 2), cur, other}, nil, "apple", "pie", "cherry")
}

func mustItem(t testing.TB, s items.Store, id int64) items.Item {
	t.Helper()
	it, err := s.Item(t.Context(), id)
	if err != nil {
		t.Fatalf("Item(%d) = %v", id, err)
	}
	return it
}

func testUpdateChecks(t *testing.T, s items.Store) {
	ctx := t.Context()
	alice, _ := AddUser(t, s, "alice", items.RoleUser)
	bob, _ := AddUser(t, s, "bob", items.RoleUser)
	mine, err := s.AddItem(ctx, items.NewItem{Name: "Mine", CreatedByID: alice.ID})
	if err != nil {
		t.Fatalf("AddItem() = %v", err)
	}
	gone, err := s.AddItem(ctx, items.NewItem{Name: "Gone", CreatedByID: alice.ID})
	if err != nil {
		t.Fatalf("AddItem() = %v", err)
	}
	if err := s.DeleteItem(ctx, gone.ID, items.ItemDelete{By: Caller(alice, items.RoleUser)}); err != nil {
		t.Fatalf("DeleteItem() = %v", err)
	}
	a, b := Caller(alice, items.RoleUser), Caller(bob, items.RoleUser)
	tests := []struct {
		name string
		id   int64
		u    items.ItemUpdate
		want items.Code
	}{
		{"unknown id, bad input, stale", 1 << 40, items.ItemUpdate{Name: Ptr(""), ExpectedVersion: Ptr(9), By: b}, items.Invalid},
		{"deleted id", gone.ID, items.ItemUpdate{Name: Ptr("x"), By: a}, items.Invalid},
		{"another user's item, bad input, stale", mine.ID, items.ItemUpdate{Name: Ptr(""), ExpectedVersion: Ptr(9), By: b}, items.Forbidden},
		{"demo item by a USER", 1, items.ItemUpdate{Name: Ptr("x"), By: a}, items.Forbidden},
		{"bad input, stale", mine.ID, items.ItemUpdate{Name: Ptr(" \t"), ExpectedVersion: Ptr(9), By: a}, items.Invalid},
		{"nothing to change", mine.ID, items.ItemUpdate{ExpectedVersion: Ptr(1), By: a}, items.Invalid},
		{"control character", mine.ID, items.ItemUpdate{Name: Ptr("a\x00b"), By: a}, items.Invalid},
		{"bidi control", mine.ID, items.ItemUpdate{Name: Ptr("a\u202Eb"), By: a}, items.Invalid},
		{"long description", mine.ID, items.ItemUpdate{Description: Ptr(longString("d", items.MaxDescriptionLength+1)), By: a}, items.Invalid},
		{"stale", mine.ID, items.ItemUpdate{Name: Ptr("New"), ExpectedVersion: Ptr(2), By: a}, items.Conflict},
		{"stale, below", mine.ID, items.ItemUpdate{Name: Ptr("New"), ExpectedVersion: Ptr(0), By: a}, items.Conflict},
	}
	for _, tt := range tests {
		got, err := s.UpdateItem(ctx, tt.id, tt.u)
		if code := items.ErrorCode(err); code != tt.want {
			t.Errorf("%s: UpdateItem(%d) = %v, %v (code %q), want code %q", tt.name, tt.id, got, err, code, tt.want)
		}
	}
	if got := mustItem(t, s, mine.ID); got.Version != 1 || got.Name != "Mine" || got.UpdatedAt != nil {
		t.Errorf("after refused updates Item(%d) = %+v, want it unchanged", mine.ID, got)
	}
	if _, err := s.UpdateItem(ctx, mine.ID, items.ItemUpdate{Name: Ptr("New"), ExpectedVersion: Ptr(1), By: a}); err != nil {
		t.Errorf("UpdateItem(expected version 1) = %v", err)
	}
}

// testLegacyNames updates items whose names a database of the first
// version may hold, which today's rules refuse (added here as such a
// database holds them, past the validation of addItem): an update that
// leaves the name leaves it byte for byte, whatever it is; one that sets
// it checks what it sets.
func testLegacyNames(t *testing.T, s items.Store) {
	ctx := t.Context()
	root, _ := AddUser(t, s, "root", items.RoleAdmin)
	by := Caller(root, items.RoleAdmin)
	for _, name := range []string{"a\u202Eb", "e\u0301 not NFC", "\u200B", "x\u2028y"} {
		it := AddItems(t, s, name)[0]
		got, err := s.UpdateItem(ctx, it.ID, items.ItemUpdate{Description: Ptr("described"), By: by})
		if err != nil || got.Name != name || got.Version != 2 {
			t.Errorf("UpdateItem(%q, description only) = %q version %d, %v; want the name as it was, version 2", name, got.Name, got.Version, err)
		}
		if _, err := s.UpdateItem(ctx, it.ID, items.ItemUpdate{Name: Ptr(name + "\u202E"), By: by}); items.ErrorCode(err) != items.Invalid {
			t.Errorf("UpdateItem(%q, a name with a bidirectional control) = %v, want code Invalid", name, err)
		}
		if got, err := s.UpdateItem(ctx, it.ID, items.ItemUpdate{Name: Ptr("Renamed"), ClearDescription: true, By: by}); err != nil || got.Name != "Renamed" || got.Description != nil {
			t.Errorf("UpdateItem(%q, renamed) = %+v, %v", name, got, err)
		}
	}
}

func testDeleteItem(t *testing.T, s items.Store) {
	ctx := t.Context()
	alice, _ := AddUser(t, s, "alice", items.RoleUser)
	a := Caller(alice, items.RoleUser)
	var its []items.Item
	for _, name := range []string{"Cherry", "Damson", "Cherry plum"} {
		it, err := s.AddItem(ctx, items.NewItem{Name: name, CreatedByID: alice.ID})
		if err != nil {
			t.Fatalf("AddItem() = %v", err)
		}
		its = append(its, it)
	}
	all := append([]items.Item{mustItem(t, s, 1), mustItem(t, s, 2)}, its...)
	checkReads(t, s, all, nil, "cherry", "plum", "dam")

	// The middle one, then the last, which holds the greatest ID.
	if err := s.DeleteItem(ctx, its[1].ID, items.ItemDelete{ExpectedVersion: Ptr(1), By: a}); err != nil {
		t.Fatalf("DeleteItem(%d) = %v", its[1].ID, err)
	}
	all = slices.Delete(all, 3, 4)
	checkReads(t, s, all, []int64{its[1].ID}, "cherry", "plum", "dam")
	if err := s.DeleteItem(ctx, its[2].ID, items.ItemDelete{By: a}); err != nil {
		t.Fatalf("DeleteItem(%d) = %v", its[2].ID, err)
	}
	all = all[:len(all)-1]
	checkReads(t, s, all, []int64{its[1].ID, its[2].ID}, "cherry", "plum", "dam")

	// IDs are never reused.
	next := AddItems(t, s, "Elderberry")[0]
	if next.ID <= its[2].ID {
		t.Errorf("AddItem() after deletes: ID %d, want above %d", next.ID, its[2].ID)
	}
	all = append(all, next)
	checkReads(t, s, all, []int64{its[1].ID, its[2].ID}, "cherry", "elder")
}

func testDeleteChecks(t *testing.T, s items.Store) {
	ctx := t.Context()
	alice, _ := AddUser(t, s, "alice", items.RoleUser)
	bob, _ := AddUser(t, s, "bob", items.RoleUser)
	root, _ := AddUser(t, s, "root", items.RoleAdmin)
	mine, err := s.AddItem(ctx, items.NewItem{Name: "Mine", CreatedByID: alice.ID})
	if err != nil {
		t.Fatalf("AddItem() = %v", err)
	}
	a, b, r := Caller(alice, items.RoleUser), Caller(bob, items.RoleUser), Caller(root, items.RoleAdmin)
	tests := []struct {
		name string
		id   int64
		d    items.ItemDelete
		want items.Code
	}{
		{"unknown id", 1 << 40, items.ItemDelete{ExpectedVersion: Ptr(5), By: r}, items.Invalid},
		{"another user's item, stale", mine.ID, items.ItemDelete{ExpectedVersion: Ptr(5), By: b}, items.Forbidden},
		{"demo item by a USER", 2, items.ItemDelete{By: a}, items.Forbidden},
		{"stale", mine.ID, items.ItemDelete{ExpectedVersion: Ptr(2), By: a}, items.Conflict},
		{"own item", mine.ID, items.ItemDelete{ExpectedVersion: Ptr(1), By: a}, ""},
		{"again", mine.ID, items.ItemDelete{By: a}, items.Invalid},
		{"demo item by an ADMIN", 2, items.ItemDelete{By: r}, ""},
	}
	for _, tt := range tests {
		err := s.DeleteItem(ctx, tt.id, tt.d)
		if code := items.ErrorCode(err); code != tt.want {
			t.Errorf("%s: DeleteItem(%d) = %v (code %q), want code %q", tt.name, tt.id, err, code, tt.want)
		}
	}
	checkReads(t, s, []items.Item{mustItem(t, s, 1)}, []int64{2, mine.ID}, "a")
}

// testConcurrentUpdates runs rounds of concurrent updates of one item
// that all expect the version it is at: in each round exactly one
// succeeds and the others fail with Conflict.
func testConcurrentUpdates(t *testing.T, s items.Store) {
	root, _ := AddUser(t, s, "root", items.RoleAdmin)
	it := AddItems(t, s, "Counter")[0]
	RaceUpdates(t, []items.Store{s}, it.ID, Caller(root, items.RoleAdmin), 3, 34)
}

// RaceUpdates runs rounds of attempts concurrent updates of the item with
// that ID, spread over stores, which all expect the version it is at: in
// each round exactly one must succeed and the others fail with Conflict.
func RaceUpdates(t testing.TB, stores []items.Store, id int64, by items.Caller, rounds, attempts int) {
	t.Helper()
	ctx := t.Context()
	for round := range rounds {
		version := mustItem(t, stores[0], id).Version
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			wins  int
			start = make(chan struct{})
		)
		for i := range attempts {
			wg.Go(func() {
				<-start
				u := items.ItemUpdate{Name: Ptr(fmt.Sprintf("round %d attempt %d", round, i)), ExpectedVersion: Ptr(version), By: by}
				got, err := stores[i%len(stores)].UpdateItem(ctx, id, u)
				switch items.ErrorCode(err) {
				case "":
					mu.Lock()
					wins++
					mu.Unlock()
					if got.Version != version+1 {
						t.Errorf("UpdateItem(expected %d) = version %d, want %d", version, got.Version, version+1)
					}
				case items.Conflict:
				default:
					t.Errorf("UpdateItem() = %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins != 1 {
			t.Errorf("round %d: %d of %d updates expecting version %d succeeded, want 1", round, wins, attempts, version)
		}
		for _, s := range stores {
			if got := mustItem(t, s, id); got.Version != version+1 {
				t.Errorf("round %d: Item(%d).Version = %d, want %d", round, id, got.Version, version+1)
			}
		}
	}
}

// testConcurrentDeletes deletes and updates one item 100 times at once:
// the item is as the one change that won left it, and the log holds that
// change alone.
func testConcurrentDeletes(t *testing.T, s items.Store) {
	ctx := t.Context()
	root, _ := AddUser(t, s, "root", items.RoleAdmin)
	by := Caller(root, items.RoleAdmin)
	it := AddItems(t, s, "doomed")[0]
	deleted := RaceDeletes(t, []items.Store{s}, it.ID, by)
	got, err := s.Item(ctx, it.ID)
	if deleted && items.ErrorCode(err) != items.NotFound || !deleted && (err != nil || got.Version != 2) {
		t.Errorf("Item(%d) after the changes (deleted: %v) = %+v, %v", it.ID, deleted, got, err)
	}
	b, ok := s.(items.Broker)
	if !ok {
		return
	}
	// The one deletion, if it won, then a later one: nothing between.
	sub := follow(t, b, items.ItemDeleted, 0)
	last := AddItems(t, s, "last")[0]
	if err := s.DeleteItem(ctx, last.ID, items.ItemDelete{By: by}); err != nil {
		t.Fatalf("DeleteItem() = %v", err)
	}
	want := []int64{last.ID}
	if deleted {
		want = []int64{it.ID, last.ID}
	}
	if diff := cmp.Diff(want, IDs(Receive(t, sub, len(want)))); diff != "" {
		t.Errorf("deletions in the log mismatch (-want +got):\n%s", diff)
	}
}

// RaceDeletes makes 100 changes at once of the item with that ID, which
// is at version 1, spread over stores, all expecting version 1: a third
// updates, the others delete. Exactly one wins; the others find no item
// (Invalid) or a stale version (Conflict). It reports whether a deletion
// won.
func RaceDeletes(t testing.TB, stores []items.Store, id int64, by items.Caller) (deleted bool) {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  int
		start = make(chan struct{})
	)
	for i := range 100 {
		wg.Go(func() {
			<-start
			s := stores[i%len(stores)]
			var err error
			if i%3 == 0 {
				_, err = s.UpdateItem(t.Context(), id, items.ItemUpdate{Name: Ptr("x"), ExpectedVersion: Ptr(1), By: by})
			} else {
				err = s.DeleteItem(t.Context(), id, items.ItemDelete{ExpectedVersion: Ptr(1), By: by})
			}
			switch items.ErrorCode(err) {
			case "":
				mu.Lock()
				wins++
				deleted = i%3 != 0
				mu.Unlock()
			case items.Conflict, items.Invalid:
			default:
				t.Errorf("attempt %d = %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d of 100 changes expecting version 1 succeeded, want 1", wins)
	}
	return deleted
}

// follow subscribes to the events of kind after afterItem.
func follow(t testing.TB, b items.Broker, kind items.EventKind, afterItem int64) *items.Subscription {
	t.Helper()
	sub, err := b.Follow(t.Context(), kind, afterItem)
	if err != nil {
		t.Fatalf("Follow(%v, %d) = %v", kind, afterItem, err)
	}
	return sub
}

// testBrokerLifecycle checks that each kind of subscription gets the
// events of its kind, in order: the items as updated, the IDs deleted.
func testBrokerLifecycle(t *testing.T, s items.Store, b items.Broker) {
	ctx := t.Context()
	root, _ := AddUser(t, s, "root", items.RoleAdmin)
	r := Caller(root, items.RoleAdmin)
	added, updated, deleted := follow(t, b, items.ItemAdded, items.FromNow), follow(t, b, items.ItemUpdated, items.FromNow), follow(t, b, items.ItemDeleted, items.FromNow)
	its := AddItems(t, s, "One", "Two", "Three")
	var wantUpdated []items.Item
	for i, it := range its {
		up, err := s.UpdateItem(ctx, it.ID, items.ItemUpdate{Name: Ptr(it.Name + " changed"), Description: Ptr(fmt.Sprint(i)), By: r})
		if err != nil {
			t.Fatalf("UpdateItem() = %v", err)
		}
		wantUpdated = append(wantUpdated, up)
	}
	up, err := s.UpdateItem(ctx, its[0].ID, items.ItemUpdate{ClearDescription: true, By: r})
	if err != nil {
		t.Fatalf("UpdateItem() = %v", err)
	}
	wantUpdated = append(wantUpdated, up)
	for _, it := range []items.Item{its[1], its[0]} {
		if err := s.DeleteItem(ctx, it.ID, items.ItemDelete{By: r}); err != nil {
			t.Fatalf("DeleteItem() = %v", err)
		}
	}
	if diff := cmp.Diff(its, Receive(t, added, len(its))); diff != "" {
		t.Errorf("added items mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantUpdated, Receive(t, updated, len(wantUpdated))); diff != "" {
		t.Errorf("updated items mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{its[1].ID, its[0].ID}, IDs(Receive(t, deleted, 2))); diff != "" {
		t.Errorf("deleted IDs mismatch (-want +got):\n%s", diff)
	}
	// A refused change publishes nothing: the next events are these.
	if _, err := s.UpdateItem(ctx, its[2].ID, items.ItemUpdate{Name: Ptr("x"), ExpectedVersion: Ptr(1), By: r}); items.ErrorCode(err) != items.Conflict {
		t.Errorf("UpdateItem(stale) = %v, want code Conflict", err)
	}
	if err := s.DeleteItem(ctx, its[0].ID, items.ItemDelete{By: r}); items.ErrorCode(err) != items.Invalid {
		t.Errorf("DeleteItem(deleted) = %v, want code Invalid", err)
	}
	last, err := s.UpdateItem(ctx, its[2].ID, items.ItemUpdate{Name: Ptr("last"), By: r})
	if err != nil {
		t.Fatalf("UpdateItem() = %v", err)
	}
	if err := s.DeleteItem(ctx, its[2].ID, items.ItemDelete{By: r}); err != nil {
		t.Fatalf("DeleteItem() = %v", err)
	}
	if diff := cmp.Diff([]items.Item{last}, Receive(t, updated, 1)); diff != "" {
		t.Errorf("updated items mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{its[2].ID}, IDs(Receive(t, deleted, 1))); diff != "" {
		t.Errorf("deleted IDs mismatch (-want +got):\n%s", diff)
	}
}

// testBrokerLifecycleResume checks after: for updates and deletions: the
// events after the oldest of that kind of the item named come first, from
// the store, then the later ones. A client that received an update of A,
// then lost its socket while B and A were updated again, resumes after A
// and misses neither.
func testBrokerLifecycleResume(t *testing.T, s items.Store, b items.Broker) {
	ctx := t.Context()
	root, _ := AddUser(t, s, "root", items.RoleAdmin)
	r := Caller(root, items.RoleAdmin)
	its := AddItems(t, s, "A", "B", "C", "D")
	update := func(it items.Item, name string) items.Item {
		t.Helper()
		up, err := s.UpdateItem(ctx, it.ID, items.ItemUpdate{Name: Ptr(name), By: r})
		if err != nil {
			t.Fatalf("UpdateItem() = %v", err)
		}
		return up
	}
	del := func(it items.Item) {
		t.Helper()
		if err := s.DeleteItem(ctx, it.ID, items.ItemDelete{By: r}); err != nil {
			t.Fatalf("DeleteItem() = %v", err)
		}
	}
	a1 := update(its[0], "A1")
	b1 := update(its[1], "B1")
	del(its[2])
	a2 := update(a1, "A2")
	del(its[3])
	c1 := update(b1, "B2")

	// After A's first update: B1, A2 (again, for a client that received
	// it) and B2; after B's: A2 and B2.
	sub := follow(t, b, items.ItemUpdated, its[0].ID)
	if diff := cmp.Diff([]items.Item{b1, a2, c1}, Receive(t, sub, 3)); diff != "" {
		t.Errorf("Follow(updated, after %d) mismatch (-want +got):\n%s", its[0].ID, diff)
	}
	sub = follow(t, b, items.ItemUpdated, its[1].ID)
	if diff := cmp.Diff([]items.Item{a2, c1}, Receive(t, sub, 2)); diff != "" {
		t.Errorf("Follow(updated, after %d) mismatch (-want +got):\n%s", its[1].ID, diff)
	}
	// After an item never updated: the updates after its addition.
	sub = follow(t, b, items.ItemUpdated, its[3].ID)
	if diff := cmp.Diff([]items.Item{a1, b1, a2, c1}, Receive(t, sub, 4)); diff != "" {
		t.Errorf("Follow(updated, after %d) mismatch (-want +got):\n%s", its[3].ID, diff)
	}
	// After 0: every update.
	sub = follow(t, b, items.ItemUpdated, 0)
	if diff := cmp.Diff([]items.Item{a1, b1, a2, c1}, Receive(t, sub, 4)); diff != "" {
		t.Errorf("Follow(updated, after 0) mismatch (-want +got):\n%s", diff)
	}
	// Deletions after C's: D's, then the later ones.
	dels := follow(t, b, items.ItemDeleted, its[2].ID)
	if diff := cmp.Diff([]int64{its[3].ID}, IDs(Receive(t, dels, 1))); diff != "" {
		t.Errorf("Follow(deleted, after %d) mismatch (-want +got):\n%s", its[2].ID, diff)
	}
	del(a2)
	if diff := cmp.Diff([]int64{a2.ID}, IDs(Receive(t, dels, 1))); diff != "" {
		t.Errorf("Follow(deleted) later mismatch (-want +got):\n%s", diff)
	}
	// From the start, read from the store: every addition as it was
	// added, the items updated or deleted since included.
	from0 := follow(t, b, items.ItemAdded, 0)
	got := Receive(t, from0, len(items.DemoItems)+len(its))
	if diff := cmp.Diff(its, got[len(items.DemoItems):]); diff != "" {
		t.Errorf("Follow(added, after 0) mismatch (-added +received):\n%s", diff)
	}
	// Additions resume by ID as before, deleted items included.
	adds := follow(t, b, items.ItemAdded, its[1].ID)
	if diff := cmp.Diff([]int64{its[2].ID, its[3].ID}, IDs(Receive(t, adds, 2))); diff != "" {
		t.Errorf("Follow(added, after %d) mismatch (-want +got):\n%s", its[1].ID, diff)
	}
}

// ResumeAfterDeleted checks after: naming items that are gone: updated
// then deleted, and the greatest ID given, deleted. The events after
// their oldest of each kind come, and later ones; none before. reopen,
// called once those items are gone, returns the store and broker to
// follow with from then on: s and b again, or the same data opened anew.
func ResumeAfterDeleted(t *testing.T, s items.Store, b items.Broker, reopen func() (items.Store, items.Broker)) {
	ctx := t.Context()
	root, _ := AddUser(t, s, "root", items.RoleAdmin)
	r := Caller(root, items.RoleAdmin)
	its := AddItems(t, s, "A", "B")
	a, b2 := its[0], its[1]
	var a2 items.Item
	for _, name := range []string{"A1", "A2"} {
		var err error
		if a2, err = s.UpdateItem(ctx, a.ID, items.ItemUpdate{Name: Ptr(name), By: r}); err != nil {
			t.Fatalf("UpdateItem() = %v", err)
		}
	}
	for _, it := range []items.Item{a, b2} {
		if err := s.DeleteItem(ctx, it.ID, items.ItemDelete{By: r}); err != nil {
			t.Fatalf("DeleteItem(%d) = %v", it.ID, err)
		}
	}
	s, b = reopen()
	added := follow(t, b, items.ItemAdded, b2.ID)     // the greatest ID given, deleted
	updated := follow(t, b, items.ItemUpdated, a.ID)  // updated twice, then deleted: A2 comes
	deletedA := follow(t, b, items.ItemDeleted, a.ID) // B's deletion came after A's
	deletedB := follow(t, b, items.ItemDeleted, b2.ID)
	c := AddItems(t, s, "C")[0]
	c1, err := s.UpdateItem(ctx, c.ID, items.ItemUpdate{Name: Ptr("C1"), By: r})
	if err != nil {
		t.Fatalf("UpdateItem() = %v", err)
	}
	if err := s.DeleteItem(ctx, c.ID, items.ItemDelete{By: r}); err != nil {
		t.Fatalf("DeleteItem() = %v", err)
	}
	if diff := cmp.Diff([]items.Item{c}, Receive(t, added, 1)); diff != "" {
		t.Errorf("Follow(added, after the deleted %d) mismatch (-want +got):\n%s", b2.ID, diff)
	}
	if diff := cmp.Diff([]items.Item{a2, c1}, Receive(t, updated, 2)); diff != "" {
		t.Errorf("Follow(updated, after the deleted %d) mismatch (-want +got):\n%s", a.ID, diff)
	}
	if diff := cmp.Diff([]int64{b2.ID, c.ID}, IDs(Receive(t, deletedA, 2))); diff != "" {
		t.Errorf("Follow(deleted, after %d) mismatch (-want +got):\n%s", a.ID, diff)
	}
	if diff := cmp.Diff([]int64{c.ID}, IDs(Receive(t, deletedB, 1))); diff != "" {
		t.Errorf("Follow(deleted, after %d) mismatch (-want +got):\n%s", b2.ID, diff)
	}
}

// ResumeAboveEveryID checks after: naming an ID above every ID given so
// far, which no event stands for: an addition comes only when its item's
// ID is above that one (API.md: itemAdded(after: ID), items with a
// greater id), in order, whatever was added before or after subscribing
// with a smaller ID; updates and deletions start from now, of every item.
// reopen, called before the subscriptions start, returns the store and
// broker to follow with from then on: s and b again, or the same data
// opened anew.
func ResumeAboveEveryID(t *testing.T, s items.Store, b items.Broker, reopen func() (items.Store, items.Broker)) {
	ctx := t.Context()
	root, _ := AddUser(t, s, "root", items.RoleAdmin)
	r := Caller(root, items.RoleAdmin)
	last := AddItems(t, s, "last")[0]
	s, b = reopen()
	above := last.ID + 3
	added := follow(t, b, items.ItemAdded, above)
	updated := follow(t, b, items.ItemUpdated, above)
	deleted := follow(t, b, items.ItemDeleted, above)
	// One at a time, until two items above it: IDs need not be
	// consecutive (a sequence may skip some), but the log's order is
	// that of these additions.
	var want []items.Item
	for i := 0; len(want) < 2; i++ {
		if i == 20 {
			t.Fatalf("20 items added, %d of them with an ID above %d", len(want), above)
		}
		if it := AddItems(t, s, fmt.Sprintf("added %d", i))[0]; it.ID > above {
			want = append(want, it)
		}
	}
	if diff := cmp.Diff(want, Receive(t, added, len(want))); diff != "" {
		t.Errorf("Follow(added, after %d, above every ID) mismatch (-want +got):\n%s", above, diff)
	}
	up, err := s.UpdateItem(ctx, last.ID, items.ItemUpdate{Name: Ptr("last changed"), By: r})
	if err != nil {
		t.Fatalf("UpdateItem() = %v", err)
	}
	if err := s.DeleteItem(ctx, last.ID, items.ItemDelete{By: r}); err != nil {
		t.Fatalf("DeleteItem() = %v", err)
	}
	if diff := cmp.Diff([]items.Item{up}, Receive(t, updated, 1)); diff != "" {
		t.Errorf("Follow(updated, after %d, above every ID) mismatch (-want +got):\n%s", above, diff)
	}
	if diff := cmp.Diff([]int64{last.ID}, IDs(Receive(t, deleted, 1))); diff != "" {
		t.Errorf("Follow(deleted, after %d, above every ID) mismatch (-want +got):\n%s", above, diff)
	}
}
