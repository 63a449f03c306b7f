// Package readcache is an items.Store that serves hot reads from memory in
// front of another store, typically the embedded SQLite one: items by ID,
// pages of items and searches, and counts. It is exact: every answer is one
// the inner store would have given at some moment during the call, so a
// read that starts after AddItem returned sees the item added. It is
// bounded: each cache holds at most a set number of entries and of bytes,
// and evicts as the service's one cache does (see internal/cache) when
// full.
//
// # One process must own every write
//
// The cache is only correct when every write of items to the inner store
// goes through one Store in one process (seed a database before wrapping
// it), and the inner store gives each item an ID above those of all items
// committed before it, as the SQLite and memory stores do. Writes made
// elsewhere would never invalidate it. It must not be used in front of
// PostgreSQL when several processes write to the database.
//
// # What is cached, and for how long
//
// An item found by ID, and a full page (below), change only when an item
// is updated or deleted: they are cached with the change version (see
// Versions) and served while it is current, so that every update or
// delete makes them all stale at once. Not-found answers are not cached:
// the ID may be assigned later.
//
// A page of Items is keyed by its query. A full page (as many items as
// Limit) in ascending ID order, taken from its start, changes with no
// addition: an item added later has an ID above every
// ID in the page, so it falls after the page. Pages in other orders are
// cached as short pages are. A short page, the end of the list, grows
// when a matching item is added; it is cached with the version of the
// writes it was read at, and served only while that version is current.
// Counts of searches are cached likewise. The count of all items is kept
// up to date by AddItem instead of read again.
//
// # Versions
//
// Every write (AddItem, UpdateItem, DeleteItem) replaces the current
// version, an immutable value behind an atomic pointer, before it calls the
// inner store and again after it returns, whether it succeeded or not.
// UpdateItem and DeleteItem also replace the change version, likewise: it
// is the version of the updates and deletes alone, with which items and
// full pages are cached as short pages are with the version. A version records how many writes
// are under way and how many have ended in success and in failure. Writes
// run concurrently: nothing here serializes them, so that a store that
// commits concurrent writes together (SQLite's group commit) still can.
//
// A read loads the version before it calls the inner store, and caches a
// short page or a count only if no write was under way then and the
// version is the same after. No write began or ended during the inner
// read, so its result is the answer for the state of the store at that
// version. The entry keeps the version, and is served only while the
// version is still current. Then no write has begun since, so the state
// of the inner store is the same and it would give the same answer now.
// Comparing the pointers suffices: a version is never reused while an
// entry holds it. In particular no short page or count is served while a
// write is under way, when the write may have committed or not: such
// reads go to the inner store. A read that began before a write and ends
// after it finds the version changed and does not cache its result, which
// may predate the commit.
//
// The count of all items is cached with its version too. When a later
// version has no write under way and no write has failed since, every
// addition since has stored exactly one item and every deletion removed
// one, so the count is the cached one plus the additions and minus the
// deletions that succeeded since. A failed write may have stored its
// item or not: the count is read again.
//
// # Results are shared
//
// A hit returns the cached page itself and items whose Description points
// at the cached string: callers must not modify what Items returns, nor
// what the Description of any returned item points at. Returned pages have
// no spare capacity, so appending to one copies it.
package readcache

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"unsafe"

	"itemsapi/internal/cache"
	"itemsapi/items"
)

var (
	_ items.Store  = (*Store)(nil)
	_ items.Broker = (*Store)(nil)
)

// The default bounds. The bytes bound applies to an estimate of the heap
// that each entry holds, its share of the maps included, which errs on the
// high side.
const (
	DefaultMaxItems  = 64 << 10 // items cached by ID
	DefaultMaxPages  = 8 << 10  // pages of Items cached
	DefaultMaxCounts = 8 << 10  // counts cached, besides that of all items
	DefaultMaxBytes  = 16 << 20 // bytes, split between the three caches
)

