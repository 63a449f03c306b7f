package sqlite_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"itemsapi/items"
	"itemsapi/store/sqlite"
)

// The words of the names that benchName makes. Among them "an" is common
// (Banana, Mango, Orange, Pomegranate, Organic, Giant), "ana" less so
// (Banana, Pomegranate), and "qzx" in none.
var (
	benchAdjectives = []string{"Fresh", "Ripe", "Sweet", "Sour", "Juicy", "Organic", "Crisp", "Golden",
		"Wild", "Tiny", "Giant", "Dried", "Frozen", "Spicy", "Smoked", "Local"}
	benchColours = []string{"Red", "Green", "Yellow", "Orange", "Purple", "Black", "White", "Pink", "Brown", "Blue"}
	benchFruits  = []string{"Apple", "Banana", "Cherry", "Mango", "Orange", "Pear", "Plum", "Grape", "Lemon", "Lime",
		"Melon", "Peach", "Kiwi", "Papaya", "Guava", "Apricot", "Fig", "Date", "Quince", "Pomegranate"}
)

// benchRare is a search that matches the names of about one item in
// benchRareEvery: those that end with the marker Qzx.
const (
	benchRare      = "qzx"
	benchRareEvery = 100_000
)

// benchName returns the name of the i-th item (from 0) that the benchmarks
// load, the same on every run: an optional adjective, an optional colour
// and a fruit, like "Ripe Yellow Banana", and the marker "Qzx" for one i in
// benchRareEvery, from i = 4321 on.
func benchName(i int) string {
	h := mix(uint64(i))
	words := make([]string, 0, 4)
	if h&1 == 0 {
		words = append(words, benchAdjectives[(h>>8)%uint64(len(benchAdjectives))])
	}
	if h&2 == 0 {
		words = append(words, benchColours[(h>>16)%uint64(len(benchColours))])
	}
	words = append(words, benchFruits[(h>>24)%uint64(len(benchFruits))])
	if i%benchRareEvery == 4321 {
		words = append(words, "Qzx")
	}
	return strings.Join(words, " ")
}

// mix is the finalizer of SplitMix64: a bijection that scatters the bits
// of x.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// benchItems returns the items lo to hi-1 of the benchmarks.
func benchItems(lo, hi int) []items.NewItem {
	batch := make([]items.NewItem, 0, hi-lo)
	for i := lo; i < hi; i++ {
		batch = append(batch, items.NewItem{Name: benchName(i)})
	}
	return batch
}

// importBatch is the number of items of each Import of importItems.
const importBatch = 10_000

// importItems imports the items 0 to n-1 of the benchmarks into s and
// returns how long that took.
func importItems(tb testing.TB, s *sqlite.Store, n int) time.Duration {
	tb.Helper()
	start := time.Now()
	for lo := 0; lo < n; lo += importBatch {
		if err := s.Import(tb.Context(), benchItems(lo, min(lo+importBatch, n))); err != nil {
			tb.Fatalf("Import(%d…) = %v", lo, err)
		}
	}
	return time.Since(start)
}

// BenchmarkStore measures the reads and writes of a store of 10,000 items,
// and of 1,000,000 too when ITEMS_BENCH_LARGE=1. Pages are of 20 items,
// asked for as 21 to learn whether there is a next one.
func BenchmarkStore(b *testing.B) {
	sizes := []int{10_000}
	if os.Getenv("ITEMS_BENCH_LARGE") == "1" {
		sizes = append(sizes, 1_000_000)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			s := open(b, filepath.Join(b.TempDir(), "items.db"))
			b.Logf("imported %d items in %v", n, importItems(b, s, n))
			benchStore(b, s, n)
		})
	}
}

// benchStore runs the benchmarks of BenchmarkStore on s, which holds the
// demo items and then the n items of the benchmarks.
func benchStore(b *testing.B, s *sqlite.Store, n int) {
	last := int64(n + len(items.DemoItems))
	rng := rand.New(rand.NewPCG(1, 2))
	b.Run("Item", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Item(b.Context(), 1+rng.Int64N(last)); err != nil {
				b.Fatal(err)
			}
		}
	})
	pages := []struct {
		name   string
		search string
		keyset bool // start at a random item rather than the first
	}{
		{"Items/first", "", false},
		{"Items/keyset", "", true},
		{"Search/an/first", "an", false},
		{"Search/an/keyset", "an", true},
		{"Search/ana/first", "ana", false},
		{"Search/ana/keyset", "ana", true},
		{"Search/" + benchRare + "/first", benchRare, false}, // rare: the index
		{"Search/qz/first", "qz", false},                     // rare and short: a scan of every name
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				q := items.ItemQuery{Search: p.search, Limit: 21}
				if p.keyset {
					q.After = rng.Int64N(last - 1000)
				}
				if _, err := s.Items(b.Context(), q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, search := range []string{"", "an", "ana", benchRare} {
		b.Run(fmt.Sprintf("Count/%q", search), func(b *testing.B) {
			for b.Loop() {
				if _, err := s.CountItems(b.Context(), search); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// Last: they add items.
	next := atomic.Int64{}
	next.Store(int64(n))
	b.Run("AddItem/callers=1", func(b *testing.B) { benchAddItem(b, s, &next, 1) })
	b.Run("AddItem/callers=32", func(b *testing.B) { benchAddItem(b, s, &next, 32) })
}

// benchAddItem adds items from about callers goroutines at once and
// reports the items acknowledged per second and the 99th percentile of
// the latency of AddItem. next numbers the names.
func benchAddItem(b *testing.B, s *sqlite.Store, next *atomic.Int64, callers int) {
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism(max(1, callers/procs))
	var (
		mu        sync.Mutex
		latencies []time.Duration
	)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			n := items.NewItem{Name: benchName(int(next.Add(1)))}
			t := time.Now()
			if _, err := s.AddItem(b.Context(), n); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t))
		}
		mu.Lock()
		latencies = append(latencies, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	if len(latencies) == 0 {
		return
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "items/s")
	b.ReportMetric(float64(latencies[len(latencies)*99/100])/float64(time.Millisecond), "p99-ms")
}

// BenchmarkImport measures Import of batches of importBatch items into a
// store that grows by as many at each iteration.
func BenchmarkImport(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "items.db"))
	lo := 0
	for b.Loop() {
		if err := s.Import(b.Context(), benchItems(lo, lo+importBatch)); err != nil {
			b.Fatal(err)
		}
		lo += importBatch
	}
	b.ReportMetric(float64(lo)/b.Elapsed().Seconds(), "items/s")
}
