// Package storetest is the conformance suite that every items.Store
// implementation passes, in the manner of testing/fstest.TestFS: a backend's
// test calls Run with a constructor, and the suite checks the behaviour the
// rest of the program relies on. It knows no backend.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"itemsapi/items"
)

// Timeout bounds every wait of the suite on a subscription, so that a store
// that never delivers fails the test instead of hanging it.
const Timeout = 10 * time.Second

// Run checks that the stores newStore returns behave as items.Store
// requires, and, when they also implement items.Broker, as RunBroker
// requires. newStore returns a new store that holds the demo items and
// nothing else, and arranges with t.Cleanup for it to be closed; it fails t
// if it cannot. Close may then be called twice (once by the suite), so a
// second call must not panic. Subtests run in parallel.
func Run(t *testing.T, newStore func(t *testing.T) items.Store, opts ...Option) {
	runCases(t, newStore, []storeCase{
		{"DemoItems", testDemoItems},
		{"Item", testItem},
		{"AddItem", testAddItem},
		{"AddItemUnknownCreator", testAddItemUnknownCreator},
		{"IDsIncrease", testIDsIncrease},
		{"Items", testItems},
		{"ItemsLimit", testItemsLimit},
		{"ItemsWalk", testItemsWalk},
		{"Search", testSearch},
		{"SearchPages", testSearchPages},
		{"AddToken", testAddToken},
		{"UserNames", testUserNames},
		{"ConcurrentUserNames", testConcurrentUserNames},
		{"Roles", testRoles},
		{"UserByToken", testUserByToken},
		{"Users", testUsers},
		{"ConcurrentAddItem", testConcurrentAddItem},
		{"ConcurrentAddToken", testConcurrentAddToken},
		{"Ping", testPing},
		{"Close", testClose},
	})
	t.Run("Tokens", func(t *testing.T) { runTokens(t, newStore) })
	t.Run("Lifecycle", func(t *testing.T) { runLifecycle(t, newStore) })
	t.Run("Broker", func(t *testing.T) {
		t.Parallel()
		if _, ok := newStore(t).(items.Broker); !ok {
			t.Skip("the store is not an items.Broker")
		}
		RunBroker(t, func(t *testing.T) (items.Store, items.Broker) {
			s := newStore(t)
			return s, s.(items.Broker)
		}, opts...)
		t.Run("CloseEndsSubscriptions", func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			testCloseEndsSubscriptions(t, s, s.(items.Broker))
		})
	})
}

// storeCase is one check of the suite: the name of its subtest, and the
// test, which gets a new store.
type storeCase struct {
	name string
	test func(t *testing.T, s items.Store)
}

// runCases runs each case as a parallel subtest of t, on a store of its
// own from newStore.
func runCases(t *testing.T, newStore func(t *testing.T) items.Store, cases []storeCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { t.Parallel(); c.test(t, newStore(t)) })
	}
}

// RunBroker checks that a broker delivers every item added through its store
// after Subscribe returns, to every subscriber, once, in one order that is
// the same for every subscriber and keeps the order in which each caller
// added its items (the order of the store's log, which need not be that of
// the IDs when several callers add at once), and that cancelling a subscription's context ends it with a nil Err.
// newStore returns a new store (holding the demo items) and the broker that
// publishes what it adds, and arranges for both to be closed.
func RunBroker(t *testing.T, newStore func(t *testing.T) (items.Store, items.Broker), opts ...Option) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	t.Run("Order", func(t *testing.T) { t.Parallel(); s, b := newStore(t); testBrokerOrder(t, s, b, o) })
	t.Run("OnlyLater", func(t *testing.T) { t.Parallel(); s, b := newStore(t); testBrokerOnlyLater(t, s, b) })
	t.Run("TwoSubscribers", func(t *testing.T) { t.Parallel(); s, b := newStore(t); testBrokerTwoSubscribers(t, s, b) })
	t.Run("Cancel", func(t *testing.T) { t.Parallel(); _, b := newStore(t); testBrokerCancel(t, b) })
	t.Run("Resume", func(t *testing.T) { t.Parallel(); s, b := newStore(t); testBrokerResume(t, s, b) })
	t.Run("SlowSubscriber", func(t *testing.T) { t.Parallel(); s, b := newStore(t); testBrokerSlowSubscriber(t, s, b) })
	t.Run("Shutdown", func(t *testing.T) { t.Parallel(); s, b := newStore(t); testBrokerShutdown(t, s, b) })
	t.Run("Lifecycle", func(t *testing.T) { t.Parallel(); s, b := newStore(t); testBrokerLifecycle(t, s, b) })
	t.Run("LifecycleResume", func(t *testing.T) { t.Parallel(); s, b := newStore(t); testBrokerLifecycleResume(t, s, b) })
	t.Run("ResumeAfterDeleted", func(t *testing.T) {
		t.Parallel()
		s, b := newStore(t)
		ResumeAfterDeleted(t, s, b, func() (items.Store, items.Broker) { return s, b })
	})
	t.Run("ResumeAboveEveryID", func(t *testing.T) {
		t.Parallel()
		s, b := newStore(t)
		ResumeAboveEveryID(t, s, b, func() (items.Store, items.Broker) { return s, b })
	})
	t.Run("Writes", func(t *testing.T) { t.Parallel(); s, b := newStore(t); testBrokerWrites(t, s, b) })
}

// Option tells the suite about a store.
type Option func(*options)

type options struct{ idOrder bool }

// LogInIDOrder says that the store's log is in the order of the items'
// IDs, as on a store that has one writer (each item's event at the
// position of its ID): the suite then checks that order too.
func LogInIDOrder() Option { return func(o *options) { o.idOrder = true } }

// Shutdowner is a broker that can end its subscriptions at shutdown.
type Shutdowner interface {
	// Shutdown lets each subscription deliver every item added so far,
	// then end with items.ErrGoingAway.
	Shutdown()
}

// Ptr returns a pointer to v.
func Ptr[T any](v T) *T { return &v }

