package sqlite

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"itemsapi/items"
	"itemsapi/store/storetest"
)

// TestIndexFollowsChanges updates and deletes items on both sides of the
// trigram index's watermark: an updated name is found by its new name and
// not its old one, a deleted item by nothing, whether the item was in the
// index when it changed or was added to it later.
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
	if err := s.indexTail(ctx); err != nil {
		t.Fatalf("indexTail() = %v", err)
	}
	check("all indexed")
	for s.mergeIndex() {
	}
	check("merged")
}
