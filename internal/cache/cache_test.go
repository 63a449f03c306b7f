package cache

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"

	"itemsapi/internal/heap"
)

// checkInvariants fails t unless the map and the queues of c hold the same
// entries, the byte counts add up and the bounds hold.
func checkInvariants[K comparable, V any](t testing.TB, c *Cache[K, V]) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var total int64
	n := 0
	for _, q := range []*queue[K, V]{&c.small, &c.main} {
		var qb int64
		qn := 0
		var prev *entry[K, V]
		for e := q.head; e != nil; e = e.next {
			if e.prev != prev {
				t.Fatalf("entry %v: prev link broken", e.key)
			}
			if e.inMain != (q == &c.main) {
				t.Fatalf("entry %v is in the wrong queue", e.key)
			}
			if v, ok := c.m.Load(e.key); !ok || v != e {
				t.Fatalf("entry %v of a queue is not the map's", e.key)
			}
			qb += e.cost
			qn++
			prev = e
		}
		if q.tail != prev || q.n != qn || q.bytes != qb {
			t.Fatalf("queue says %d entries, %d bytes; holds %d, %d", q.n, q.bytes, qn, qb)
		}
		total += qb
		n += qn
	}
	m := 0
	c.m.Range(func(any, any) bool { m++; return true })
	if m != n {
		t.Fatalf("the map holds %d entries, the queues %d", m, n)
	}
	if total != c.bytes {
		t.Fatalf("bytes = %d, the entries hold %d", c.bytes, total)
	}
	if c.bytes > c.cfg.MaxBytes || (c.cfg.MaxEntries > 0 && n > c.cfg.MaxEntries) {
		t.Fatalf("%d entries and %d bytes, over the bounds %+v", n, c.bytes, c.cfg)
	}
	if g := len(c.ghost.fifo) - c.ghost.head; g > n {
		t.Fatalf("the ghost remembers %d keys, the cache holds %d", g, n)
	}
}

// Delete removes what is stored for k: for tests, which check that the
// queues stay sound when entries leave other than by eviction (the
// service's caches never delete).
func (c *Cache[K, V]) Delete(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m.Load(k); ok {
		c.remove(old.(*entry[K, V]))
		c.ghost.trim(c.len())
	}
}

func TestRandom(t *testing.T) {
	for _, cfg := range []Config{
		{MaxBytes: 40 * EntryOverhead},
		{MaxBytes: 40 * EntryOverhead, MaxEntries: 25},
		{MaxBytes: 1 << 20, MaxEntries: 50},
	} {
		t.Run(fmt.Sprintf("%+v", cfg), func(t *testing.T) {
			c := New[int, int](cfg)
			for i := range 50_000 {
				k := rand.IntN(300)
				switch rand.IntN(8) {
				case 0:
					c.Delete(k)
				case 1, 2, 3:
					c.Set(k, k, int64(rand.IntN(2*EntryOverhead)))
				default:
					if v, ok := c.Get(k); ok && v != k {
						t.Fatalf("Get(%d) = %d", k, v)
					}
				}
				if i%97 == 0 {
					checkInvariants(t, c)
				}
			}
			checkInvariants(t, c)
		})
	}
}

func TestReplace(t *testing.T) {
	c := New[string, int](Config{MaxBytes: 1 << 20})
	c.Set("a", 1, 100)
	c.Set("a", 2, 200)
	if v, ok := c.Get("a"); !ok || v != 2 {
		t.Errorf("Get(a) = %d, %v, want 2, true", v, ok)
	}
	if st := c.Stats(); st.Entries != 1 || st.Bytes != 200+EntryOverhead {
		t.Errorf("Stats() = %+v, want 1 entry of %d bytes", st, 200+EntryOverhead)
	}
	c.Delete("a")
	if _, ok := c.Get("a"); ok {
		t.Errorf("Get(a) after Delete found a value")
	}
	checkInvariants(t, c)
}

// TestReplaceKeepsStanding checks that a new value for a key that earned
// the main queue stays there, with its reads.
func TestReplaceKeepsStanding(t *testing.T) {
	c := New[int, int](Config{MaxBytes: 100 * EntryOverhead})
	c.Set(0, 0, 0)
	c.Get(0)
	for i := 1; i < 150; i++ { // push 0 out of the small queue, into main
		c.Set(i, i, 0)
	}
	c.Get(0)
	c.Set(0, 1, 0)
	c.mu.Lock()
	e, _ := c.m.Load(0)
	inMain, freq := e.(*entry[int, int]).inMain, e.(*entry[int, int]).freq.Load()
	c.mu.Unlock()
	if !inMain || freq == 0 {
		t.Errorf("after a new value: in main %v, reads %d; want the main queue and the reads kept", inMain, freq)
	}
	checkInvariants(t, c)
}

func TestTooLarge(t *testing.T) {
	c := New[int, int](Config{MaxBytes: 8000})
	if !c.Set(1, 1, 1000-EntryOverhead) {
		t.Errorf("Set of an eighth of the budget refused")
	}
	if c.Set(1, 2, 1001-EntryOverhead) {
		t.Errorf("Set of more than an eighth of the budget kept")
	}
	if _, ok := c.Get(1); ok {
		t.Errorf("the value replaced by one too large is still there")
	}
	whole := New[int, int](Config{MaxBytes: 8000, MaxEntryBytes: 8000})
	if !whole.Set(1, 1, 8000-EntryOverhead) {
		t.Errorf("Set of the whole budget refused with MaxEntryBytes = MaxBytes")
	}
	off := New[int, int](Config{})
	if off.Set(1, 1, 0) {
		t.Errorf("a cache of 0 bytes kept an entry")
	}
}

