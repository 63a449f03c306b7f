package readcache

import (
	"context"
	"strings"
	"sync/atomic"
	"unsafe"

	"itemsapi/internal/cache"
	"itemsapi/items"
)

var _ items.Store = (*Store)(nil)

// DefaultMaxBytes is the default bound of what the caches are reckoned to
// hold on the heap, together. The bound applies to an estimate of the heap
// that each entry holds, its share of the maps included, which errs on the
// high side.
const DefaultMaxBytes = 16 << 20

// The bounds on the number of entries of each cache, besides the bytes.
const (
	maxItems  = 64 << 10 // items cached by ID
	maxPages  = 8 << 10  // pages of Items cached
	maxCounts = 8 << 10  // counts cached, besides that of all items
)

// maxSearch is the longest search, in bytes, whose pages and counts are
// cached. No name is longer than items.MaxNameLength code points, so a
// longer search matches nothing; it is not worth room in the cache.
const maxSearch = 4 * items.MaxNameLength

// Store is an items.Store that caches the reads of another, the inner
// store, whose other methods it passes on. It is safe for concurrent use.
// Create one with New.
type Store struct {
	items.Store // the inner store

	writes     *items.Writes
	total      atomic.Pointer[count] // the count of all items, or nil
	itemCache  *cache.Cache[int64, cachedItem]
	pageCache  *cache.Cache[pageKey, page]
	countCache *cache.Cache[string, count]
}

// cachedItem is an item cached by ID with the count of changes it was read
// at.
type cachedItem struct {
	item    items.Item
	changes uint64
}

// pageKey identifies the page of an items.ItemQuery; After is at least 0,
// as every After below 1 selects the same page.
type pageKey struct {
	search           string
	after            int64
	limit            int
	order            items.Order
	start, end       items.Position
	hasStart, hasEnd bool
	last             bool
}

// keyOf returns the key of q's page.
func keyOf(q items.ItemQuery) pageKey {
	k := pageKey{search: q.Search, after: max(q.After, 0), limit: q.Limit, order: q.Order, last: q.Last}
	if q.Start != nil {
		k.start, k.hasStart = *q.Start, true
	}
	if q.End != nil {
		k.end, k.hasEnd = *q.End, true
	}
	return k
}

// growsAtEnd reports whether every item added falls after k's page, whose
// items, when it is full, no addition changes: pages in ID order,
// ascending, taken from their start. (A page taken from its end before a
// cursor would do too, but a cursor may be forged beyond every ID.)
func (k pageKey) growsAtEnd() bool {
	return k.order == (items.Order{}) && !k.last
}

// page is a cached page of items.
type page struct {
	list    []items.Item
	full    bool                // len(list) is the query's limit: no addition changes it
	ver     *items.WriteVersion // the version it was read at, nil if a write was under way
	changes uint64              // the count of changes it was read at
}

// count is a cached count and the version it was read at.
type count struct {
	n   int
	ver *items.WriteVersion
}

// New returns a Store that caches the reads of inner within maxBytes (0
// turns the caches off): items get half, pages three eighths and counts
// one eighth. An entry counts its strings, its structs and a fixed
// overhead for the maps that hold it; one larger than its cache's share is
// not cached. inner's writes must not be Shared; see the package doc.
func New(inner items.Store, maxBytes int64) *Store {
	return &Store{
		Store:      inner,
		writes:     inner.Writes(),
		itemCache:  newCache[int64, cachedItem](maxItems, maxBytes/2),
		pageCache:  newCache[pageKey, page](maxPages, maxBytes*3/8),
		countCache: newCache[string, count](maxCounts, maxBytes/8),
	}
}

// newCache returns a cache of at most maxEntries entries and maxBytes
// bytes, in which an entry may take all of maxBytes.
func newCache[K comparable, V any](maxEntries int, maxBytes int64) *cache.Cache[K, V] {
	return cache.New[K, V](cache.Config{MaxBytes: maxBytes, MaxEntries: maxEntries, MaxEntryBytes: maxBytes})
}

// Item implements items.Store.
func (s *Store) Item(ctx context.Context, id int64) (items.Item, error) {
	v := s.writes.Version()
	if e, ok := s.itemCache.Get(id); ok && e.changes == v.Changes {
		items.NoteRead(ctx, true)
		return e.item, nil
	}
	it, err := s.Store.Item(ctx, id)
	// An item found stays as it is until it is updated or deleted; one
	// not found may be added.
	items.NoteRead(ctx, err == nil)
	if err != nil {
		return items.Item{}, err
	}
	if s.writes.ChangesUnchanged(v) {
		s.itemCache.Set(id, cachedItem{item: detach(it), changes: v.Changes}, int64(itemStructSize)+itemSize(it))
	}
	return it, nil
}