// AddItems adds an item for each name, created by nobody, and returns them
// in the order added. It fails t on the first error.
func AddItems(t testing.TB, s items.Store, names ...string) []items.Item {
	t.Helper()
	added := make([]items.Item, 0, len(names))
	for _, name := range names {
		it, err := s.AddItem(t.Context(), items.NewItem{Name: name})
		if err != nil {
			t.Fatalf("AddItem(%q) = %v", name, err)
		}
		added = append(added, it)
	}
	return added
}

// AddNumbered adds n items named "item 0", "item 1", … and returns them.
// It fails t on error.
func AddNumbered(t testing.TB, s items.Store, n int) []items.Item {
	t.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("item %d", i)
	}
	return AddItems(t, s, names...)
}

// AddUser adds a new token with that role for the user with that name and
// returns the user and the token's hash. It fails t on error.
func AddUser(t testing.TB, s items.Store, name string, role items.Role) (items.User, items.TokenHash) {
	t.Helper()
	_, hash := items.NewToken()
	u, err := s.AddToken(t.Context(), name, role, hash)
	if err != nil {
		t.Fatalf("AddToken(%q, %v) = %v", name, role, err)
	}
	return u, hash
}

// AddConcurrently adds items from goroutines goroutines at once, each
// items each, named g<goroutine>-<i>, and returns what each goroutine
// added, in its order. An AddItem that fails fails t and ends its
// goroutine.
func AddConcurrently(t testing.TB, s items.Store, goroutines, each int) [][]items.Item {
	t.Helper()
	added := make([][]items.Item, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				it, err := s.AddItem(t.Context(), items.NewItem{Name: fmt.Sprintf("g%d-%d", g, i)})
				if err != nil {
					t.Errorf("AddItem(g%d-%d) = %v", g, i, err)
					return
				}
				added[g] = append(added[g], it)
			}
		})
	}
	wg.Wait()
	return added
}

// CheckEachInOrder checks that received holds what each goroutine of
// AddConcurrently added in the order it added it: an item added after
// another was acknowledged comes after it.
func CheckEachInOrder(t testing.TB, received []items.Item, added [][]items.Item) {
	t.Helper()
	index := make(map[int64]int, len(received))
	for i, it := range received {
		index[it.ID] = i
	}
	for g, its := range added {
		for i := 1; i < len(its); i++ {
			if index[its[i].ID] < index[its[i-1].ID] {
				t.Errorf("goroutine %d: received item %d before item %d, which it added first", g, its[i].ID, its[i-1].ID)
			}
		}
	}
}

// Subscribe subscribes to b's items after afterItem, for the rest of the
// test; it fails t if b refuses.
func Subscribe(t testing.TB, b items.Broker, afterItem int64) *items.Subscription {
	t.Helper()
	sub, err := b.Subscribe(t.Context(), afterItem)
	if err != nil {
		t.Fatalf("Subscribe(after %d) = %v", afterItem, err)
	}
	return sub
}

// Receive returns the next n items of sub. It fails t if sub ends first or
// if they do not all arrive within Timeout.
func Receive(t testing.TB, sub *items.Subscription, n int) []items.Item {
	t.Helper()
	timer := time.NewTimer(Timeout)
	defer timer.Stop()
	got := make([]items.Item, 0, n)
	for len(got) < n {
		select {
		case it, ok := <-sub.C:
			if !ok {
				t.Fatalf("subscription ended after %d of %d items: Err() = %v", len(got), n, sub.Err())
			}
			got = append(got, it)
		case <-timer.C:
			t.Fatalf("received %d of %d items within %v", len(got), n, Timeout)
		}
	}
	return got
}

// WaitEnd reads sub until its channel is closed, within Timeout, and returns
// the items read on the way and sub.Err().
func WaitEnd(t testing.TB, sub *items.Subscription) ([]items.Item, error) {
	t.Helper()
	timer := time.NewTimer(Timeout)
	defer timer.Stop()
	var got []items.Item
	for {
		select {
		case it, ok := <-sub.C:
			if !ok {
				return got, sub.Err()
			}
			got = append(got, it)
		case <-timer.C:
			t.Fatalf("subscription still open %v later", Timeout)
		}
	}
}

// IDs returns the IDs of its.
func IDs(its []items.Item) []int64 {
	ids := make([]int64, len(its))
	for i, it := range its {
		ids[i] = it.ID
	}
	return ids
}

// Names returns the names of its.
func Names(its []items.Item) []string {
	names := make([]string, len(its))
	for i, it := range its {
		names[i] = it.Name
	}
	return names
}

// checkTime reports whether a creation time is set, in UTC and truncated to
// microseconds: the precision every backend can store, so that an item
// compares equal whether it comes from AddItem or from a read.
func checkTime(t testing.TB, what string, ts time.Time) {
	t.Helper()
	if ts.IsZero() {
		t.Errorf("%s: CreatedAt is zero", what)
	}
	if ts.Location() != time.UTC {
		t.Errorf("%s: CreatedAt location = %v, want UTC", what, ts.Location())
	}
	if tr := ts.Truncate(time.Microsecond); !tr.Equal(ts) {
		t.Errorf("%s: CreatedAt = %v, want it truncated to microseconds (%v)", what, ts, tr)
	}
}

func testDemoItems(t *testing.T, s items.Store) {
	ctx := t.Context()
	got, err := s.Items(ctx, items.ItemQuery{Limit: items.MaxPageSize + 1})
	if err != nil {
		t.Fatalf("Items() = %v", err)
	}
	var want []items.Item
	for i, n := range items.DemoItems {
		want = append(want, items.Item{ID: int64(i + 1), Name: n.Name, Description: n.Description, Version: 1})
	}
	ignoreTime := cmpopts.IgnoreFields(items.Item{}, "CreatedAt")
	if diff := cmp.Diff(want, got, ignoreTime); diff != "" {
		t.Errorf("Items() of a new store mismatch (-want +got):\n%s", diff)
	}
	if want := []string{"Apple", "Banana"}; !slices.Equal(Names(got), want) {
		t.Errorf("demo item names = %q, want %q", Names(got), want)
	}
	for _, it := range got {
		checkTime(t, fmt.Sprintf("demo item %d", it.ID), it.CreatedAt)
		if it.Description != nil {
			t.Errorf("demo item %d: Description = %q, want nil", it.ID, *it.Description)
		}
		if it.CreatedByID != 0 {
			t.Errorf("demo item %d: CreatedByID = %d, want 0", it.ID, it.CreatedByID)
		}
		one, err := s.Item(ctx, it.ID)
		if err != nil {
			t.Errorf("Item(%d) = %v", it.ID, err)
			continue
		}
		if diff := cmp.Diff(it, one); diff != "" {
			t.Errorf("Item(%d) differs from Items() (-items +item):\n%s", it.ID, diff)
		}
	}
	n, err := s.CountItems(ctx, "")
	if err != nil || n != len(items.DemoItems) {
		t.Errorf(`CountItems("") = %d, %v, want %d, nil`, n, err, len(items.DemoItems))
	}
}