// TestScanResistance reads a hot set over and over while a scan of keys
// read once goes by, twenty times the size of the cache: the hot set
// must stay cached.
func TestScanResistance(t *testing.T) {
	const hot, budget = 100, 1000 * EntryOverhead
	c := New[string, int](Config{MaxBytes: budget})
	for round := range 3 {
		for i := range hot {
			k := fmt.Sprint("hot", i)
			if _, ok := c.Get(k); !ok {
				c.Set(k, i, 0)
			}
			_ = round
		}
	}
	for i := range 20 * budget / EntryOverhead {
		c.Set(fmt.Sprint("scan", i), i, 0)
		if i%10 == 0 { // the hot set stays in use during the scan
			k := fmt.Sprint("hot", (i/10)%hot)
			if _, ok := c.Get(k); !ok {
				c.Set(k, 0, 0)
			}
		}
	}
	missing := 0
	for i := range hot {
		if _, ok := c.Get(fmt.Sprint("hot", i)); !ok {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("after a scan, %d of %d hot keys were evicted", missing, hot)
	}
	checkInvariants(t, c)
}

// TestGhost checks that a key evicted from the small queue and set again
// soon goes to the main queue.
func TestGhost(t *testing.T) {
	c := New[int, int](Config{MaxBytes: 100 * EntryOverhead})
	for i := range 200 {
		c.Set(i, i, 0)
	}
	if _, ok := c.Get(0); ok {
		t.Fatalf("key 0 survived a scan of twice the cache")
	}
	c.Set(0, 0, 0)
	c.mu.Lock()
	e, _ := c.m.Load(0)
	inMain := e.(*entry[int, int]).inMain
	c.mu.Unlock()
	if !inMain {
		t.Errorf("a key set again soon after its eviction went to the small queue")
	}
}

func TestConcurrent(t *testing.T) {
	c := New[int, []byte](Config{MaxBytes: 64 << 10})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 20_000 {
				k := r.IntN(1000)
				if v, ok := c.Get(k); ok {
					if len(v) != k {
						t.Errorf("Get(%d) = %d bytes", k, len(v))
						return
					}
					continue
				}
				c.Set(k, make([]byte, k), int64(k))
			}
		})
	}
	wg.Wait()
	checkInvariants(t, c)
}

// TestHeapWithinBudget fills caches far past their budgets with entries
// large and small and checks that the heap grew by no more than the
// budget and a small slack: the costs callers give plus EntryOverhead
// account for what the cache really holds.
func TestHeapWithinBudget(t *testing.T) {
	const budget = 8 << 20
	for _, tc := range []struct {
		name string
		size int // bytes of each value
	}{
		{"values of 0 bytes", 0},
		{"values of 100 bytes", 100},
		{"values of 64 KiB", 64 << 10},
		{"values of 512 KiB", 512 << 10},
		{"values of a MiB, each over MaxEntryBytes", 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := heap.InUse()
			c := New[string, string](Config{MaxBytes: budget})
			n := 4 * budget / (tc.size + EntryOverhead)
			for i := range n {
				k := fmt.Sprint("key", i)
				v := strings.Repeat("v", tc.size)
				c.Set(k, v, int64(len(k)+len(v)))
			}
			after := heap.InUse()
			runtime.KeepAlive(c)
			st := c.Stats()
			grown := after - before
			t.Logf("%d entries set, %d kept, %d bytes reckoned, heap grew by %d", n, st.Entries, st.Bytes, grown)
			if grown > budget+budget/16 {
				t.Errorf("the heap grew by %d bytes, over the budget of %d", grown, budget)
			}
			if st.Bytes > budget {
				t.Errorf("Stats().Bytes = %d, over the budget of %d", st.Bytes, budget)
			}
			if grown > st.Bytes+budget/32 {
				t.Errorf("the heap grew by %d bytes, the cache reckons %d: EntryOverhead is too small", grown, st.Bytes)
			}
		})
	}
}

// BenchmarkGetParallel reads a hot set from every core.
func BenchmarkGetParallel(b *testing.B) {
	c := New[int, int](Config{MaxBytes: 1 << 20})
	for i := range 1000 {
		c.Set(i, i, 0)
	}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c.Get(i % 1000)
			i++
		}
	})
}

// BenchmarkSetEvict sets keys never seen before into a full cache, each
// evicting another.
func BenchmarkSetEvict(b *testing.B) {
	c := New[int, int](Config{MaxBytes: 1000 * EntryOverhead})
	i := 0
	for b.Loop() {
		c.Set(i, i, 0)
		i++
	}
}

// BenchmarkMixed reads and sets from Zipf-distributed keys, four times as
// many as fit, and reports the hit ratio.
func BenchmarkMixed(b *testing.B) {
	c := New[uint64, int](Config{MaxBytes: 10_000 * EntryOverhead})
	z := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.1, 1, 40_000)
	for b.Loop() {
		k := z.Uint64()
		if _, ok := c.Get(k); !ok {
			c.Set(k, 0, 0)
		}
	}
	st := c.Stats()
	b.ReportMetric(float64(st.Hits)/float64(st.Hits+st.Misses), "hits/op")
}