// Items implements items.Store.
func (s *Store) Items(ctx context.Context, q items.ItemQuery) ([]items.Item, error) {
	key := keyOf(q)
	v := s.writes.Version()
	if p, ok := s.pageCache.Get(key); ok && (p.full && p.changes == v.Changes || p.ver == v) {
		items.NoteRead(ctx, p.full)
		return p.list, nil
	}
	list, err := s.Store.Items(ctx, q)
	items.NoteRead(ctx, err == nil && len(list) == key.limit && key.growsAtEnd())
	if err != nil {
		return nil, err
	}
	s.putPage(key, list, v)
	return list, nil
}

// putPage caches list, the page of key that a read which loaded v before
// it began returned, if the read saw no write (a full page: no update or
// delete).
func (s *Store) putPage(key pageKey, list []items.Item, v *items.WriteVersion) {
	full := len(list) == key.limit && key.growsAtEnd()
	changes := v.Changes
	switch {
	case len(key.search) > maxSearch:
		return
	case !s.writes.Unchanged(v):
		if !full || !s.writes.ChangesUnchanged(v) {
			return
		}
		v = nil // full, but read during an addition
	}
	cp := make([]items.Item, len(list))
	size := allocSize(len(key.search)) + allocSize(len(cp)*itemStructSize)
	for i, it := range list {
		cp[i] = detach(it)
		size += itemSize(it)
	}
	key.search = strings.Clone(key.search)
	s.pageCache.Set(key, page{list: cp, full: full, ver: v, changes: changes}, size)
}

// CountItems implements items.Store.
func (s *Store) CountItems(ctx context.Context, search string) (int, error) {
	items.NoteRead(ctx, false) // every addition may change it
	if search == "" {
		return s.countAll(ctx)
	}
	v := s.writes.Version()
	if c, ok := s.countCache.Get(search); ok && c.ver == v {
		return c.n, nil
	}
	n, err := s.Store.CountItems(ctx, search)
	if err != nil {
		return 0, err
	}
	if len(search) <= maxSearch && s.writes.Unchanged(v) {
		s.countCache.Set(strings.Clone(search), count{n: n, ver: v}, allocSize(len(search)))
	}
	return n, nil
}

// countAll returns the number of all items: the cached count plus the
// items added since, when that is known exactly.
func (s *Store) countAll(ctx context.Context) (int, error) {
	// Loaded in this order, v is at least as late as c.ver, which was
	// current before c was stored.
	c := s.total.Load()
	v := s.writes.Version()
	if c != nil && v.Quiet() && v.Failed == c.ver.Failed {
		return c.n + int(v.Added-c.ver.Added) - int(v.Deleted-c.ver.Deleted), nil
	}
	n, err := s.Store.CountItems(ctx, "")
	if err != nil {
		return 0, err
	}
	if s.writes.Unchanged(v) {
		s.setTotal(&count{n: n, ver: v})
	}
	return n, nil
}

// setTotal makes c the count of all items unless the count there is of a
// version as late.
func (s *Store) setTotal(c *count) {
	for {
		old := s.total.Load()
		if old != nil && old.ver.Seq >= c.ver.Seq || s.total.CompareAndSwap(old, c) {
			return
		}
	}
}

// CacheStats returns the statistics of each cache, by name: items, pages
// and counts.
func (s *Store) CacheStats() map[string]cache.Stats {
	return map[string]cache.Stats{"items": s.itemCache.Stats(), "pages": s.pageCache.Stats(), "counts": s.countCache.Stats()}
}

// itemStructSize is the size of an items.Item, its strings aside.
const itemStructSize = int(unsafe.Sizeof(items.Item{}))

// detach returns it with a Description of its own, so that the caller that
// got it from the inner store cannot change the cached copy through it.
func detach(it items.Item) items.Item {
	if it.Description != nil {
		d := *it.Description
		it.Description = &d
	}
	return it
}

// itemSize is what it holds on the heap outside the Item struct.
func itemSize(it items.Item) int64 {
	n := allocSize(len(it.Name))
	if it.Description != nil {
		n += allocSize(int(unsafe.Sizeof(*it.Description))) + allocSize(len(*it.Description))
	}
	return n
}

// allocSize bounds what an allocation of n bytes takes on the heap: the
// allocator rounds it up to a size class, which wastes at most an eighth
// beyond the smallest classes.
func allocSize(n int) int64 {
	if n == 0 {
		return 0
	}
	return int64(n + n/8 + 16)
}
