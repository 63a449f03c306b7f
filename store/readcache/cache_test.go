package readcache

import (
	"math/rand/v2"
	"testing"
)

// checkInvariants fails t unless the map and the clock of c hold the same
// slots, each knows its place, and the bounds hold.
func checkInvariants[K comparable, V any](t *testing.T, c *cache[K, V]) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var bytes int64
	for i, s := range c.clock {
		if s.idx != i {
			t.Fatalf("slot at %d of the clock says it is at %d", i, s.idx)
		}
		if v, ok := c.m.Load(s.key); !ok || v != s {
			t.Fatalf("slot %v of the clock is not the map's", s.key)
		}
		bytes += s.size
	}
	n := 0
	c.m.Range(func(k, v any) bool {
		n++
		return true
	})
	if n != len(c.clock) {
		t.Fatalf("the map holds %d entries, the clock %d", n, len(c.clock))
	}
	if bytes != c.bytes {
		t.Fatalf("bytes = %d, the slots hold %d", c.bytes, bytes)
	}
	if len(c.clock) > c.maxEntries || c.bytes > c.maxBytes {
		t.Fatalf("%d entries and %d bytes, over the bounds %d and %d", len(c.clock), c.bytes, c.maxEntries, c.maxBytes)
	}
}

func TestCacheRandom(t *testing.T) {
	const maxEntries, maxBytes = 50, 40 * entryOverhead
	c := newCache[int, int](maxEntries, maxBytes)
	for i := range 20000 {
		k := rand.IntN(200)
		if rand.IntN(2) == 0 {
			c.put(k, k, int64(rand.IntN(entryOverhead)))
		} else if v, ok := c.get(k); ok && v != k {
			t.Fatalf("get(%d) = %d", k, v)
		}
		if i%100 == 0 {
			checkInvariants(t, c)
		}
	}
	checkInvariants(t, c)
}

func TestCacheReplace(t *testing.T) {
	c := newCache[string, int](10, 1<<20)
	c.put("a", 1, 100)
	c.put("a", 2, 200)
	if v, ok := c.get("a"); !ok || v != 2 {
		t.Errorf("get(a) = %d, %v, want 2, true", v, ok)
	}
	if st := c.stats(); st.Entries != 1 || st.Bytes != 200+entryOverhead {
		t.Errorf("stats() = %+v, want 1 entry of %d bytes", st, 200+entryOverhead)
	}
	checkInvariants(t, c)
}

func TestCacheTooLarge(t *testing.T) {
	c := newCache[int, int](10, 1000)
	c.put(1, 1, 1000) // with its overhead, over the bound
	if _, ok := c.get(1); ok {
		t.Errorf("an entry larger than the cache was cached")
	}
	off := newCache[int, int](0, 1<<20)
	off.put(1, 1, 0)
	if _, ok := off.get(1); ok {
		t.Errorf("a cache of 0 entries cached one")
	}
}