func testItem(t *testing.T, s items.Store) {
	ctx := t.Context()
	added := AddItems(t, s, "Cherry")[0]
	tests := []struct {
		id       int64
		wantName string
		wantCode items.Code
	}{
		{id: 1, wantName: "Apple"},
		{id: 2, wantName: "Banana"},
		{id: added.ID, wantName: "Cherry"},
		{id: added.ID + 1, wantCode: items.NotFound},
		{id: 1 << 40, wantCode: items.NotFound},
		{id: 0, wantCode: items.NotFound},
		{id: -1, wantCode: items.NotFound},
	}
	for _, tt := range tests {
		got, err := s.Item(ctx, tt.id)
		if code := items.ErrorCode(err); code != tt.wantCode {
			t.Errorf("Item(%d) error = %v (code %q), want code %q", tt.id, err, code, tt.wantCode)
			continue
		}
		if err == nil && (got.ID != tt.id || got.Name != tt.wantName) {
			t.Errorf("Item(%d) = %v, want ID %d, Name %q", tt.id, got, tt.id, tt.wantName)
		}
	}
}

func testAddItem(t *testing.T, s items.Store) {
	ctx := t.Context()
	u, _ := AddUser(t, s, "alice", items.RoleUser)
	tests := []struct {
		name string
		in   items.NewItem
	}{
		{"no description", items.NewItem{Name: "Cherry"}},
		{"description", items.NewItem{Name: "Date", Description: Ptr("sweet, brown")}},
		{"empty description", items.NewItem{Name: "Elderberry", Description: Ptr("")}},
		{"created by", items.NewItem{Name: "Fig", CreatedByID: u.ID}},
		{"unicode", items.NewItem{Name: "Grüne Äpfel 🍏", Description: Ptr("ünïcödé\nmultiline\t'quoted' \"twice\" 100% a_b \\")}},
		{"long", items.NewItem{Name: longString("n", items.MaxNameLength), Description: Ptr(longString("é", items.MaxDescriptionLength))}},
	}
	prev := int64(len(items.DemoItems))
	for _, tt := range tests {
		before := time.Now().UTC().Truncate(time.Microsecond)
		got, err := s.AddItem(ctx, tt.in)
		after := time.Now().UTC()
		if err != nil {
			t.Errorf("%s: AddItem(%v) = %v", tt.name, tt.in, err)
			continue
		}
		if got.ID <= prev {
			t.Errorf("%s: AddItem(%v).ID = %d, want > %d", tt.name, tt.in, got.ID, prev)
		}
		prev = got.ID
		want := items.Item{ID: got.ID, Name: tt.in.Name, Description: tt.in.Description, CreatedByID: tt.in.CreatedByID, CreatedAt: got.CreatedAt, Version: 1}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: AddItem(%v) mismatch (-want +got):\n%s", tt.name, tt.in, diff)
		}
		if (got.Description == nil) != (tt.in.Description == nil) {
			t.Errorf("%s: AddItem(%v).Description = %v, want nil-ness %v", tt.name, tt.in, got.Description, tt.in.Description == nil)
		}
		checkTime(t, tt.name, got.CreatedAt)
		if got.CreatedAt.Before(before) || got.CreatedAt.After(after) {
			t.Errorf("%s: AddItem(%v).CreatedAt = %v, want between %v and %v", tt.name, tt.in, got.CreatedAt, before, after)
		}

		read, err := s.Item(ctx, got.ID)
		if err != nil {
			t.Errorf("%s: Item(%d) = %v", tt.name, got.ID, err)
			continue
		}
		if diff := cmp.Diff(got, read); diff != "" {
			t.Errorf("%s: Item(%d) differs from what AddItem returned (-added +read):\n%s", tt.name, got.ID, diff)
		}
		if (read.Description == nil) != (tt.in.Description == nil) {
			t.Errorf("%s: Item(%d).Description = %v, want nil-ness %v", tt.name, got.ID, read.Description, tt.in.Description == nil)
		}
		if read.CreatedAt.Location() != time.UTC {
			t.Errorf("%s: Item(%d).CreatedAt location = %v, want UTC", tt.name, got.ID, read.CreatedAt.Location())
		}
		page, err := s.Items(ctx, items.ItemQuery{After: got.ID - 1, Limit: 1})
		if err != nil || len(page) != 1 {
			t.Errorf("%s: Items(After %d, Limit 1) = %v, %v, want one item", tt.name, got.ID-1, page, err)
			continue
		}
		if diff := cmp.Diff(got, page[0]); diff != "" {
			t.Errorf("%s: Items() differs from what AddItem returned (-added +listed):\n%s", tt.name, diff)
		}
	}
}

func longString(s string, n int) string {
	b := make([]byte, 0, n*len(s))
	for range n {
		b = append(b, s...)
	}
	return string(b)
}

func testAddItemUnknownCreator(t *testing.T, s items.Store) {
	in := items.NewItem{Name: "Orphan", CreatedByID: 1 << 40}
	if got, err := s.AddItem(t.Context(), in); err == nil {
		t.Errorf("AddItem(%v) = %v, nil, want an error for an unknown creator", in, got)
	}
	if n, err := s.CountItems(t.Context(), ""); err != nil || n != len(items.DemoItems) {
		t.Errorf(`CountItems("") = %d, %v after a failed AddItem, want %d, nil`, n, err, len(items.DemoItems))
	}
}

func testIDsIncrease(t *testing.T, s items.Store) {
	added := AddItems(t, s, "a", "b", "c", "d", "e")
	prev := int64(len(items.DemoItems))
	for _, it := range added {
		if it.ID <= prev {
			t.Errorf("AddItem(%q).ID = %d, want > %d", it.Name, it.ID, prev)
		}
		prev = it.ID
	}
}

