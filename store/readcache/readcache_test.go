package readcache_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"itemsapi/internal/testserver"
	"itemsapi/items"
	"itemsapi/store/memory"
	"itemsapi/store/readcache"
	"itemsapi/store/sqlite"
	"itemsapi/store/storetest"
)

// newStore returns a Store in front of inner and closes it when t ends.
func newStore(t testing.TB, inner items.Store, opts ...readcache.Option) *readcache.Store {
	s := readcache.New(inner, opts...)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) items.Store {
		return newStore(t, memory.New())
	})
}

// TestStoreTiny runs the suite with caches so small that they evict at
// nearly every miss.
func TestStoreTiny(t *testing.T) {
	storetest.Run(t, func(t *testing.T) items.Store {
		return newStore(t, memory.New(),
			readcache.WithMaxItems(2), readcache.WithMaxPages(3), readcache.WithMaxCounts(2),
			readcache.WithMaxBytes(16<<10))
	})
}

// TestStoreSQLite runs the suite in front of the store the cache is meant
// for.
func TestStoreSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("syncs to disk at every write")
	}
	storetest.Run(t, func(t *testing.T) items.Store {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "items.db"))
		if err != nil {
			t.Fatalf("sqlite.Open() = %v", err)
		}
		return newStore(t, db)
	})
}

func TestSubscribeWithoutBroker(t *testing.T) {
	s := newStore(t, struct{ items.Store }{memory.New()})
	if sub, err := s.Subscribe(t.Context(), items.FromNow); err == nil {
		t.Errorf("Subscribe() = %v, nil, want an error: the inner store is no broker", sub)
	}
}

// check reads through s and fails t unless the result is want and the
// reads of inner, counted by calls, went from before to after.
func check[T comparable](t *testing.T, what string, calls *atomic.Int64, read func() (T, error), want T, before, after int64) {
	t.Helper()
	if n := calls.Load(); n != before {
		t.Fatalf("%s: the inner store was read %d times before, want %d", what, n, before)
	}
	got, err := read()
	if err != nil || got != want {
		t.Errorf("%s = %v, %v, want %v, nil", what, got, err, want)
	}
	if n := calls.Load(); n != after {
		t.Errorf("%s read the inner store %d times, want %d", what, n-before, after-before)
	}
}

func TestHitsAndInvalidation(t *testing.T) {
	ctx := t.Context()
	inner := &testserver.Counting{Store: memory.New()}
	s := newStore(t, inner)
	ids := func(q items.ItemQuery) func() (string, error) {
		return func() (string, error) {
			page, err := s.Items(ctx, q)
			return fmt.Sprint(storetest.IDs(page)), err
		}
	}
	name := func(id int64) func() (string, error) {
		return func() (string, error) {
			it, err := s.Item(ctx, id)
			return it.Name, err
		}
	}
	countOf := func(search string) func() (int, error) {
		return func() (int, error) { return s.CountItems(ctx, search) }
	}
	full := items.ItemQuery{Limit: 1}
	short := items.ItemQuery{Limit: 10}
	search := items.ItemQuery{Search: "AN", Limit: 10}

	check(t, "Item(1)", &inner.ItemCalls, name(1), "Apple", 0, 1)
	check(t, "Item(1) again", &inner.ItemCalls, name(1), "Apple", 1, 1)
	if _, err := s.Item(ctx, 3); items.ErrorCode(err) != items.NotFound {
		t.Fatalf("Item(3) = %v, want code NotFound", err)
	}
	check(t, "full page", &inner.PageCalls, ids(full), "[1]", 0, 1)
	check(t, "full page again", &inner.PageCalls, ids(full), "[1]", 1, 1)
	check(t, "short page", &inner.PageCalls, ids(short), "[1 2]", 1, 2)
	check(t, "short page again", &inner.PageCalls, ids(short), "[1 2]", 2, 2)
	check(t, "search", &inner.PageCalls, ids(search), "[2]", 2, 3)
	check(t, "search again", &inner.PageCalls, ids(search), "[2]", 3, 3)
	check(t, "count", &inner.CountCalls, countOf("an"), 1, 0, 1)
	check(t, "count again", &inner.CountCalls, countOf("an"), 1, 1, 1)
	check(t, "count all", &inner.CountCalls, countOf(""), 2, 1, 2)
	check(t, "count all again", &inner.CountCalls, countOf(""), 2, 2, 2)

	storetest.AddItems(t, s, "Mango")

	check(t, "Item(3) once added", &inner.ItemCalls, name(3), "Mango", 2, 3)
	check(t, "full page after a write", &inner.PageCalls, ids(full), "[1]", 3, 3)
	check(t, "short page after a write", &inner.PageCalls, ids(short), "[1 2 3]", 3, 4)
	check(t, "short page after a write, again", &inner.PageCalls, ids(short), "[1 2 3]", 4, 4)
	check(t, "search after a write", &inner.PageCalls, ids(search), "[2 3]", 4, 5)
	check(t, "count after a write", &inner.CountCalls, countOf("an"), 2, 2, 3)
	// AddItem keeps the count of all items: no read needed.
	check(t, "count all after a write", &inner.CountCalls, countOf(""), 3, 3, 3)

	// A failed write may have committed all the same: the count of all
	// items is read again.
	if _, err := s.AddItem(ctx, items.NewItem{Name: "x", CreatedByID: 1 << 40}); err == nil {
		t.Fatalf("AddItem() by an unknown user succeeded")
	}
	check(t, "count all after a failed write", &inner.CountCalls, countOf(""), 3, 3, 4)
	check(t, "count all after a failed write, again", &inner.CountCalls, countOf(""), 3, 4, 4)
}

