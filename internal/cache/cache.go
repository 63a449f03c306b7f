package cache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"unsafe"
)

// EntryOverhead is what one entry is reckoned to cost on the heap besides
// the bytes its key and value point at, for keys and values of up to two
// words: the entry itself, its node in the sync.Map and its share of the
// map's inner nodes, the boxed key, and its place in the ghost queue.
// Measured at about 290 bytes on amd64 with Go 1.26 (see
// TestHeapWithinBudget), a sixth of it the sync.Map's inner nodes and a
// sixth the ghost queue; the figure rounds up. Larger keys and values add their own size (see New).
const EntryOverhead = 320

// maxFreq is the most reads an entry's count remembers.
const maxFreq = 3

// Config sets the bounds of a Cache.
type Config struct {
	// MaxBytes is the budget: the costs of the entries kept, overheads
	// included, never total more. 0 or less makes a cache that keeps
	// nothing.
	MaxBytes int64
	// MaxEntries, when above 0, bounds the number of entries too.
	MaxEntries int
	// MaxEntryBytes is the largest cost of one entry, overhead included,
	// that is kept; a larger one is refused. 0 means MaxBytes/8: a few
	// large entries should not empty the cache of everything else.
	MaxEntryBytes int64
}

// Cache is a map from K to V bounded in bytes. It is safe for concurrent
// use; the zero value is not: create one with New.
type Cache[K comparable, V any] struct {
	m        sync.Map // K → *entry[K, V]
	seed     maphash.Seed
	overhead int64

	hits, misses, evictions atomic.Uint64

	mu          sync.Mutex // guards what follows and every change to m
	small, main queue[K, V]
	ghost       ghost
	bytes       int64
	cfg         Config
}

// entry is one entry of a Cache. Its key, value and cost never change.
type entry[K comparable, V any] struct {
	key  K
	val  V
	cost int64
	freq atomic.Int32 // reads since admitted or last passed over, up to maxFreq

	// Guarded by Cache.mu.
	prev, next *entry[K, V]
	inMain     bool
}

// New returns an empty cache with the bounds of cfg.
func New[K comparable, V any](cfg Config) *Cache[K, V] {
	if cfg.MaxEntryBytes <= 0 {
		cfg.MaxEntryBytes = cfg.MaxBytes / 8
	}
	cfg.MaxEntryBytes = min(cfg.MaxEntryBytes, cfg.MaxBytes)
	var e entry[K, V]
	// Keys and values of more than two words each make the entry, and
	// the key boxed in the map, larger than EntryOverhead reckons.
	extra := max(int64(unsafe.Sizeof(e.key))-16, 0)*2 + max(int64(unsafe.Sizeof(e.val))-16, 0)
	return &Cache[K, V]{seed: maphash.MakeSeed(), cfg: cfg, overhead: EntryOverhead + extra}
}

// Get returns the value stored for k.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	v, ok := c.m.Load(k)
	if !ok {
		c.misses.Add(1)
		var zero V
		return zero, false
	}
	e := v.(*entry[K, V])
	// Write only when the count changes, so that a hot entry's cache
	// line stays shared between the cores that read it.
	if f := e.freq.Load(); f < maxFreq {
		e.freq.CompareAndSwap(f, f+1)
	}
	c.hits.Add(1)
	return e.val, true
}

// Peek returns the value stored for k, as Get does, but counts no read.
func (c *Cache[K, V]) Peek(k K) (V, bool) {
	v, ok := c.m.Load(k)
	if !ok {
		var zero V
		return zero, false
	}
	return v.(*entry[K, V]).val, true
}

// Set stores v for k, replacing what was stored before, and evicts other
// entries until the cache is within its bounds again. cost is what k and v
// hold on the heap besides the entry's own overhead: the bytes of a string,
// the backing arrays of slices, what pointers point at. Set reports
// whether it kept v: an entry costing more than Config.MaxEntryBytes is
// not kept (and what was stored for k is removed).
func (c *Cache[K, V]) Set(k K, v V, cost int64) bool {
	cost = max(cost, 0) + c.overhead
	keep := cost <= c.cfg.MaxEntryBytes
	h := maphash.Comparable(c.seed, k)
	c.mu.Lock()
	defer c.mu.Unlock()
	e := &entry[K, V]{key: k, val: v, cost: cost}
	replaced := false
	if o, ok := c.m.Load(k); ok {
		// A new value for a key in use (a fresher answer, say) keeps
		// the old one's queue and reads.
		old := o.(*entry[K, V])
		c.remove(old)
		e.inMain, replaced = old.inMain, true
		e.freq.Store(old.freq.Load())
	}
	if !keep {
		c.ghost.trim(c.len())
		return false
	}
	if e.inMain || !replaced && c.ghost.has(h) {
		// Evicted from the small queue not long ago, and asked for
		// again: a key worth the main queue.
		e.inMain = true
		c.main.pushFront(e)
	} else {
		c.small.pushFront(e)
	}
	c.bytes += cost
	c.m.Store(k, e)
	for c.bytes > c.cfg.MaxBytes || (c.cfg.MaxEntries > 0 && c.len() > c.cfg.MaxEntries) {
		c.evict()
	}
	// The ghost remembers no more keys than the cache holds, so that
	// EntryOverhead pays for it.
	c.ghost.trim(c.len())
	return true
}