func testItems(t *testing.T, s items.Store) {
	ctx := t.Context()
	AddItems(t, s, "c", "d", "e", "f", "g", "h", "i", "j")
	all, err := s.Items(ctx, items.ItemQuery{Limit: items.MaxPageSize + 1})
	if err != nil {
		t.Fatalf("Items() = %v", err)
	}
	if len(all) != 10 {
		t.Fatalf("Items() returned %d items, want 10", len(all))
	}
	ids := IDs(all)
	tests := []struct {
		q    items.ItemQuery
		want []int64
	}{
		{items.ItemQuery{Limit: 3}, ids[:3]},
		{items.ItemQuery{Limit: 1}, ids[:1]},
		{items.ItemQuery{After: ids[0], Limit: 3}, ids[1:4]},
		{items.ItemQuery{After: ids[4], Limit: 100}, ids[5:]},
		{items.ItemQuery{After: ids[8], Limit: 5}, ids[9:]},
		{items.ItemQuery{After: ids[9], Limit: 5}, []int64{}},
		{items.ItemQuery{After: 1 << 40, Limit: 5}, []int64{}},
		{items.ItemQuery{After: math.MaxInt64, Limit: 5}, []int64{}},
		{items.ItemQuery{After: 0, Limit: 2}, ids[:2]},
		{items.ItemQuery{After: -7, Limit: 2}, ids[:2]},
		{items.ItemQuery{Limit: 0}, []int64{}},
		{items.ItemQuery{After: ids[3], Limit: 0}, []int64{}},
		{items.ItemQuery{Limit: items.MaxPageSize + 1}, ids},
	}
	for _, tt := range tests {
		checkItems(t, s, tt.q, IDs, tt.want)
	}
}

// checkItems checks that s answers q with a page (not nil) whose IDs or
// Names (key) are want.
func checkItems[T any](t *testing.T, s items.Store, q items.ItemQuery, key func([]items.Item) []T, want []T) {
	t.Helper()
	got, err := s.Items(t.Context(), q)
	if err != nil {
		t.Errorf("Items(%+v) = %v", q, err)
		return
	}
	if got == nil {
		t.Errorf("Items(%+v) = nil, want a non-nil slice", q)
	}
	if diff := cmp.Diff(want, key(got)); diff != "" {
		t.Errorf("Items(%+v) mismatch (-want +got):\n%s", q, diff)
	}
}

func testItemsLimit(t *testing.T, s items.Store) {
	for _, q := range []items.ItemQuery{
		{Limit: -1},
		{Limit: items.MaxPageSize + 2},
		{Search: "a", Limit: -1},
	} {
		got, err := s.Items(t.Context(), q)
		if code := items.ErrorCode(err); code != items.Invalid {
			t.Errorf("Items(%+v) = %v, %v (code %q), want code %q", q, got, err, code, items.Invalid)
		}
	}
}

func testItemsWalk(t *testing.T, s items.Store) {
	const n, page = 250, items.MaxPageSize
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("item %03d", i)
	}
	added := AddItems(t, s, names...)

	var seen []int64
	after := int64(0)
	for pages := 0; ; pages++ {
		if pages > n {
			t.Fatalf("walk did not end after %d pages", pages)
		}
		got, err := s.Items(t.Context(), items.ItemQuery{After: after, Limit: page + 1})
		if err != nil {
			t.Fatalf("Items(After %d, Limit %d) = %v", after, page+1, err)
		}
		more := len(got) > page
		if more {
			got = got[:page]
		}
		seen = append(seen, IDs(got)...)
		if !more {
			break
		}
		after = got[len(got)-1].ID
	}
	want := []int64{1, 2}
	want = append(want, IDs(added)...)
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("IDs seen walking pages of %d (-want +got):\n%s", page, diff)
	}
	if n, err := s.CountItems(t.Context(), ""); err != nil || n != len(want) {
		t.Errorf(`CountItems("") = %d, %v, want %d, nil`, n, err, len(want))
	}
}

// SearchCase is a search of a store that holds the demo items and the
// names of SearchCases, and the names of the items it finds, in the order
// of their IDs.
type SearchCase struct {
	Query string
	Want  []string
}