// TestEvictionKeepsHotEntries checks that a page read between every miss
// outlives a stream of pages read once.
func TestEvictionKeepsHotEntries(t *testing.T) {
	ctx := t.Context()
	inner := &testserver.Counting{Store: memory.New()}
	s := newStore(t, inner, readcache.WithMaxPages(8))
	hot := items.ItemQuery{Limit: 1}
	for after := range int64(200) {
		if _, err := s.Items(ctx, hot); err != nil {
			t.Fatalf("Items(%+v) = %v", hot, err)
		}
		if _, err := s.Items(ctx, items.ItemQuery{After: after + 10, Limit: 5}); err != nil {
			t.Fatalf("Items() = %v", err)
		}
	}
	if n := inner.PageCalls.Load(); n != 201 {
		t.Errorf("the inner store served %d pages, want 201: the hot page once, each cold one once", n)
	}
}

func TestBounds(t *testing.T) {
	ctx := t.Context()
	const maxEntries = 10
	s := newStore(t, memory.New(), readcache.WithMaxItems(maxEntries),
		readcache.WithMaxPages(maxEntries), readcache.WithMaxCounts(maxEntries))
	added := storetest.AddItems(t, s, names("item", 300)...)
	for i, it := range added {
		got, err := s.Item(ctx, it.ID)
		if err != nil || got.Name != it.Name {
			t.Fatalf("Item(%d) = %v, %v, want %q", it.ID, got, err, it.Name)
		}
		page, err := s.Items(ctx, items.ItemQuery{After: it.ID - 1, Limit: 2})
		if err != nil || len(page) == 0 || page[0].ID != it.ID {
			t.Fatalf("Items(After %d) = %v, %v, want %d first", it.ID-1, storetest.IDs(page), err, it.ID)
		}
		if n, err := s.CountItems(ctx, it.Name); err != nil || n != 1 {
			t.Fatalf("CountItems(%q) = %d, %v, want 1", it.Name, n, err)
		}
		checkStats(t, fmt.Sprintf("after %d reads of each kind", i+1), s.Stats(), maxEntries, readcache.DefaultMaxBytes)
	}
	if st := s.Stats(); st.Items.Entries != maxEntries || st.Pages.Entries != maxEntries || st.Counts.Entries != maxEntries {
		t.Errorf("Stats() = %+v, want every cache full", st)
	}
}

func TestByteBounds(t *testing.T) {
	ctx := t.Context()
	const maxBytes = 256 << 10
	s := newStore(t, memory.New(), readcache.WithMaxBytes(maxBytes))
	longest := strings.Repeat("é", items.MaxDescriptionLength)
	for i := range 200 {
		name := strings.Repeat("ü", items.MaxNameLength-3) + fmt.Sprintf("%03d", i)
		if _, err := s.AddItem(ctx, items.NewItem{Name: name, Description: &longest}); err != nil {
			t.Fatalf("AddItem() = %v", err)
		}
	}
	for id := range int64(202) {
		if _, err := s.Item(ctx, id+1); err != nil {
			t.Fatalf("Item(%d) = %v", id+1, err)
		}
		if _, err := s.Items(ctx, items.ItemQuery{After: id, Limit: 3}); err != nil {
			t.Fatalf("Items() = %v", err)
		}
		checkStats(t, fmt.Sprintf("after %d reads", id+1), s.Stats(), readcache.DefaultMaxItems, maxBytes)
	}
	if st := s.Stats(); st.Items.Entries == 0 || st.Pages.Entries == 0 {
		t.Errorf("Stats() = %+v, want items and pages cached", st)
	}
}