// maxSearch is the longest search, in bytes, whose pages and counts are
// cached. No name is longer than items.MaxNameLength code points, so a
// longer search matches nothing; it is not worth room in the cache.
const maxSearch = 4 * items.MaxNameLength

// Option sets a bound of a Store.
type Option func(*config)

type config struct {
	maxItems, maxPages, maxCounts int
	maxBytes                      int64
}

// WithMaxItems bounds the number of items cached by ID
// (default DefaultMaxItems). 0 turns the item cache off.
func WithMaxItems(n int) Option { return func(c *config) { c.maxItems = n } }

// WithMaxPages bounds the number of pages of Items cached
// (default DefaultMaxPages). 0 turns the page cache off.
func WithMaxPages(n int) Option { return func(c *config) { c.maxPages = n } }

// WithMaxCounts bounds the number of counts of searches cached
// (default DefaultMaxCounts). 0 turns the count cache off; the count of all
// items is kept regardless.
func WithMaxCounts(n int) Option { return func(c *config) { c.maxCounts = n } }

// WithMaxBytes bounds what the caches are reckoned to hold on the heap,
// together (default DefaultMaxBytes): items get half, pages three eighths
// and counts one eighth. An entry counts its strings, its structs and a
// fixed overhead for the maps that hold it. An entry larger than its
// cache's share is not cached.
func WithMaxBytes(n int64) Option { return func(c *config) { c.maxBytes = n } }

// Store is an items.Store that caches the reads of another. It is safe for
// concurrent use. Create one with New.
type Store struct {
	inner items.Store

	ver        atomic.Pointer[version] // the current version; see the package doc
	changes    atomic.Pointer[version] // the change version: updates and deletes only
	total      atomic.Pointer[count]   // the count of all items, or nil
	itemCache  *cache.Cache[int64, cachedItem]
	pageCache  *cache.Cache[pageKey, page]
	countCache *cache.Cache[string, count]
}

// version is the state of the writes at one moment. It never changes: a
// new one replaces it when a write begins or ends.
type version struct {
	seq      uint64 // how many versions came before this one
	underWay int    // writes begun and not ended
	added    uint64 // additions ended in success
	deleted  uint64 // deletions ended in success
	failed   uint64 // writes ended in failure
}

// write says what kind of write a version records.
type write uint8

const (
	adding write = iota
	updating
	deleting
)

// cachedItem is an item cached by ID with the change version it was read at.
type cachedItem struct {
	item    items.Item
	changes *version
}

// quiet reports whether no write is under way at v.
func (v *version) quiet() bool { return v.underWay == 0 }

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
	full    bool     // len(list) is the query's limit: no addition changes it
	ver     *version // the version it was read at
	changes *version // the change version it was read at
}

// count is a cached count and the version it was read at.
type count struct {
	n   int
	ver *version
}

// New returns a Store that caches the reads of inner within the bounds
// that opts set. Every write must go through it; see the package doc.
func New(inner items.Store, opts ...Option) *Store {
	c := config{
		maxItems:  DefaultMaxItems,
		maxPages:  DefaultMaxPages,
		maxCounts: DefaultMaxCounts,
		maxBytes:  DefaultMaxBytes,
	}
	for _, opt := range opts {
		opt(&c)
	}
	s := &Store{
		inner:      inner,
		itemCache:  newCache[int64, cachedItem](c.maxItems, c.maxBytes/2),
		pageCache:  newCache[pageKey, page](c.maxPages, c.maxBytes*3/8),
		countCache: newCache[string, count](c.maxCounts, c.maxBytes/8),
	}
	s.ver.Store(&version{})
	s.changes.Store(&version{})
	return s
}

// newCache returns a cache of at most maxEntries entries and maxBytes
// bytes, in which an entry may take all of maxBytes; 0 entries turn it off.
func newCache[K comparable, V any](maxEntries int, maxBytes int64) *cache.Cache[K, V] {
	if maxEntries <= 0 {
		maxBytes = 0
	}
	return cache.New[K, V](cache.Config{MaxBytes: maxBytes, MaxEntries: maxEntries, MaxEntryBytes: maxBytes})
}