// SearchCases returns the names of the items that the search tests add
// to a new store: names with letters whose case folds beyond ASCII, and
// characters special in SQL patterns, next to look-alikes that must not
// match them; and the searches of that store, with what each finds, the
// first of them "", which finds every item.
func SearchCases() (names []string, cases []SearchCase) {
	names = []string{
		"grüne äpfel",
		"100% juice",
		"100 juice",
		"a_b",
		"axb",
		`back\slash`,
		"backslash",
		"it's",
		"its",
		`say "hi"`,
		"kiwi",
		"ΣΊΣΥΦΟΣ",
		"straße",
		"*star?",
	}
	all := append([]string{"Apple", "Banana"}, names...)
	return names, []SearchCase{
		{"", all},
		{"ÄPFEL", []string{"grüne äpfel"}},
		{"äpfel", []string{"grüne äpfel"}},
		{"GRÜNE ÄPFEL", []string{"grüne äpfel"}},
		{"apple", []string{"Apple"}},
		{"APPLE", []string{"Apple"}},
		{"an", []string{"Banana"}},
		{"%", []string{"100% juice"}},
		{"100%", []string{"100% juice"}},
		{"0%", []string{"100% juice"}},
		{"_", []string{"a_b"}},
		{"a_b", []string{"a_b"}},
		{"A_B", []string{"a_b"}},
		{`\`, []string{`back\slash`}},
		{`K\S`, []string{`back\slash`}},
		{"'", []string{"it's"}},
		{"T'S", []string{"it's"}},
		{`"`, []string{`say "hi"`}},
		{`"HI"`, []string{`say "hi"`}},
		{"*", []string{"*star?"}},
		{"?", []string{"*star?"}},
		{"\u212Aiwi", []string{"kiwi"}}, // KELVIN SIGN folds with k
		{"KIWI", []string{"kiwi"}},
		{"σίσυφος", []string{"ΣΊΣΥΦΟΣ"}}, // final sigma folds with Σ and σ
		{"STRAẞE", []string{"straße"}},   // capital sharp s folds with ß
		{"juice", []string{"100% juice", "100 juice"}},
		{"zzz", []string{}},
		{"äpfel!", []string{}},
		{"%%", []string{}},
		{"a%b", []string{}},
	}
}

func testSearch(t *testing.T, s items.Store) {
	ctx := t.Context()
	names, tests := SearchCases()
	AddItems(t, s, names...)
	for _, tt := range tests {
		checkItems(t, s, items.ItemQuery{Search: tt.Query, Limit: items.MaxPageSize + 1}, Names, tt.Want)
		n, err := s.CountItems(ctx, tt.Query)
		if err != nil || n != len(tt.Want) {
			t.Errorf("CountItems(%q) = %d, %v, want %d, nil", tt.Query, n, err, len(tt.Want))
		}
	}
}

func testSearchPages(t *testing.T, s items.Store) {
	ctx := t.Context()
	added := AddItems(t, s, "x1", "y1", "X2", "y2", "x3", "x4", "y3", "x5")
	var xs []int64
	for _, it := range added {
		if it.Name[0] == 'x' || it.Name[0] == 'X' {
			xs = append(xs, it.ID)
		}
	}
	tests := []struct {
		q    items.ItemQuery
		want []int64
	}{
		{items.ItemQuery{Search: "x", Limit: 2}, xs[:2]},
		{items.ItemQuery{Search: "x", After: xs[1], Limit: 2}, xs[2:4]},
		{items.ItemQuery{Search: "X", After: xs[3], Limit: 2}, xs[4:]},
		{items.ItemQuery{Search: "x", After: xs[4], Limit: 2}, []int64{}},
		{items.ItemQuery{Search: "x", After: added[1].ID, Limit: 10}, xs[1:]},
		{items.ItemQuery{Search: "x", Limit: 0}, []int64{}},
	}
	for _, tt := range tests {
		got, err := s.Items(ctx, tt.q)
		if err != nil {
			t.Errorf("Items(%+v) = %v", tt.q, err)
			continue
		}
		if diff := cmp.Diff(tt.want, IDs(got)); diff != "" {
			t.Errorf("Items(%+v) IDs mismatch (-want +got):\n%s", tt.q, diff)
		}
	}
	for _, q := range []string{"x", "X", "y", "1", ""} {
		want := 0
		for _, name := range append([]string{"Apple", "Banana"}, Names(added)...) {
			if containsFold(name, q) {
				want++
			}
		}
		if n, err := s.CountItems(ctx, q); err != nil || n != want {
			t.Errorf("CountItems(%q) = %d, %v, want %d, nil", q, n, err, want)
		}
	}
}

func containsFold(s, sub string) bool {
	return strings.Contains(items.FoldString(s), items.FoldString(sub))
}

func testAddToken(t *testing.T, s items.Store) {
	ctx := t.Context()
	_, h1 := items.NewToken()
	alice, err := s.AddToken(ctx, "alice", items.RoleUser, h1)
	if err != nil {
		t.Fatalf("AddToken(alice, USER) = %v", err)
	}
	if alice.ID <= 0 || alice.Name != "alice" || alice.Role != items.RoleUser {
		t.Errorf("AddToken(alice, USER) = %v, want a user with ID > 0, Name alice, Role USER", alice)
	}

	again, err := s.AddToken(ctx, "alice", items.RoleUser, h1)
	if err != nil {
		t.Fatalf("AddToken(alice, USER) with the same hash again = %v", err)
	}
	if diff := cmp.Diff(alice, again); diff != "" {
		t.Errorf("AddToken with the same hash again mismatch (-first +again):\n%s", diff)
	}

	// A hash that is stored already changes nothing, whatever else it names.
	same, err := s.AddToken(ctx, "mallory", items.RoleAdmin, h1)
	if err != nil {
		t.Fatalf("AddToken(mallory, ADMIN) with alice's hash = %v", err)
	}
	if diff := cmp.Diff(alice, same); diff != "" {
		t.Errorf("AddToken(mallory, ADMIN) with alice's hash changed something (-alice +got):\n%s", diff)
	}
	if u, role, err := s.UserByToken(ctx, h1); err != nil || u != alice || role != items.RoleUser {
		t.Errorf("UserByToken(h1) = %v, %v, %v, want %v, USER, nil", u, role, err, alice)
	}

	_, h2 := items.NewToken()
	second, err := s.AddToken(ctx, "alice", items.RoleUser, h2)
	if err != nil {
		t.Fatalf("AddToken(alice, USER) with a new hash = %v", err)
	}
	if diff := cmp.Diff(alice, second); diff != "" {
		t.Errorf("AddToken for an existing user made another (-first +second):\n%s", diff)
	}

	bob, _ := AddUser(t, s, "bob", items.RoleUser)
	if bob.ID == alice.ID {
		t.Errorf("AddToken(bob) returned alice's ID %d", bob.ID)
	}
	got, err := s.Users(ctx, []int64{alice.ID})
	if err != nil {
		t.Fatalf("Users(%d) = %v", alice.ID, err)
	}
	if diff := cmp.Diff([]items.User{alice}, got); diff != "" {
		t.Errorf("Users(%d) mismatch (-want +got):\n%s", alice.ID, diff)
	}
}

// testUserNames checks how AddToken finds or makes the user a name
// designates: exactly, else equal but for ASCII case; a new name must pass
// items.ValidateNewUserName.
func testUserNames(t *testing.T, s items.Store) {
	ctx := t.Context()
	alice, _ := AddUser(t, s, "alice", items.RoleUser)
	bob, _ := AddUser(t, s, "Bob.Smith_2-x", items.RoleUser)
	tests := []struct {
		name     string
		want     items.User // the user, when no error
		wantCode items.Code
	}{
		{"alice", alice, ""},
		{"Alice", alice, ""},
		{"ALICE", alice, ""},
		{"bob.smith_2-X", bob, ""},
		{"BOB.SMITH_2-X", bob, ""},
		{"alice\u200b", items.User{}, items.Invalid}, // zero-width space
		{"\u0430lice", items.User{}, items.Invalid},  // Cyrillic а
		{"\ufeffalice", items.User{}, items.Invalid}, // byte-order mark
		{"al\u0131ce", items.User{}, items.Invalid},  // dotless ı
		{"\u212aate", items.User{}, items.Invalid},   // the Kelvin sign is not K
		{"new user", items.User{}, items.Invalid},    // no spaces
		{"J\u00fcrgen", items.User{}, items.Invalid}, // non-ASCII, new
		{strings.Repeat("a", 65), items.User{}, items.Invalid},
	}
	for _, tt := range tests {
		_, hash := items.NewToken()
		got, err := s.AddToken(ctx, tt.name, items.RoleUser, hash)
		if tt.wantCode != "" {
			if code := items.ErrorCode(err); code != tt.wantCode {
				t.Errorf("AddToken(%+q) = %v, %v; want an error with code %s", tt.name, got, err, tt.wantCode)
			}
			if _, _, err := s.UserByToken(ctx, hash); items.ErrorCode(err) != items.Unauthenticated {
				t.Errorf("after a refused AddToken(%+q), UserByToken = %v, want code %s", tt.name, err, items.Unauthenticated)
			}
			continue
		}
		if err != nil {
			t.Errorf("AddToken(%+q) = %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("AddToken(%+q) mismatch (-want +got):\n%s", tt.name, diff)
		}
		if u, _, err := s.UserByToken(ctx, hash); err != nil || u.ID != tt.want.ID {
			t.Errorf("UserByToken(token of %+q) = %v, %v; want %v", tt.name, u, err, tt.want)
		}
	}
	// An admin token under another case raises the one user's role.
	if u, _ := AddUser(t, s, "ALICE", items.RoleAdmin); u.ID != alice.ID || u.Name != "alice" || u.Role != items.RoleAdmin {
		t.Errorf("AddToken(ALICE, ADMIN) = %v, want alice with role ADMIN", u)
	}
}

// testConcurrentUserNames checks that tokens made at once for one new
// user under names that differ in case make one user.
func testConcurrentUserNames(t *testing.T, s items.Store) {
	ctx := t.Context()
	names := []string{"grace", "Grace", "GRACE", "gRaCe", "grace", "GRACE"}
	users := make([]items.User, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			_, hash := items.NewToken()
			users[i], errs[i] = s.AddToken(ctx, name, items.RoleUser, hash)
		})
	}
	wg.Wait()
	for i := range names {
		if errs[i] != nil {
			t.Fatalf("concurrent AddToken(%q) = %v", names[i], errs[i])
		}
		if users[i] != users[0] {
			t.Errorf("concurrent AddToken(%q) = %v, want %v: one user", names[i], users[i], users[0])
		}
	}
}