// checkStats fails t unless every cache holds at most maxEntries entries
// and the three together at most maxBytes.
func checkStats(t *testing.T, when string, st readcache.Stats, maxEntries int, maxBytes int64) {
	t.Helper()
	for _, c := range []readcache.CacheStats{st.Items, st.Pages, st.Counts} {
		if c.Entries > maxEntries {
			t.Fatalf("%s: Stats() = %+v, more than %d entries in a cache", when, st, maxEntries)
		}
	}
	if b := st.Items.Bytes + st.Pages.Bytes + st.Counts.Bytes; b > maxBytes {
		t.Fatalf("%s: Stats() = %+v, %d bytes in all, more than %d", when, st, b, maxBytes)
	}
}

func names(prefix string, n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("%s %04d", prefix, i)
	}
	return s
}

// point is where a gated store may stop.
type point int

const (
	beforeRead point = iota // a read has not looked at the store yet
	afterRead               // a read has its result and has not returned
	beforeAdd               // AddItem has been called and has not committed
	afterAdd                // AddItem has committed and has not returned
	points
)

// gated is an inner store whose reads and writes stop at armed points
// until released, to run them in a chosen order.
type gated struct {
	items.Store
	armed   [points]atomic.Bool
	arrived [points]chan struct{}
	release [points]chan struct{}
}

func newGated(inner items.Store) *gated {
	g := &gated{Store: inner}
	for p := range points {
		g.arrived[p] = make(chan struct{})
		g.release[p] = make(chan struct{})
	}
	return g
}

// stop waits at p until released, if p is armed, and disarms it.
func (g *gated) stop(p point) {
	if g.armed[p].CompareAndSwap(true, false) {
		g.arrived[p] <- struct{}{}
		<-g.release[p]
	}
}

// at arms p and runs f in a goroutine until it stops at p. It returns a
// function that releases f and waits for it to return.
func (g *gated) at(t *testing.T, p point, f func()) (release func()) {
	t.Helper()
	g.armed[p].Store(true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-g.arrived[p]:
	case <-done:
		t.Fatalf("returned without stopping at point %d", p)
	}
	return func() {
		g.release[p] <- struct{}{}
		<-done
	}
}

func (g *gated) Items(ctx context.Context, q items.ItemQuery) ([]items.Item, error) {
	g.stop(beforeRead)
	defer g.stop(afterRead)
	return g.Store.Items(ctx, q)
}

func (g *gated) CountItems(ctx context.Context, search string) (int, error) {
	g.stop(beforeRead)
	defer g.stop(afterRead)
	return g.Store.CountItems(ctx, search)
}

func (g *gated) AddItem(ctx context.Context, n items.NewItem) (items.Item, error) {
	g.stop(beforeAdd)
	defer g.stop(afterAdd)
	return g.Store.AddItem(ctx, n)
}

