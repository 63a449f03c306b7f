package storetest

import (
	"testing"

	"itemsapi/items"
)

// testBrokerWrites checks the store's record of writes (items.Writes), on
// which caches key: each write of items has ended, counted by its kind and
// outcome, by the time its event reaches a subscriber, so that a
// subscriber that reads at once gets no answer kept from before it; a
// refused write ends as a failure; reads and tokens are no writes. A store
// whose writes are Shared records only its own process's writes, in no
// order with what it publishes: it is skipped.
func testBrokerWrites(t *testing.T, s items.Store, b items.Broker) {
	w := s.Writes()
	if w.Shared() {
		t.Skip("other processes write to the store: no cache keys on its versions")
	}
	ctx := t.Context()
	root, _ := AddUser(t, s, "root", items.RoleAdmin)
	by := Caller(root, items.RoleAdmin)

	// write runs f, a write of kind, and checks the version that a
	// subscriber to kind finds as soon as the event comes, against the
	// version before: one more of kind ended, nothing under way.
	write := func(kind items.EventKind, f func() error) {
		t.Helper()
		sub := follow(t, b, kind, items.FromNow)
		before := w.Version()
		if !w.Unchanged(before) {
			t.Fatalf("%v: a write is under way before any", kind)
		}
		done := make(chan error, 1)
		go func() { done <- f() }()
		Receive(t, sub, 1)
		got := w.Version()
		want := *before
		want.Seq += 2
		switch kind {
		case items.ItemAdded:
			want.Added++
		case items.ItemDeleted:
			want.Deleted++
		}
		if kind != items.ItemAdded {
			want.Changes += 2
		}
		if *got != want {
			t.Errorf("%v: the version a subscriber finds = %+v, want %+v: the write ended before its event", kind, *got, want)
		}
		if err := <-done; err != nil {
			t.Fatalf("%v: %v", kind, err)
		}
	}
	var it items.Item
	write(items.ItemAdded, func() (err error) {
		it, err = s.AddItem(ctx, items.NewItem{Name: "Versioned"})
		return err
	})
	write(items.ItemUpdated, func() error {
		_, err := s.UpdateItem(ctx, it.ID, items.ItemUpdate{Name: Ptr("Versioned again"), By: by})
		return err
	})

	// A refused write changes nothing and publishes nothing, but counts
	// as a failure; reads and tokens are no writes.
	before := w.Version()
	if _, err := s.UpdateItem(ctx, it.ID, items.ItemUpdate{Name: Ptr("x"), ExpectedVersion: Ptr(1), By: by}); items.ErrorCode(err) != items.Conflict {
		t.Errorf("UpdateItem(stale) = %v, want code Conflict", err)
	}
	if _, err := s.Item(ctx, it.ID); err != nil {
		t.Fatalf("Item() = %v", err)
	}
	AddUser(t, s, "alice", items.RoleUser)
	got := w.Version()
	if want := (items.WriteVersion{Seq: before.Seq + 2, Changes: before.Changes + 2, Added: before.Added, Deleted: before.Deleted, Failed: before.Failed + 1}); *got != want {
		t.Errorf("after a refused update, a read and a token: version = %+v, want %+v", *got, want)
	}

	write(items.ItemDeleted, func() error { return s.DeleteItem(ctx, it.ID, items.ItemDelete{By: by}) })
}
