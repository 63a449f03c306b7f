package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"itemsapi/items"
)

// Orders are every order of items.
var Orders = []items.Order{
	{Field: items.ByID}, {Field: items.ByID, Desc: true},
	{Field: items.ByName}, {Field: items.ByName, Desc: true},
	{Field: items.ByUpdatedAt}, {Field: items.ByUpdatedAt, Desc: true},
}

// OrderName names o in test messages.
func OrderName(o items.Order) string {
	dir := "ASC"
	if o.Desc {
		dir = "DESC"
	}
	return fmt.Sprintf("%s %s", [...]string{"ID", "NAME", "UPDATED_AT"}[o.Field], dir)
}

// Sorted returns its sorted in o.
func Sorted(its []items.Item, o items.Order) []items.Item {
	its = slices.Clone(its)
	slices.SortFunc(its, func(a, b items.Item) int { return o.Compare(o.PositionOf(a), o.PositionOf(b)) })
	return its
}

// Walk reads every item of q's search in q's order, in pages of n, from
// the start forward (or, last, from the end backward), each page after (or
// before) the position of the last (or first) item of the previous one,
// and returns them in order.
func Walk(t testing.TB, s items.Store, q items.ItemQuery, n int, last bool) []items.Item {
	t.Helper()
	var all []items.Item
	q.Limit, q.Last = n, last
	for range 10000 {
		page, err := s.Items(t.Context(), q)
		if err != nil {
			t.Fatalf("Items(%+v) = %v", q, err)
		}
		if last {
			all = append(slices.Clone(page), all...)
		} else {
			all = append(all, page...)
		}
		if len(page) < n {
			return all
		}
		if last {
			p := q.Order.PositionOf(page[0])
			q.End = &p
		} else {
			p := q.Order.PositionOf(page[len(page)-1])
			q.Start = &p
		}
	}
	t.Fatalf("Walk(%+v) does not end", q)
	return nil
}

// testOrders checks pages in every order, both ways, against the items
// sorted in Go: names with ties, case and code points beyond the BMP,
// times changed by updates, and items deleted.
func testOrders(t *testing.T, s items.Store) {
	ctx := t.Context()
	root, _ := AddUser(t, s, "root", items.RoleAdmin)
	by := Caller(root, items.RoleAdmin)
	names := []string{"b", "a", "B", "é", "e\u0301x", "ß", "a", "😀", "z", "Zebra", "apple", "b", "ａ", "\u00e9a"}
	its := AddItems(t, s, names...)
	for i, it := range its {
		switch i % 4 {
		case 1:
			if _, err := s.UpdateItem(ctx, it.ID, items.ItemUpdate{Description: Ptr("changed"), By: by}); err != nil {
				t.Fatalf("UpdateItem() = %v", err)
			}
		case 2:
			if _, err := s.UpdateItem(ctx, it.ID, items.ItemUpdate{Name: Ptr(it.Name + " renamed"), By: by}); err != nil {
				t.Fatalf("UpdateItem() = %v", err)
			}
		case 3:
			if i%8 == 3 {
				if err := s.DeleteItem(ctx, it.ID, items.ItemDelete{By: by}); err != nil {
					t.Fatalf("DeleteItem() = %v", err)
				}
			}
		}
	}
	all := ReadAll(t, s, "", items.MaxPageSize+1)
	for _, o := range Orders {
		want := Sorted(all, o)
		for _, n := range []int{1, 2, 5, items.MaxPageSize + 1} {
			for _, last := range []bool{false, true} {
				got := Walk(t, s, items.ItemQuery{Order: o}, n, last)
				if diff := cmp.Diff(IDs(want), IDs(got)); diff != "" {
					t.Errorf("%s, pages of %d, last %v: IDs mismatch (-want +got):\n%s", OrderName(o), n, last, diff)
				}
			}
		}
		// Between two cursors, from either end.
		if len(want) < 6 {
			t.Fatalf("only %d items", len(want))
		}
		a, b := o.PositionOf(want[1]), o.PositionOf(want[len(want)-2])
		for _, last := range []bool{false, true} {
			page, err := s.Items(ctx, items.ItemQuery{Order: o, Start: &a, End: &b, Limit: 3, Last: last})
			if err != nil {
				t.Fatalf("Items() = %v", err)
			}
			w := want[2:5]
			if last {
				w = want[len(want)-5 : len(want)-2]
			}
			if diff := cmp.Diff(IDs(w), IDs(page)); diff != "" {
				t.Errorf("%s, between cursors, last %v: IDs mismatch (-want +got):\n%s", OrderName(o), last, diff)
			}
		}
		// A cursor whose item is gone still places the page.
		gone := o.PositionOf(items.Item{ID: its[3].ID, Name: its[3].Name, CreatedAt: its[3].CreatedAt})
		page, err := s.Items(ctx, items.ItemQuery{Order: o, Start: &gone, Limit: items.MaxPageSize + 1})
		if err != nil {
			t.Fatalf("Items() = %v", err)
		}
		var after []items.Item
		for _, it := range want {
			if o.Compare(o.PositionOf(it), gone) > 0 {
				after = append(after, it)
			}
		}
		if diff := cmp.Diff(IDs(after), IDs(page)); diff != "" {
			t.Errorf("%s, after a deleted item's position: IDs mismatch (-want +got):\n%s", OrderName(o), diff)
		}
	}
}

// testSearchBothWays checks searches in ID order, ascending and
// descending, both ways, against the items filtered in Go.
func testSearchBothWays(t *testing.T, s items.Store) {
	var names []string
	for i := range 40 {
		names = append(names, fmt.Sprintf("%s item %d", []string{"Red", "Green", "Blue"}[i%3], i))
	}
	AddItems(t, s, names...)
	all := ReadAll(t, s, "", items.MaxPageSize+1)
	for _, q := range []string{"re", "red", "green item", "BLUE", "item 1", "nothing"} {
		var match []items.Item
		for _, it := range all {
			if strings.Contains(items.FoldString(it.Name), items.FoldString(q)) {
				match = append(match, it)
			}
		}
		for _, o := range Orders[:2] {
			want := Sorted(match, o)
			for _, n := range []int{1, 3, items.MaxPageSize + 1} {
				for _, last := range []bool{false, true} {
					got := Walk(t, s, items.ItemQuery{Search: q, Order: o}, n, last)
					if diff := cmp.Diff(IDs(want), IDs(got)); diff != "" {
						t.Errorf("search %q, %s, pages of %d, last %v: IDs mismatch (-want +got):\n%s", q, OrderName(o), n, last, diff)
					}
				}
			}
		}
	}
}