// TestReadAcrossWrite runs a read and a write interleaved in each order
// that matters, then checks that reads through the cache agree with the
// inner store.
func TestReadAcrossWrite(t *testing.T) {
	reads := []struct {
		name string
		read func(ctx context.Context, s items.Store) (string, error)
	}{
		{"short page", func(ctx context.Context, s items.Store) (string, error) {
			page, err := s.Items(ctx, items.ItemQuery{Limit: 50})
			return fmt.Sprint(storetest.IDs(page)), err
		}},
		{"search", func(ctx context.Context, s items.Store) (string, error) {
			page, err := s.Items(ctx, items.ItemQuery{Search: "a", Limit: 50})
			return fmt.Sprint(storetest.IDs(page)), err
		}},
		{"count", func(ctx context.Context, s items.Store) (string, error) {
			n, err := s.CountItems(ctx, "a")
			return fmt.Sprint(n), err
		}},
		{"count all", func(ctx context.Context, s items.Store) (string, error) {
			n, err := s.CountItems(ctx, "")
			return fmt.Sprint(n), err
		}},
	}
	orders := []struct {
		name string
		run  func(t *testing.T, g *gated, read func() string, add func())
	}{
		{"the read's result predates a write that returns first", func(t *testing.T, g *gated, read func() string, add func()) {
			release := g.at(t, afterRead, func() { read() })
			add()
			release()
		}},
		{"the read begins before the write and sees its commit", func(t *testing.T, g *gated, read func() string, add func()) {
			releaseRead := g.at(t, beforeRead, func() { read() })
			releaseAdd := g.at(t, afterAdd, add)
			releaseRead()
			releaseAdd()
		}},
		{"the read runs while AddItem is under way, before its commit", func(t *testing.T, g *gated, read func() string, add func()) {
			release := g.at(t, beforeAdd, add)
			read()
			release()
		}},
		{"the read runs between the commit and the return of AddItem", func(t *testing.T, g *gated, read func() string, add func()) {
			release := g.at(t, afterAdd, add)
			read()
			release()
		}},
		{"a cached answer is not served once the write has committed", func(t *testing.T, g *gated, read func() string, add func()) {
			before := read()
			if again := read(); again != before {
				t.Fatalf("read again = %s, want %s", again, before)
			}
			release := g.at(t, afterAdd, add)
			if during := read(); during == before {
				t.Errorf("read after the commit = %s, as before the write", during)
			}
			release()
		}},
	}
	for _, o := range orders {
		for _, r := range reads {
			t.Run(o.name+"/"+r.name, func(t *testing.T) {
				t.Parallel()
				ctx := t.Context()
				mem := memory.New()
				g := newGated(mem)
				s := newStore(t, g)
				read := func() string {
					got, err := r.read(ctx, s)
					if err != nil {
						t.Errorf("read = %v", err)
					}
					return got
				}
				add := func() {
					if _, err := s.AddItem(ctx, items.NewItem{Name: "papaya"}); err != nil {
						t.Errorf("AddItem() = %v", err)
					}
				}
				o.run(t, g, read, add)
				want, _ := r.read(ctx, mem)
				for i := range 2 {
					if got, err := r.read(ctx, s); err != nil || got != want {
						t.Errorf("read %d once AddItem returned = %s, %v, want %s", i+1, got, err, want)
					}
				}
			})
		}
	}
}

// barrier is an inner store whose AddItem waits until n calls are under
// way at once.
type barrier struct {
	items.Store
	wg *sync.WaitGroup
}

func (b barrier) AddItem(ctx context.Context, n items.NewItem) (items.Item, error) {
	b.wg.Done()
	b.wg.Wait()
	return b.Store.AddItem(ctx, n)
}

// TestWritesRunConcurrently checks that the cache does not serialize
// AddItem, which would keep a store that commits concurrent writes
// together (SQLite's group commit) from doing so.
func TestWritesRunConcurrently(t *testing.T) {
	const n = 4
	var wg sync.WaitGroup
	wg.Add(n)
	s := newStore(t, barrier{memory.New(), &wg})
	var done sync.WaitGroup
	for i := range n {
		done.Go(func() { storetest.AddItems(t, s, fmt.Sprint("item ", i)) })
	}
	finished := make(chan struct{})
	go func() {
		done.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(storetest.Timeout):
		t.Fatalf("%d AddItem calls did not run at once within %v", n, storetest.Timeout)
	}
	if c, err := s.CountItems(t.Context(), ""); err != nil || c != len(items.DemoItems)+n {
		t.Errorf(`CountItems("") = %d, %v, want %d`, c, err, len(items.DemoItems)+n)
	}
}

// slow is an inner store that waits a little after each read and write,
// once it has its result, to widen the windows between a commit and the
// return of AddItem, and between a read's snapshot and its return. Its
// sleep waits for nothing: the delay is what the test is about.
type slow struct{ items.Store }

func pause() { time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond) }

func (s slow) Item(ctx context.Context, id int64) (items.Item, error) {
	defer pause()
	return s.Store.Item(ctx, id)
}

func (s slow) Items(ctx context.Context, q items.ItemQuery) ([]items.Item, error) {
	defer pause()
	return s.Store.Items(ctx, q)
}

