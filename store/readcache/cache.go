package readcache

import (
	"sync"
	"sync/atomic"
)

// entryOverhead is what one cache entry is reckoned to cost on the heap
// besides its value's own data: the slot, the sync.Map entry and its share
// of the map's inner nodes, the boxed key and the clock's pointer. Measured
// at about 200 bytes on amd64; the figure rounds up.
const entryOverhead = 256

// cache is a map from K to V bounded both in entries and in bytes, where a
// hit takes no lock and writes no shared memory (once an entry is marked
// used), so that cores reading the same hot entry do not contend. Puts
// serialize on a mutex: they follow a miss, which costs far more.
//
// When full, cache evicts by CLOCK: a hit marks its entry used; the
// sweeping hand clears the marks it passes and evicts the first entry it
// finds unmarked, so an entry survives a sweep only if read since the last.
type cache[K comparable, V any] struct {
	m sync.Map // K → *slot[K, V]

	mu         sync.Mutex    // guards what follows and every change to m
	clock      []*slot[K, V] // every slot in m, in no particular order
	hand       int           // the next slot of clock to consider
	bytes      int64         // the sizes of the slots in clock, summed
	maxEntries int
	maxBytes   int64
}

// slot is one entry of a cache. Its key, value and size never change.
type slot[K comparable, V any] struct {
	key  K
	val  V
	size int64
	idx  int         // position in cache.clock, guarded by cache.mu
	used atomic.Bool // read since the hand last passed
}

func newCache[K comparable, V any](maxEntries int, maxBytes int64) *cache[K, V] {
	return &cache[K, V]{maxEntries: max(maxEntries, 0), maxBytes: max(maxBytes, 0)}
}

// get returns the value stored for k.
func (c *cache[K, V]) get(k K) (V, bool) {
	v, ok := c.m.Load(k)
	if !ok {
		var zero V
		return zero, false
	}
	s := v.(*slot[K, V])
	if !s.used.Load() { // a store only when needed keeps hot lines shared
		s.used.Store(true)
	}
	return s.val, true
}

// put stores v for k, replacing any value stored before, and evicts other
// entries as needed to stay within bounds. size is what v holds on the
// heap, entryOverhead aside; a value that could never fit is not stored.
func (c *cache[K, V]) put(k K, v V, size int64) {
	size += entryOverhead
	if c.maxEntries == 0 || size > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m.Load(k); ok {
		c.remove(old.(*slot[K, V]))
	}
	for len(c.clock) >= c.maxEntries || c.bytes+size > c.maxBytes {
		c.evict()
	}
	s := &slot[K, V]{key: k, val: v, size: size, idx: len(c.clock)}
	c.clock = append(c.clock, s)
	c.bytes += size
	c.m.Store(k, s)
}

// evict removes one entry, which it chooses by CLOCK. The caller holds
// c.mu and the cache is not empty. Readers may mark entries used again as
// fast as the hand clears them, so after two turns the hand evicts
// whatever it points at.
func (c *cache[K, V]) evict() {
	for range 2 * len(c.clock) {
		if c.hand >= len(c.clock) {
			c.hand = 0
		}
		s := c.clock[c.hand]
		if !s.used.Load() {
			break
		}
		s.used.Store(false)
		c.hand++
	}
	if c.hand >= len(c.clock) {
		c.hand = 0
	}
	c.remove(c.clock[c.hand])
}

// remove deletes s from the cache. The caller holds c.mu. The last slot of
// the clock takes the place of s, where the hand will find it next.
func (c *cache[K, V]) remove(s *slot[K, V]) {
	c.m.Delete(s.key)
	last := len(c.clock) - 1
	moved := c.clock[last]
	c.clock[s.idx] = moved
	moved.idx = s.idx
	c.clock[last] = nil
	c.clock = c.clock[:last]
	c.bytes -= s.size
}

// CacheStats describes what one of the caches holds.
type CacheStats struct {
	// Entries is the number of entries cached.
	Entries int
	// Bytes is what they are reckoned to hold on the heap.
	Bytes int64
}

func (c *cache[K, V]) stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Entries: len(c.clock), Bytes: c.bytes}
}