// unchanged reports whether a read that loaded v before it called the
// inner store read the state of v, so that its result may be cached with v.
func (s *Store) unchanged(v *version) bool {
	return v.quiet() && s.ver.Load() == v
}

// changesUnchanged reports whether a read that loaded the change version c
// before it called the inner store read the state of c as far as updates
// and deletes go.
func (s *Store) changesUnchanged(c *version) bool {
	return c.quiet() && s.changes.Load() == c
}

// Item implements items.Store.
func (s *Store) Item(ctx context.Context, id int64) (items.Item, error) {
	c := s.changes.Load()
	if e, ok := s.itemCache.Get(id); ok && e.changes == c {
		return e.item, nil
	}
	it, err := s.inner.Item(ctx, id)
	if err != nil {
		return items.Item{}, err
	}
	if s.changesUnchanged(c) {
		s.itemCache.Set(id, cachedItem{item: detach(it), changes: c}, int64(itemStructSize)+itemSize(it))
	}
	return it, nil
}

// Items implements items.Store.
func (s *Store) Items(ctx context.Context, q items.ItemQuery) ([]items.Item, error) {
	key := keyOf(q)
	c := s.changes.Load()
	v := s.ver.Load()
	if p, ok := s.pageCache.Get(key); ok && (p.full && p.changes == c || p.ver == v) {
		return p.list, nil
	}
	list, err := s.inner.Items(ctx, q)
	if err != nil {
		return nil, err
	}
	s.putPage(key, list, v, c)
	return list, nil
}