func (c *Cache[K, V]) len() int { return c.small.n + c.main.n }

// remove takes e out of the cache. The caller holds c.mu.
func (c *Cache[K, V]) remove(e *entry[K, V]) {
	c.m.Delete(e.key)
	if e.inMain {
		c.main.remove(e)
	} else {
		c.small.remove(e)
	}
	c.bytes -= e.cost
}

// evict takes one step of S3-FIFO: it moves an entry from the small queue
// to the main one, gives a main entry another turn, or removes an entry.
// The caller holds c.mu and the cache is not empty.
func (c *Cache[K, V]) evict() {
	if c.main.n == 0 || c.smallOver() {
		e := c.small.back()
		if e.freq.Load() > 0 {
			// Read since admitted: promoted.
			c.small.remove(e)
			e.freq.Store(0)
			e.inMain = true
			c.main.pushFront(e)
			return
		}
		c.remove(e)
		c.ghost.add(maphash.Comparable(c.seed, e.key))
		c.evictions.Add(1)
		return
	}
	e := c.main.back()
	if f := e.freq.Load(); f > 0 {
		e.freq.Store(f - 1)
		c.main.remove(e)
		c.main.pushFront(e)
		return
	}
	c.remove(e)
	c.evictions.Add(1)
}

// smallOver reports whether the small queue holds more than its share, a
// tenth of the cache, in bytes or (with MaxEntries) in entries. The caller
// holds c.mu.
func (c *Cache[K, V]) smallOver() bool {
	if c.small.n == 0 {
		return false
	}
	return c.small.bytes > c.cfg.MaxBytes/10 ||
		(c.cfg.MaxEntries > 0 && c.small.n > max(c.cfg.MaxEntries/10, 1))
}

// Stats describes what a cache holds and how it served.
type Stats struct {
	// Entries is the number of entries kept.
	Entries int
	// Bytes is what they are reckoned to cost, overheads included, and
	// MaxBytes the budget.
	Bytes, MaxBytes int64
	// Hits and Misses count the calls of Get that found a value and
	// those that did not; Evictions the entries evicted to make room.
	Hits, Misses, Evictions uint64
}

// Stats returns what c holds and how it served.
func (c *Cache[K, V]) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{
		Entries: c.len(), Bytes: c.bytes, MaxBytes: c.cfg.MaxBytes,
		Hits: c.hits.Load(), Misses: c.misses.Load(), Evictions: c.evictions.Load(),
	}
}

// queue is a FIFO of entries, a doubly linked list: new entries go to the
// front, the oldest is at the back.
type queue[K comparable, V any] struct {
	head, tail *entry[K, V]
	n          int
	bytes      int64
}

func (q *queue[K, V]) pushFront(e *entry[K, V]) {
	e.prev, e.next = nil, q.head
	if q.head != nil {
		q.head.prev = e
	} else {
		q.tail = e
	}
	q.head = e
	q.n++
	q.bytes += e.cost
}

func (q *queue[K, V]) back() *entry[K, V] { return q.tail }

func (q *queue[K, V]) remove(e *entry[K, V]) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		q.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		q.tail = e.prev
	}
	e.prev, e.next = nil, nil
	q.n--
	q.bytes -= e.cost
}

// ghost remembers the hashes of the keys evicted from the small queue, the
// oldest forgotten first.
type ghost struct {
	fifo []uint64 // fifo[head:] are remembered, oldest first
	head int
	in   map[uint64]int32 // how many times each hash is in fifo[head:]
	peak int              // the most hashes in since in was made
}

func (g *ghost) has(h uint64) bool { return g.in[h] > 0 }

func (g *ghost) add(h uint64) {
	if g.in == nil {
		g.in = make(map[uint64]int32)
	}
	g.fifo = append(g.fifo, h)
	g.in[h]++
	g.peak = max(g.peak, len(g.in))
}

// trim forgets the oldest hashes until at most n are remembered.
func (g *ghost) trim(n int) {
	for len(g.fifo)-g.head > n {
		h := g.fifo[g.head]
		g.head++
		if g.in[h]--; g.in[h] <= 0 {
			delete(g.in, h)
		}
	}
	if g.head > 64 && g.head > len(g.fifo)/2 {
		g.fifo = append(g.fifo[:0], g.fifo[g.head:]...)
		g.head = 0
	}
	if g.peak > 1024 && len(g.in) < g.peak/4 {
		// Go maps never shrink: after the cache went from many small
		// entries to a few large ones, copy what is left to a map of
		// its size, so that the ghost stays paid for.
		in := make(map[uint64]int32, len(g.in))
		for h, n := range g.in {
			in[h] = n
		}
		g.in, g.peak = in, len(in)
		g.fifo = append([]uint64(nil), g.fifo[g.head:]...)
		g.head = 0
	}
}