func (s slow) CountItems(ctx context.Context, search string) (int, error) {
	defer pause()
	return s.Store.CountItems(ctx, search)
}

func (s slow) AddItem(ctx context.Context, n items.NewItem) (items.Item, error) {
	defer pause()
	return s.Store.AddItem(ctx, n)
}

func TestExactUnderWrites(t *testing.T) {
	for _, tt := range []struct {
		name  string
		inner func() items.Store
	}{
		{"memory", func() items.Store { return memory.New() }},
		{"slow", func() items.Store { return slow{memory.New()} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inner := &testserver.Counting{Store: tt.inner()}
			reads := testExactUnderWrites(t, newStore(t, inner))
			t.Logf("%d rounds of 8 reads of pages and counts; %d reads reached the inner store", reads, inner.PageCalls.Load()+inner.CountCalls.Load())
		})
	}
}

// progress is what the writers of testExactUnderWrites have done: each
// field is updated once an AddItem has returned.
type progress struct {
	done, doneX atomic.Int64 // items added, and those named x…
	last, lastX atomic.Int64 // the highest ID added, and of an x… item
}

// maxInto makes a at least v.
func maxInto(a *atomic.Int64, v int64) {
	for old := a.Load(); old < v && !a.CompareAndSwap(old, v); old = a.Load() {
	}
}

// testExactUnderWrites has writers add items while readers check that
// every read sees what was added before it began: the item of the highest
// ID returned so far, and at least as many items as were added.
// It returns how many rounds of reads were made.
func testExactUnderWrites(t *testing.T, s items.Store) int64 {
	const writers, each, readers = 3, 60, 3
	const pageSize = 41 // pages at fixed offsets go from short to full
	ctx := t.Context()
	var (
		p         progress
		wg, rg    sync.WaitGroup
		writing   atomic.Bool
		reads     atomic.Int64
		demoItems = int64(len(items.DemoItems))
	)
	writing.Store(true)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				name := fmt.Sprintf("y%d-%d", w, i)
				if i%2 == 0 {
					name = fmt.Sprintf("x%d-%d", w, i)
				}
				it, err := s.AddItem(ctx, items.NewItem{Name: name})
				if err != nil {
					t.Errorf("AddItem(%q) = %v", name, err)
					return
				}
				if i%2 == 0 {
					p.doneX.Add(1)
					maxInto(&p.lastX, it.ID)
				}
				p.done.Add(1)
				maxInto(&p.last, it.ID)
			}
		})
	}
	for range readers {
		rg.Go(func() {
			for writing.Load() && !t.Failed() {
				reads.Add(1)
				checkPage(t, s, "", p.last.Load(), pageSize)
				checkPage(t, s, "X", p.lastX.Load(), pageSize)
				checkCount(t, s, "", demoItems+p.done.Load())
				checkCount(t, s, "x", p.doneX.Load())
				if id := p.last.Load(); id > 0 {
					if _, err := s.Item(ctx, id); err != nil {
						t.Errorf("Item(%d) = %v once AddItem returned it", id, err)
					}
				}
			}
		})
	}
	wg.Wait()
	writing.Store(false)
	rg.Wait()
	checkPage(t, s, "", p.last.Load(), pageSize)
	checkCount(t, s, "", demoItems+writers*each)
	return reads.Load()
}

// checkPage reads the pages of search at a few fixed offsets near id,
// which AddItem has returned, and fails t unless each page holds id or is
// full and ends before it.
func checkPage(t *testing.T, s items.Store, search string, id int64, limit int) {
	if id == 0 {
		return
	}
	for _, after := range []int64{0, (id - 1) / 20 * 20, max(0, id-50) / 20 * 20} {
		q := items.ItemQuery{Search: search, After: after, Limit: limit}
		page, err := s.Items(t.Context(), q)
		if err != nil {
			t.Errorf("Items(%+v) = %v", q, err)
			return
		}
		ids := storetest.IDs(page)
		if !slices.Contains(ids, id) && (len(ids) < limit || ids[len(ids)-1] > id) {
			t.Errorf("Items(%+v) = %v once AddItem returned %d: stale", q, ids, id)
		}
	}
}

// checkCount fails t unless the count of search is at least atLeast.
func checkCount(t *testing.T, s items.Store, search string, atLeast int64) {
	n, err := s.CountItems(t.Context(), search)
	if err != nil || int64(n) < atLeast {
		t.Errorf("CountItems(%q) = %d, %v, want at least %d: stale", search, n, err, atLeast)
	}
}