// LegacyUser is a user stored before new user names had to be ASCII,
// with one token.
type LegacyUser struct {
	Name string
	Hash items.TokenHash
}

// RunLegacyUserNames checks that users stored before the rule of
// items.ValidateNewUserName keep working. newStore returns a store holding
// the demo items and those users, stored in that order (so with increasing
// IDs) as the backend's earlier versions did, each with a USER token, and
// arranges for it to be closed.
func RunLegacyUserNames(t *testing.T, newStore func(t *testing.T, users []LegacyUser) items.Store) {
	legacy := make([]LegacyUser, 0, 5)
	for _, name := range []string{"J\u00fcrgen", "Bob", "bob", "BOB", "Zo\u00eb Smith"} {
		_, hash := items.NewToken()
		legacy = append(legacy, LegacyUser{Name: name, Hash: hash})
	}
	s := newStore(t, legacy)
	ctx := t.Context()
	ids := make(map[string]int64)
	for _, l := range legacy {
		u, role, err := s.UserByToken(ctx, l.Hash)
		if err != nil || u.Name != l.Name || role != items.RoleUser {
			t.Fatalf("UserByToken(token of %q) = %v, %v, %v; want that user, USER", l.Name, u, role, err)
		}
		ids[l.Name] = u.ID
	}
	tests := []struct {
		name, want string
	}{
		{"J\u00fcrgen", "J\u00fcrgen"}, // not a new name: a new token for the user
		{"j\u00fcrgen", "J\u00fcrgen"}, // ASCII case only
		{"Zo\u00eb Smith", "Zo\u00eb Smith"},
		{"Bob", "Bob"}, // an exact match wins
		{"bob", "bob"},
		{"BOB", "BOB"},
		{"bOB", "Bob"}, // else the oldest of the names equal but for case
	}
	for _, tt := range tests {
		_, hash := items.NewToken()
		got, err := s.AddToken(ctx, tt.name, items.RoleUser, hash)
		if err != nil || got.ID != ids[tt.want] || got.Name != tt.want {
			t.Errorf("AddToken(%+q) = %v, %v; want user %d, %+q", tt.name, got, err, ids[tt.want], tt.want)
		}
	}
	if _, err := s.AddToken(ctx, "J\u00dcrgen", items.RoleUser, items.HashToken("x")); items.ErrorCode(err) != items.Invalid {
		t.Errorf("AddToken(J\u00dcrgen) = %v, want code %s: a new non-ASCII name", err, items.Invalid)
	}
}

func testRoles(t *testing.T, s items.Store) {
	ctx := t.Context()
	steps := []struct {
		role     items.Role
		wantRole items.Role
	}{
		{items.RoleUser, items.RoleUser},
		{items.RoleUser, items.RoleUser},
		{items.RoleAdmin, items.RoleAdmin},
		{items.RoleUser, items.RoleAdmin}, // the highest role ever granted
	}
	var hashes []items.TokenHash
	var id int64
	for i, st := range steps {
		u, hash := AddUser(t, s, "carol", st.role)
		hashes = append(hashes, hash)
		if i == 0 {
			id = u.ID
		}
		want := items.User{ID: id, Name: "carol", Role: st.wantRole}
		if diff := cmp.Diff(want, u); diff != "" {
			t.Errorf("step %d: AddToken(carol, %v) mismatch (-want +got):\n%s", i, st.role, diff)
		}
		users, err := s.Users(ctx, []int64{id})
		if err != nil {
			t.Fatalf("Users(%d) = %v", id, err)
		}
		if diff := cmp.Diff([]items.User{want}, users); diff != "" {
			t.Errorf("step %d: Users(%d) mismatch (-want +got):\n%s", i, id, diff)
		}
	}
	// Each token still grants its own role.
	for i, hash := range hashes {
		u, role, err := s.UserByToken(ctx, hash)
		want := items.User{ID: id, Name: "carol", Role: items.RoleAdmin}
		if err != nil || u != want || role != steps[i].role {
			t.Errorf("UserByToken(token %d) = %v, %v, %v, want %v, %v, nil", i, u, role, err, want, steps[i].role)
		}
	}
}

