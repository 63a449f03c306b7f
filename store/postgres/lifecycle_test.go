package postgres_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"itemsapi/items"
	"itemsapi/store/storetest"
)

// TestConcurrentUpdatesTwoStores runs, in rounds, 100 concurrent updates
// of one item through two stores on one database (two processes), all
// expecting the version the item is at: in each round exactly one wins,
// and the others fail with CONFLICT.
func TestConcurrentUpdatesTwoStores(t *testing.T) {
	t.Parallel()
	a, b := twoProcesses(t)
	root, _ := storetest.AddUser(t, a, "root", items.RoleAdmin)
	it := storetest.AddItems(t, a, "contended")[0]
	storetest.RaceUpdates(t, []items.Store{a, b}, it.ID, storetest.Caller(root, items.RoleAdmin), 3, 100)
}

// TestConcurrentDeletesTwoStores deletes one item 100 times at once
// through two stores (see storetest.RaceDeletes).
func TestConcurrentDeletesTwoStores(t *testing.T) {
	t.Parallel()
	a, b := twoProcesses(t)
	root, _ := storetest.AddUser(t, a, "root", items.RoleAdmin)
	it := storetest.AddItems(t, a, "doomed")[0]
	storetest.RaceDeletes(t, []items.Store{a, b}, it.ID, storetest.Caller(root, items.RoleAdmin))
}

// TestCrossStoreLifecycle follows, on one process, the updates and
// deletions another makes, and resumes them with after:.
func TestCrossStoreLifecycle(t *testing.T) {
	t.Parallel()
	a, b := twoProcesses(t)
	root, _ := storetest.AddUser(t, b, "root", items.RoleAdmin)
	by := storetest.Caller(root, items.RoleAdmin)
	updated, err := a.Follow(t.Context(), items.ItemUpdated, items.FromNow)
	if err != nil {
		t.Fatalf("Follow() = %v", err)
	}
	deleted, err := a.Follow(t.Context(), items.ItemDeleted, items.FromNow)
	if err != nil {
		t.Fatalf("Follow() = %v", err)
	}
	its := storetest.AddItems(t, b, "one", "two")
	var want []items.Item
	for _, it := range its {
		up, err := b.UpdateItem(t.Context(), it.ID, items.ItemUpdate{Description: storetest.Ptr("changed"), By: by})
		if err != nil {
			t.Fatalf("UpdateItem() = %v", err)
		}
		want = append(want, up)
	}
	if err := b.DeleteItem(t.Context(), its[0].ID, items.ItemDelete{By: by}); err != nil {
		t.Fatalf("DeleteItem() = %v", err)
	}
	if diff := cmp.Diff(want, storetest.Receive(t, updated, 2)); diff != "" {
		t.Errorf("updates received on the other process (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{its[0].ID}, storetest.IDs(storetest.Receive(t, deleted, 1))); diff != "" {
		t.Errorf("deletions received on the other process (-want +got):\n%s", diff)
	}
	resumed, err := a.Follow(t.Context(), items.ItemUpdated, its[0].ID)
	if err != nil {
		t.Fatalf("Follow() = %v", err)
	}
	if diff := cmp.Diff(want[1:], storetest.Receive(t, resumed, 1)); diff != "" {
		t.Errorf("updates after item %d's (-want +got):\n%s", its[0].ID, diff)
	}
}

// TestResumeAfterDeletedOnAnotherStore: a subscription on another process
// resumes after items that one process updated and deleted.
func TestResumeAfterDeletedOnAnotherStore(t *testing.T) {
	t.Parallel()
	a, b := twoProcesses(t)
	storetest.ResumeAfterDeleted(t, a, a, func() (items.Store, items.Broker) { return b, b })
}

// TestResumeAboveEveryIDOnAnotherStore: itemAdded after an ID above every
// ID given, on another process than the one that gave them.
func TestResumeAboveEveryIDOnAnotherStore(t *testing.T) {
	t.Parallel()
	a, b := twoProcesses(t)
	storetest.ResumeAboveEveryID(t, a, a, func() (items.Store, items.Broker) { return b, b })
}
