package sqlite

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"itemsapi/items"
	"itemsapi/store/readcache"
	"itemsapi/store/storetest"
)

// FuzzModel runs random sequences of additions, updates, deletions, pages
// in every order both ways, searches and reads by ID against SQLite behind
// the read cache (with small bounds, so that it also evicts), and compares
// every answer with a plain model in memory: a map of the items. Some
// steps move the trigram index's watermark, so that searches read the
// index and the tail both. One store serves the fuzzing process; each
// input starts from what the store holds and deletes what it added.
func FuzzModel(f *testing.F) {
	ctx := f.Context()
	s := openTest(f)
	if _, err := s.w.ExecContext(ctx, "PRAGMA synchronous = OFF"); err != nil {
		f.Fatalf("PRAGMA synchronous = %v", err)
	}
	c := readcache.New(s, 64<<10)
	alice, _ := storetest.AddUser(f, c, "alice", items.RoleUser)
	bob, _ := storetest.AddUser(f, c, "bob", items.RoleUser)
	root, _ := storetest.AddUser(f, c, "root", items.RoleAdmin)
	callers := []items.Caller{storetest.Caller(alice, items.RoleUser), storetest.Caller(bob, items.RoleUser), storetest.Caller(root, items.RoleAdmin)}
	names := []string{"a", "ab", "abc", "Abc", "bcd", "é", "École", "école", "xyz", " padded ", "😀 smile", "ß", "SS", "", "\u202Ebidi"}
	searches := []string{"", "a", "ab", "abc", "bc", "col", "ÉC", "ss", "😀", "zzz"}
	f.Add([]byte{0, 1, 0, 2, 0, 3, 1, 0, 4, 3, 0, 2, 5, 1, 6, 2, 2, 1, 3, 7, 1, 3, 4, 1})
	f.Add([]byte{0, 0, 0, 5, 0, 9, 1, 1, 0, 1, 2, 0, 2, 1, 3, 1, 8, 4, 5, 5, 2, 3, 0, 3, 4, 2, 6, 3, 1, 1})
	f.Add([]byte("the quick brown fox jumps over the lazy dog, twice: the quick brown fox jumps over the lazy dog"))

	f.Fuzz(func(t *testing.T, program []byte) {
		if len(program) > 400 {
			program = program[:400]
		}
		// The model: every item the store holds, by ID.
		model := map[int64]items.Item{}
		for _, it := range storetest.Walk(t, s, items.ItemQuery{}, items.MaxPageSize+1, false) {
			model[it.ID] = it
		}
		var added []int64
		defer func() {
			for _, id := range added {
				if _, ok := model[id]; ok {
					if err := c.DeleteItem(ctx, id, items.ItemDelete{By: callers[2]}); err != nil {
						t.Errorf("cleanup: DeleteItem(%d) = %v", id, err)
					}
				}
			}
		}()
		next := func() int {
			if len(program) == 0 {
				return 0
			}
			b := program[0]
			program = program[1:]
			return int(b)
		}
		pick := func() int64 { // an ID: one held, one deleted or one never given
			ids := make([]int64, 0, len(model))
			for id := range model {
				ids = append(ids, id)
			}
			ids = append(ids, added...)
			ids = append(ids, 1<<40)
			return storetest.Sorted(idItems(ids), items.Order{})[next()%len(ids)].ID
		}
		sortedModel := func(search string, o items.Order) []items.Item {
			var its []items.Item
			for _, it := range model {
				if strings.Contains(items.FoldString(it.Name), items.FoldString(search)) {
					its = append(its, it)
				}
			}
			return storetest.Sorted(its, o)
		}
		for step := 0; len(program) > 0; step++ {
			op := next() % 8
			switch op {
			case 0: // add
				by := callers[next()%len(callers)]
				n, err := items.NewItem{Name: names[next()%len(names)], CreatedByID: by.User.ID}.Validate()
				if err != nil {
					continue
				}
				it, err := c.AddItem(ctx, n)
				if err != nil {
					t.Fatalf("step %d: AddItem(%q) = %v", step, n.Name, err)
				}
				model[it.ID] = it
				added = append(added, it.ID)
			case 1: // update
				id, by := pick(), callers[next()%len(callers)]
				u := items.ItemUpdate{By: by}
				switch next() % 3 {
				case 0:
					u.Name = &names[next()%len(names)]
				case 1:
					d := names[next()%len(names)]
					u.Description = &d
				default:
					u.ClearDescription = true
				}
				if v := next() % 4; v > 0 {
					v := v - 1 + max(model[id].Version-1, 0) // a right version or a stale one
					u.ExpectedVersion = &v
				}
				want, wantErr := modelUpdate(model, id, u)
				got, err := c.UpdateItem(ctx, id, u)
				if items.ErrorCode(err) != items.ErrorCode(wantErr) {
					t.Fatalf("step %d: UpdateItem(%d, %+v) = %v, want %v", step, id, u, err, wantErr)
				}
				if err == nil {
					want.UpdatedAt = got.UpdatedAt
					if diff := cmp.Diff(want, got); diff != "" {
						t.Fatalf("step %d: UpdateItem(%d) mismatch (-model +store):\n%s", step, id, diff)
					}
					model[id] = got
				}
			case 2: // delete
				id, by := pick(), callers[next()%len(callers)]
				d := items.ItemDelete{By: by}
				if v := next() % 3; v > 0 {
					v := v - 1 + model[id].Version
					d.ExpectedVersion = &v
				}
				var wantErr error
				if it, ok := model[id]; !ok {
					wantErr = items.NoItem(id)
				} else {
					wantErr = d.Check(it)
				}
				err := c.DeleteItem(ctx, id, d)
				if items.ErrorCode(err) != items.ErrorCode(wantErr) {
					t.Fatalf("step %d: DeleteItem(%d, %+v) = %v, want %v", step, id, d, err, wantErr)
				}
				if err == nil {
					delete(model, id)
				}
			case 3, 4: // pages in an order, forward (3) or backward (4)
				o := storetest.Orders[next()%len(storetest.Orders)]
				n := 1 + next()%5
				got := storetest.Walk(t, c, items.ItemQuery{Order: o}, n, op == 4)
				if diff := cmp.Diff(sortedModel("", o), got, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("step %d: %s in pages of %d, last %v mismatch (-model +store):\n%s", step, storetest.OrderName(o), n, op == 4, diff)
				}
			case 5: // search, both ways, and its count
				q := searches[next()%len(searches)]
				o := storetest.Orders[next()%2]
				n, last := 1+next()%4, next()%2 == 1
				want := sortedModel(q, o)
				got := storetest.Walk(t, c, items.ItemQuery{Search: q, Order: o}, n, last)
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("step %d: search %q, %s, pages of %d, last %v mismatch (-model +store):\n%s", step, q, storetest.OrderName(o), n, last, diff)
				}
				if got, err := c.CountItems(ctx, q); err != nil || got != len(want) {
					t.Fatalf("step %d: CountItems(%q) = %d, %v, want %d", step, q, got, err, len(want))
				}
			case 6: // read by ID
				id := pick()
				got, err := c.Item(ctx, id)
				want, ok := model[id]
				if !ok {
					if items.ErrorCode(err) != items.NotFound {
						t.Fatalf("step %d: Item(%d) of no item = %v, %v", step, id, got, err)
					}
				} else if diff := cmp.Diff(want, got); err != nil || diff != "" {
					t.Fatalf("step %d: Item(%d) = %v; mismatch (-model +store):\n%s", step, id, err, diff)
				}
			case 7: // the trigram index takes a step
				if err := s.indexTail(ctx); err != nil {
					t.Fatalf("indexTail() = %v", err)
				}
			}
			if got, err := c.CountItems(ctx, ""); err != nil || got != len(model) {
				t.Fatalf("step %d (op %d): CountItems() = %d, %v, want %d", step, op, got, err, len(model))
			}
		}
	})
}

// idItems returns items with those IDs, for sorting.
func idItems(ids []int64) []items.Item {
	its := make([]items.Item, len(ids))
	for i, id := range ids {
		its[i].ID = id
	}
	return its
}

// modelUpdate returns what UpdateItem should answer for the model.
func modelUpdate(model map[int64]items.Item, id int64, u items.ItemUpdate) (items.Item, error) {
	it, ok := model[id]
	if !ok {
		return items.Item{}, items.NoItem(id)
	}
	// Apply is the domain's rule; the store must agree with it on the
	// item as the model holds it.
	got, err := u.Apply(it, it.CreatedAt)
	if err != nil {
		return items.Item{}, err
	}
	return got, nil
}