func testUserByToken(t *testing.T, s items.Store) {
	ctx := t.Context()
	dave, userHash := AddUser(t, s, "dave", items.RoleUser)
	dave2, adminHash := AddUser(t, s, "dave", items.RoleAdmin)
	if dave2.ID != dave.ID {
		t.Fatalf("AddToken(dave, ADMIN).ID = %d, want %d", dave2.ID, dave.ID)
	}
	erin, erinHash := AddUser(t, s, "erin", items.RoleAdmin)
	_, unknown := items.NewToken()
	daveNow := items.User{ID: dave.ID, Name: "dave", Role: items.RoleAdmin}
	tests := []struct {
		name     string
		hash     items.TokenHash
		wantUser items.User
		wantRole items.Role
		wantCode items.Code
	}{
		{"user token", userHash, daveNow, items.RoleUser, ""},
		{"admin token", adminHash, daveNow, items.RoleAdmin, ""},
		{"other user", erinHash, erin, items.RoleAdmin, ""},
		{"unknown", unknown, items.User{}, "", items.Unauthenticated},
		{"zero", items.TokenHash{}, items.User{}, "", items.Unauthenticated},
	}
	for _, tt := range tests {
		u, role, err := s.UserByToken(ctx, tt.hash)
		if code := items.ErrorCode(err); code != tt.wantCode {
			t.Errorf("%s: UserByToken() error = %v (code %q), want code %q", tt.name, err, code, tt.wantCode)
			continue
		}
		if err != nil {
			continue
		}
		if u != tt.wantUser || role != tt.wantRole {
			t.Errorf("%s: UserByToken() = %v, %v, want %v, %v", tt.name, u, role, tt.wantUser, tt.wantRole)
		}
	}
}

func testUsers(t *testing.T, s items.Store) {
	ctx := t.Context()
	a, _ := AddUser(t, s, "ann", items.RoleUser)
	b, _ := AddUser(t, s, "ben", items.RoleAdmin)
	c, _ := AddUser(t, s, "cid", items.RoleUser)
	byID := func(x, y items.User) bool { return x.ID < y.ID }
	tests := []struct {
		ids  []int64
		want []items.User
	}{
		{nil, nil},
		{[]int64{}, nil},
		{[]int64{a.ID}, []items.User{a}},
		{[]int64{c.ID, a.ID}, []items.User{a, c}},
		{[]int64{a.ID, b.ID, c.ID}, []items.User{a, b, c}},
		{[]int64{b.ID, b.ID, b.ID}, []items.User{b}},
		{[]int64{a.ID, 1 << 40, 0, -1, c.ID, a.ID}, []items.User{a, c}},
		{[]int64{1 << 40}, nil},
	}
	for _, tt := range tests {
		got, err := s.Users(ctx, tt.ids)
		if err != nil {
			t.Errorf("Users(%v) = %v", tt.ids, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmpopts.SortSlices(byID), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Users(%v) mismatch (-want +got):\n%s", tt.ids, diff)
		}
	}
}

func testConcurrentAddItem(t *testing.T, s items.Store) {
	const goroutines, each = 50, 10
	ctx := t.Context()
	ids := make(map[int64]bool)
	for g, its := range AddConcurrently(t, s, goroutines, each) {
		for i, it := range its {
			if ids[it.ID] {
				t.Errorf("AddItem(g%d-%d).ID = %d, already assigned", g, i, it.ID)
			}
			ids[it.ID] = true
		}
	}
	if len(ids) != goroutines*each {
		t.Errorf("%d concurrent AddItem calls assigned %d distinct IDs", goroutines*each, len(ids))
	}
	want := goroutines*each + len(items.DemoItems)
	if n, err := s.CountItems(ctx, ""); err != nil || n != want {
		t.Errorf(`CountItems("") = %d, %v, want %d, nil`, n, err, want)
	}
	seen := IDs(ReadAll(t, s, "", items.MaxPageSize))
	if len(seen) != want || !slices.IsSorted(seen) {
		t.Errorf("walking Items() saw %d IDs (sorted: %v), want %d in order", len(seen), slices.IsSorted(seen), want)
	}
}

func testConcurrentAddToken(t *testing.T, s items.Store) {
	const goroutines = 8
	ctx := t.Context()
	_, shared := items.NewToken()
	users := make([]items.User, 2*goroutines)
	errs := make([]error, 2*goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		// Several processes bootstrapping the same admin token at once.
		wg.Go(func() { users[g], errs[g] = s.AddToken(ctx, "admin", items.RoleAdmin, shared) })
		// Several new tokens for one new user at once.
		wg.Go(func() {
			_, hash := items.NewToken()
			users[goroutines+g], errs[goroutines+g] = s.AddToken(ctx, "frank", items.RoleUser, hash)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent AddToken %d = %v", i, err)
		}
	}
	if t.Failed() {
		return
	}
	for i, u := range users[:goroutines] {
		if u != users[0] || u.Name != "admin" || u.Role != items.RoleAdmin {
			t.Errorf("concurrent AddToken(admin) %d = %v, want %v, named admin, ADMIN", i, u, users[0])
		}
	}
	for i, u := range users[goroutines:] {
		if u != users[goroutines] || u.Name != "frank" {
			t.Errorf("concurrent AddToken(frank) %d = %v, want %v", i, u, users[goroutines])
		}
	}
	u, role, err := s.UserByToken(ctx, shared)
	if err != nil || u != users[0] || role != items.RoleAdmin {
		t.Errorf("UserByToken(shared) = %v, %v, %v, want %v, ADMIN, nil", u, role, err, users[0])
	}
}

func testPing(t *testing.T, s items.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping() = %v, want nil", err)
	}
}

func testClose(t *testing.T, s items.Store) {
	AddItems(t, s, "Cherry")
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v, want nil", err)
	}
}

