package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"itemsapi/internal/testserver"
	"itemsapi/items"
	"itemsapi/store/storetest"
)

// holdWriter takes the only connection of the writer pool, so that the
// writer, once it has taken a batch, waits for it to begin its
// transaction. It returns the function that gives the connection back,
// which the test's cleanup calls too.
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	c, err := s.w.Conn(t.Context())
	if err != nil {
		t.Fatalf("Conn() = %v", err)
	}
	var once sync.Once
	release = func() { once.Do(func() { c.Close() }) }
	t.Cleanup(release)
	return release
}

// waitForWaits waits until the writer pool has made n callers wait for its
// connection, in all.
func waitForWaits(t *testing.T, s *Store, n int64) {
	t.Helper()
	if !testserver.Eventually(storetest.Timeout, func() bool { return s.w.Stats().WaitCount >= n }) {
		t.Fatalf("the writer did not wait for its connection within %v", storetest.Timeout)
	}
}

// store adds its in one transaction and sets their IDs, in the order of
// its. It returns the error of each item: nil for those stored; an item
// that breaks a constraint fails alone.
func (s *Store) store(ctx context.Context, its []items.Item) []error {
	batch := make([]*addRequest, len(its))
	for i, it := range its {
		batch[i] = &addRequest{op: opAdd, item: it}
	}
	results, _ := s.apply(ctx, batch)
	errs := make([]error, len(its))
	for i, r := range results {
		its[i].ID, errs[i] = r.item.ID, r.err
	}
	return errs
}