// benchStore returns a Store in front of a memory store of 1,000 items
// whose reads are cached already.
func benchStore(b *testing.B) *readcache.Store {
	s := newStore(b, memory.New())
	storetest.AddItems(b, s, names("banana", 1000)...)
	return s
}

// bench runs read serially and on every core at once.
func bench(b *testing.B, read func(ctx context.Context) error) {
	ctx := b.Context()
	if err := read(ctx); err != nil { // fills the cache
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := read(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := read(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkItem(b *testing.B) {
	s := benchStore(b)
	bench(b, func(ctx context.Context) error {
		_, err := s.Item(ctx, 500)
		return err
	})
}

func BenchmarkItems(b *testing.B) {
	s := benchStore(b)
	bench(b, func(ctx context.Context) error {
		_, err := s.Items(ctx, items.ItemQuery{Limit: 21})
		return err
	})
}

func BenchmarkSearch(b *testing.B) {
	s := benchStore(b)
	bench(b, func(ctx context.Context) error {
		_, err := s.Items(ctx, items.ItemQuery{Search: "an", Limit: 21})
		return err
	})
}

// BenchmarkShortPage reads the end of the list, a page cached with its
// generation.
func BenchmarkShortPage(b *testing.B) {
	s := benchStore(b)
	bench(b, func(ctx context.Context) error {
		_, err := s.Items(ctx, items.ItemQuery{After: 990, Limit: 21})
		return err
	})
}

func BenchmarkCountItems(b *testing.B) {
	s := benchStore(b)
	bench(b, func(ctx context.Context) error {
		_, err := s.CountItems(ctx, "an")
		return err
	})
}

func BenchmarkCountAll(b *testing.B) {
	s := benchStore(b)
	bench(b, func(ctx context.Context) error {
		_, err := s.CountItems(ctx, "")
		return err
	})
}

// fresh is an inner store that makes up the items it is asked for, with
// strings of their own, as SQLite's are.
type fresh struct {
	items.Store
	desc int // the length of each description
}

func (f fresh) item(id int64) items.Item {
	it := items.Item{ID: id, Name: fmt.Sprintf("banana %06d", id), CreatedAt: time.Now()}
	if f.desc > 0 {
		d := strings.Repeat("d", f.desc)
		it.Description = &d
	}
	return it
}

func (f fresh) Item(ctx context.Context, id int64) (items.Item, error) { return f.item(id), nil }

func (f fresh) Items(ctx context.Context, q items.ItemQuery) ([]items.Item, error) {
	page := make([]items.Item, q.Limit)
	for i := range page {
		page[i] = f.item(q.After + 1 + int64(i))
	}
	return page, nil
}

func (f fresh) CountItems(ctx context.Context, search string) (int, error) { return 7, nil }

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestHeapWithinAccounting checks that the caches take no more of the heap
// than Stats says: the bytes bound is a bound of the heap.
func TestHeapWithinAccounting(t *testing.T) {
	ctx := t.Context()
	for _, tt := range []struct{ desc, n int }{{0, 2000}, {100, 2000}, {3 * items.MaxDescriptionLength, 150}} {
		desc := tt.desc
		s := readcache.New(fresh{desc: desc}, readcache.WithMaxBytes(1<<40),
			readcache.WithMaxItems(1<<30), readcache.WithMaxPages(1<<30), readcache.WithMaxCounts(1<<30))
		before := heapAlloc()
		for i := range int64(tt.n) {
			s.Item(ctx, i+1)
			s.Items(ctx, items.ItemQuery{After: i, Limit: 21})
			s.CountItems(ctx, fmt.Sprintf("search %d", i))
		}
		grown := int64(heapAlloc() - before)
		st := s.Stats()
		if accounted := st.Items.Bytes + st.Pages.Bytes + st.Counts.Bytes; grown > accounted {
			t.Errorf("descriptions of %d bytes: the heap grew by %d bytes, Stats() accounts for %d", desc, grown, accounted)
		} else {
			t.Logf("descriptions of %d bytes: the heap grew by %.2f of the %d bytes accounted for", desc, float64(grown)/float64(accounted), accounted)
		}
		runtime.KeepAlive(s)
	}
}