func testCloseEndsSubscriptions(t *testing.T, s items.Store, b items.Broker) {
	sub := Subscribe(t, b, items.FromNow)
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if _, err := WaitEnd(t, sub); err == nil {
		t.Errorf("after Close, Err() = nil, want the reason the subscription ended")
	}
}

// testBrokerOrder adds items from several goroutines at once, with two
// subscribers: each gets every item added, once, and both get them in the
// same order, the order of the store's log. That order need not be the
// items' IDs (with concurrent writers an ID may commit after a greater
// one), but it keeps the order of each goroutine's additions: an item
// added after another was acknowledged comes after it. With LogInIDOrder,
// it is the IDs' order.
func testBrokerOrder(t *testing.T, s items.Store, b items.Broker, o options) {
	const goroutines, each = 4, 25
	subs := []*items.Subscription{Subscribe(t, b, items.FromNow), Subscribe(t, b, items.FromNow)}
	added := AddConcurrently(t, s, goroutines, each)
	if t.Failed() {
		return
	}

	got := Receive(t, subs[0], goroutines*each)
	want := slices.Concat(added...)
	slices.SortFunc(want, func(x, y items.Item) int { return cmpInt(x.ID, y.ID) })
	byID := slices.Clone(got)
	slices.SortFunc(byID, func(x, y items.Item) int { return cmpInt(x.ID, y.ID) })
	if diff := cmp.Diff(want, byID); diff != "" {
		t.Errorf("received items, sorted by ID, mismatch (-added +received):\n%s", diff)
	}
	CheckEachInOrder(t, got, added)
	if diff := cmp.Diff(IDs(got), IDs(Receive(t, subs[1], len(got)))); diff != "" {
		t.Errorf("the two subscribers received different orders (-first +second):\n%s", diff)
	}
	if ids := IDs(got); o.idOrder && !slices.IsSorted(ids) {
		t.Errorf("received IDs %v, want them increasing: the store's log is in ID order", ids)
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testBrokerOnlyLater(t *testing.T, s items.Store, b items.Broker) {
	AddItems(t, s, "before")
	sub := Subscribe(t, b, items.FromNow)
	want := AddItems(t, s, "after 1", "after 2")
	got := Receive(t, sub, 2)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("received items mismatch (-added +received):\n%s", diff)
	}
}

func testBrokerTwoSubscribers(t *testing.T, s items.Store, b items.Broker) {
	sub1 := Subscribe(t, b, items.FromNow)
	sub2 := Subscribe(t, b, items.FromNow)
	want := AddItems(t, s, "one", "two", "three")
	for i, sub := range []*items.Subscription{sub1, sub2} {
		got := Receive(t, sub, len(want))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("subscriber %d: received items mismatch (-added +received):\n%s", i+1, diff)
		}
	}
}

func testBrokerCancel(t *testing.T, b items.Broker) {
	ctx, cancel := context.WithCancel(t.Context())
	sub, err := b.Subscribe(ctx, items.FromNow)
	if err != nil {
		t.Fatalf("Subscribe() = %v", err)
	}
	cancel()
	if got, err := WaitEnd(t, sub); err != nil || len(got) != 0 {
		t.Errorf("after cancel: received %v, Err() = %v, want nothing and nil", got, err)
	}
}

func testBrokerResume(t *testing.T, s items.Store, b items.Broker) {
	added := AddItems(t, s, "one", "two", "three", "four")
	sub := Subscribe(t, b, added[1].ID)
	later := AddItems(t, s, "five")
	want := append(added[2:], later...)
	if diff := cmp.Diff(want, Receive(t, sub, len(want))); diff != "" {
		t.Errorf("resumed after %d: received items mismatch (-want +got):\n%s", added[1].ID, diff)
	}

	// After the newest item: nothing until one is added.
	sub = Subscribe(t, b, later[0].ID)
	want = AddItems(t, s, "six")
	if diff := cmp.Diff(want, Receive(t, sub, 1)); diff != "" {
		t.Errorf("resumed after the newest: received items mismatch (-want +got):\n%s", diff)
	}
	// After an ID above every item's: see ResumeAboveEveryID.
}

// testBrokerSlowSubscriber checks that a subscriber that reads nothing
// while many items are added holds up neither the writer nor another
// subscriber, and then gets every item, in order: more than a process
// keeps in memory, so some come from the store.
func testBrokerSlowSubscriber(t *testing.T, s items.Store, b items.Broker) {
	const n = 1500
	ctx := t.Context()
	slow := Subscribe(t, b, items.FromNow)
	fast := Subscribe(t, b, items.FromNow)
	var want []items.Item
	for i := range n / 100 {
		var wg sync.WaitGroup
		batch := make([]items.Item, 100)
		for j := range batch {
			wg.Go(func() {
				it, err := s.AddItem(ctx, items.NewItem{Name: fmt.Sprintf("slow %d-%d", i, j)})
				if err != nil {
					t.Errorf("AddItem() = %v", err)
				}
				batch[j] = it
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		got := Receive(t, fast, len(batch))
		want = append(want, got...)
	}
	if diff := cmp.Diff(IDs(want), IDs(Receive(t, slow, n))); diff != "" {
		t.Errorf("the slow subscriber received (-as the fast one +slow):\n%s", diff)
	}
}

func testBrokerShutdown(t *testing.T, s items.Store, b items.Broker) {
	sd, ok := b.(Shutdowner)
	if !ok {
		t.Skip("the broker has no Shutdown")
	}
	sub := Subscribe(t, b, items.FromNow)
	want := AddItems(t, s, "before 1", "before 2")
	sd.Shutdown()
	got, err := WaitEnd(t, sub)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("received before the end (-added +received):\n%s", diff)
	}
	if !errors.Is(err, items.ErrGoingAway) {
		t.Errorf("Err() = %v, want items.ErrGoingAway", err)
	}
	if _, err := b.Subscribe(t.Context(), items.FromNow); err == nil {
		t.Errorf("Subscribe() after Shutdown succeeded, want an error")
	}
}