// TestStoreFailsBadItemsAlone stores a batch in which some items name no
// user: they fail with code Invalid, and the others are stored, in order.
func TestStoreFailsBadItemsAlone(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	_, hash := items.NewToken()
	u, err := s.AddToken(ctx, "alice", items.RoleUser, hash)
	if err != nil {
		t.Fatalf("AddToken() = %v", err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	its := []items.Item{
		{Name: "good 1"},
		{Name: "bad 1", CreatedByID: 1 << 40},
		{Name: "good 2", CreatedByID: u.ID, Description: storetest.Ptr("described")},
		{Name: "bad 2", CreatedByID: -5},
		{Name: "good 3"},
	}
	for i := range its {
		its[i].CreatedAt = now
	}
	errs := s.store(ctx, its)
	prev := int64(len(items.DemoItems))
	for i, it := range its {
		bad := it.CreatedByID != 0 && it.CreatedByID != u.ID
		if bad {
			if c := items.ErrorCode(errs[i]); c != items.Invalid {
				t.Errorf("store(): %s: error %v (code %q), want code %q", it.Name, errs[i], c, items.Invalid)
			}
			continue
		}
		if errs[i] != nil {
			t.Errorf("store(): %s: error %v", it.Name, errs[i])
			continue
		}
		if it.ID <= prev {
			t.Errorf("store(): %s: ID %d, want above %d", it.Name, it.ID, prev)
		}
		prev = it.ID
		got, err := s.Item(ctx, it.ID)
		if err != nil || got.Name != it.Name || got.CreatedByID != it.CreatedByID || !got.CreatedAt.Equal(now) {
			t.Errorf("Item(%d) = %v, %v, want %v", it.ID, got, err, it)
		}
	}
	if n, err := s.CountItems(ctx, ""); err != nil || n != len(items.DemoItems)+3 {
		t.Errorf(`CountItems("") = %d, %v, want %d, nil`, n, err, len(items.DemoItems)+3)
	}
}

// TestAddItemBatches adds items from many goroutines at once, some of them
// naming no user: each call gets its own item, or its own error, and
// subscribers get the stored items in ID order.
func TestAddItemBatches(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	sub := storetest.Subscribe(t, s, items.FromNow)
	const goroutines, each = 32, 8
	var (
		mu    sync.Mutex
		added []items.Item
		wg    sync.WaitGroup
	)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				n := items.NewItem{Name: fmt.Sprintf("g%d #%d", g, i)}
				bad := (g+i)%5 == 0
				if bad {
					n.CreatedByID = 1 << 40
				}
				it, err := s.AddItem(ctx, n)
				switch {
				case bad && items.ErrorCode(err) != items.Invalid:
					t.Errorf("AddItem(%v) = %v, %v, want an error with code %q", n, it, err, items.Invalid)
				case bad:
				case err != nil:
					t.Errorf("AddItem(%v) = %v", n, err)
				case it.Name != n.Name:
					t.Errorf("AddItem(%v) = %v, another item", n, it)
				default:
					mu.Lock()
					added = append(added, it)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	slices.SortFunc(added, func(a, b items.Item) int { return int(a.ID - b.ID) })
	for _, it := range added {
		if got, err := s.Item(ctx, it.ID); err != nil || got.Name != it.Name {
			t.Errorf("Item(%d) = %v, %v, want %v", it.ID, got, err, it)
		}
	}
	got := storetest.Receive(t, sub, len(added))
	if !slices.EqualFunc(got, added, func(a, b items.Item) bool { return a.ID == b.ID && a.Name == b.Name }) {
		t.Errorf("received %v, want %v", storetest.IDs(got), storetest.IDs(added))
	}
}

// TestAddItemCancelled checks both sides of the moment the writer takes an
// item: a caller whose ctx ends before gets the ctx error and nothing is
// stored; one whose ctx ends after gets its item.
func TestAddItemCancelled(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	release := holdWriter(t, s)

	takenCtx, cancelTaken := context.WithCancel(ctx)
	taken := make(chan error, 1)
	go func() {
		_, err := s.AddItem(takenCtx, items.NewItem{Name: "taken"})
		taken <- err
	}()
	waitForWaits(t, s, 1) // the writer took it and waits for the connection
	cancelTaken()

	waitingCtx, cancelWaiting := context.WithCancel(ctx)
	waiting := make(chan error, 1)
	go func() {
		_, err := s.AddItem(waitingCtx, items.NewItem{Name: "cancelled"})
		waiting <- err
	}()
	cancelWaiting()
	if err := <-waiting; !errors.Is(err, context.Canceled) {
		t.Errorf("AddItem() cancelled before being taken = %v, want context.Canceled", err)
	}

	release()
	if err := <-taken; err != nil {
		t.Errorf("AddItem() cancelled after being taken = %v, want nil", err)
	}
	page, err := s.Items(ctx, items.ItemQuery{Limit: items.MaxPageSize})
	if err != nil {
		t.Fatalf("Items() = %v", err)
	}
	if got, want := storetest.Names(page), []string{"Apple", "Banana", "taken"}; !slices.Equal(got, want) {
		t.Errorf("names = %q, want %q", got, want)
	}
}

// TestCloseWithPendingAddItem closes a store while an item is taken and
// others wait: the taken one is stored and published, the others fail with
// code Unavailable, and later calls too.
func TestCloseWithPendingAddItem(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "items.db")
	s := openAt(t, path)
	sub := storetest.Subscribe(t, s, items.FromNow)
	release := holdWriter(t, s)

	taken := make(chan error, 1)
	go func() {
		_, err := s.AddItem(ctx, items.NewItem{Name: "taken"})
		taken <- err
	}()
	waitForWaits(t, s, 1)
	const pending = 8
	errs := make(chan error, pending)
	for i := range pending {
		go func() {
			_, err := s.AddItem(ctx, items.NewItem{Name: fmt.Sprintf("pending %d", i)})
			errs <- err
		}()
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	// The writer cannot take them: it waits for the connection.
	for range pending {
		if err := <-errs; items.ErrorCode(err) != items.Unavailable {
			t.Errorf("AddItem() pending at Close = %v, want code %q", err, items.Unavailable)
		}
	}
	release()
	if err := <-closed; err != nil {
		t.Errorf("Close() = %v", err)
	}
	if err := <-taken; err != nil {
		t.Errorf("AddItem() taken before Close = %v, want nil", err)
	}
	got, err := storetest.WaitEnd(t, sub)
	if names := storetest.Names(got); !slices.Equal(names, []string{"taken"}) || err == nil {
		t.Errorf("subscription got %q and ended with %v, want [taken] and an error", names, err)
	}
	select {
	case <-s.written:
	default:
		t.Errorf("the writer goroutine still runs after Close")
	}
	if _, err := s.AddItem(ctx, items.NewItem{Name: "late"}); items.ErrorCode(err) != items.Unavailable {
		t.Errorf("AddItem() after Close = %v, want code %q", err, items.Unavailable)
	}

	again := openAt(t, path)
	if n, err := again.CountItems(ctx, ""); err != nil || n != len(items.DemoItems)+1 {
		t.Errorf(`CountItems("") = %d, %v, want %d, nil`, n, err, len(items.DemoItems)+1)
	}
}

// segments returns the number of segments of the trigram index. FTS5 keeps
// the pages of segment n in the rows of items_fts_data from n<<37 on.
func segments(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	err := s.r.QueryRowContext(t.Context(), `SELECT count(DISTINCT id >> 37) FROM items_fts_data WHERE id >= 1 << 37`).Scan(&n)
	if err != nil {
		t.Fatalf("counting segments: %v", err)
	}
	return n
}

// TestIndexMergedWhenIdle writes many small segments to the trigram index,
// one per Import: once no item comes, the writer merges them.
func TestIndexMergedWhenIdle(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	var names []string
	for _, n := range items.DemoItems {
		names = append(names, n.Name)
	}
	for i := range 40 {
		batch := []items.NewItem{{Name: fmt.Sprintf("Banana %d", i)}, {Name: fmt.Sprintf("Mango %d", i)}}
		if err := s.Import(ctx, batch); err != nil {
			t.Fatalf("Import() = %v", err)
		}
		names = append(names, batch[0].Name, batch[1].Name)
	}
	var n int
	if !testserver.Eventually(storetest.Timeout, func() bool { n = segments(t, s); return n <= 4 }) {
		t.Fatalf("the index still has %d segments after %v", n, storetest.Timeout)
	}
	checkIndex(t, s)
	for _, q := range []string{"ana", "ngo 1", "an"} {
		checkSearch(t, s, names, q, 7)
	}
}

// TestIndexSteps: items added one by one reach the trigram index in steps,
// once the writer is idle, and are found by search before and after.
func TestIndexSteps(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	var last items.Item
	for i := range 5 {
		it, err := s.AddItem(ctx, items.NewItem{Name: fmt.Sprintf("zebra %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		last = it
	}
	check := func(when string) {
		t.Helper()
		page, err := s.Items(ctx, items.ItemQuery{Search: "ZEBRA", Limit: 10})
		if n, cerr := s.CountItems(ctx, "zebra"); err != nil || cerr != nil || len(page) != 5 || n != 5 {
			t.Errorf("%s: search found %d items (%v), count %d (%v), want 5", when, len(page), err, n, cerr)
		}
	}
	check("right after adding")
	if !testserver.Eventually(5*time.Second, func() bool { return s.indexed.Load() >= last.ID }) {
		t.Fatalf("indexed = %d after 5 s idle, want %d", s.indexed.Load(), last.ID)
	}
	check("once indexed")
}