// putPage caches list, the page of key that a read which loaded c and then
// v before it began returned, if the read saw no write (a full page: no
// update or delete).
func (s *Store) putPage(key pageKey, list []items.Item, v, c *version) {
	full := len(list) == key.limit && key.growsAtEnd()
	switch {
	case len(key.search) > maxSearch:
		return
	case !s.unchanged(v):
		if !full || !s.changesUnchanged(c) {
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
	s.pageCache.Set(key, page{list: cp, full: full, ver: v, changes: c}, size)
}

// CountItems implements items.Store.
func (s *Store) CountItems(ctx context.Context, search string) (int, error) {
	if search == "" {
		return s.countAll(ctx)
	}
	v := s.ver.Load()
	if c, ok := s.countCache.Get(search); ok && c.ver == v {
		return c.n, nil
	}
	n, err := s.inner.CountItems(ctx, search)
	if err != nil {
		return 0, err
	}
	if len(search) <= maxSearch && s.unchanged(v) {
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
	v := s.ver.Load()
	if c != nil && v.quiet() && v.failed == c.ver.failed {
		return c.n + int(v.added-c.ver.added) - int(v.deleted-c.ver.deleted), nil
	}
	n, err := s.inner.CountItems(ctx, "")
	if err != nil {
		return 0, err
	}
	if s.unchanged(v) {
		s.setTotal(&count{n: n, ver: v})
	}
	return n, nil
}

// setTotal makes c the count of all items unless the count there is of a
// version as late.
func (s *Store) setTotal(c *count) {
	for {
		old := s.total.Load()
		if old != nil && old.ver.seq >= c.ver.seq || s.total.CompareAndSwap(old, c) {
			return
		}
	}
}

// AddItem implements items.Store.
func (s *Store) AddItem(ctx context.Context, n items.NewItem) (it items.Item, err error) {
	defer s.begin(adding)(&err)
	return s.inner.AddItem(ctx, n)
}

// UpdateItem implements items.Store.
func (s *Store) UpdateItem(ctx context.Context, id int64, u items.ItemUpdate) (it items.Item, err error) {
	defer s.begin(updating)(&err)
	return s.inner.UpdateItem(ctx, id, u)
}

// DeleteItem implements items.Store.
func (s *Store) DeleteItem(ctx context.Context, id int64, d items.ItemDelete) (err error) {
	defer s.begin(deleting)(&err)
	return s.inner.DeleteItem(ctx, id, d)
}

// begin records that a write of kind w begins, and returns the function
// that records its end with the error it left; deferred, so that even a
// panic of the inner store ends the write. A refused update or delete
// (an *items.Error) changed nothing, but counts as failed all the same:
// only the count of all items is read again.
func (s *Store) begin(w write) func(*error) {
	if w != adding {
		update(&s.changes, func(v *version) { v.underWay++ })
	}
	update(&s.ver, func(v *version) { v.underWay++ })
	return func(err *error) {
		update(&s.ver, func(v *version) {
			v.underWay--
			switch {
			case *err != nil:
				v.failed++
			case w == adding:
				v.added++
			case w == deleting:
				v.deleted++
			}
		})
		if w != adding {
			update(&s.changes, func(v *version) { v.underWay-- })
		}
	}
}

// update replaces the version p holds with a copy that f changes.
func update(p *atomic.Pointer[version], f func(*version)) {
	for {
		old := p.Load()
		v := *old
		v.seq++
		f(&v)
		if p.CompareAndSwap(old, &v) {
			return
		}
	}
}

// Users implements items.Store; users are not cached.
func (s *Store) Users(ctx context.Context, ids []int64) ([]items.User, error) {
	return s.inner.Users(ctx, ids)
}

// UserByToken implements items.Store; tokens are not cached, as one may be
// added at any time.
func (s *Store) UserByToken(ctx context.Context, hash items.TokenHash) (items.User, items.Role, error) {
	return s.inner.UserByToken(ctx, hash)
}

// AddToken implements items.Store.
func (s *Store) AddToken(ctx context.Context, userName string, role items.Role, hash items.TokenHash) (items.User, error) {
	return s.inner.AddToken(ctx, userName, role, hash)
}

// Ping implements items.Store.
func (s *Store) Ping(ctx context.Context) error { return s.inner.Ping(ctx) }

// Close implements items.Store: it closes the inner store.
func (s *Store) Close() error { return s.inner.Close() }

// errNoBroker is what Subscribe returns when the inner store is no broker.
var errNoBroker = errors.New("readcache: the inner store is not an items.Broker")

// Subscribe implements items.Broker by subscribing to the inner store,
// which publishes the items added through this one. It fails if the inner
// store is not an items.Broker.
func (s *Store) Subscribe(ctx context.Context, afterItem int64) (*items.Subscription, error) {
	b, ok := s.inner.(items.Broker)
	if !ok {
		return nil, errNoBroker
	}
	return b.Subscribe(ctx, afterItem)
}

// Follow implements items.Broker as Subscribe does.
func (s *Store) Follow(ctx context.Context, kind items.EventKind, afterItem int64) (*items.Subscription, error) {
	b, ok := s.inner.(items.Broker)
	if !ok {
		return nil, errNoBroker
	}
	return b.Follow(ctx, kind, afterItem)
}

// Stats describes what the caches hold.
type Stats struct {
	Items, Pages, Counts CacheStats
}

// Stats returns what the caches hold now.
func (s *Store) Stats() Stats {
	return Stats{Items: stats(s.itemCache), Pages: stats(s.pageCache), Counts: stats(s.countCache)}
}

// CacheStats returns the full statistics of each cache, by name: items,
// pages and counts.
func (s *Store) CacheStats() map[string]cache.Stats {
	return map[string]cache.Stats{"items": s.itemCache.Stats(), "pages": s.pageCache.Stats(), "counts": s.countCache.Stats()}
}

// CacheStats describes what one of the caches holds.
type CacheStats struct {
	// Entries is the number of entries cached.
	Entries int
	// Bytes is what they are reckoned to hold on the heap.
	Bytes int64
}

func stats[K comparable, V any](c *cache.Cache[K, V]) CacheStats {
	st := c.Stats()
	return CacheStats{Entries: st.Entries, Bytes: st.Bytes}
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
