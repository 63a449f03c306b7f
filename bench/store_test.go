// The store calls that each load scenario makes, one at a time, on the
// SQLite store (the default a user gets) and on the memory store (the
// floor: no SQL, no I/O), over the same generated dataset as bench/run.
// Together with httpapi's BenchmarkHandler they tell where a scenario's
// time goes, and benchstat compares a change with main:
//
//	go test -run XXX -bench . -benchmem -count 10 ./bench/ ./httpapi/ > new.txt
//	benchstat old.txt new.txt
//
// -args -items 1000000 runs them over the large dataset (seeding it takes
// a while).
package bench_test

import (
	"context"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"itemsapi/bench/workload"
	"itemsapi/items"
	"itemsapi/store/memory"
	"itemsapi/store/sqlite"
)

var total = flag.Int("items", workload.SmallItems, "items in the benchmarks' stores, demo items included")

// store is what the benchmarks need of a store: the calls, and the admin
// that add acts as.
type store struct {
	items.Store
	admin items.User
	token items.TokenHash
}

func BenchmarkStore(b *testing.B) {
	for _, kind := range []struct {
		name string
		open func(b *testing.B) items.Store
	}{
		{"sqlite", openSQLite},
		{"memory", openMemory},
	} {
		b.Run(kind.name, func(b *testing.B) {
			s := withAdmin(b, kind.open(b))
			benchmarkStore(b, s)
		})
	}
}

func benchmarkStore(b *testing.B, s store) {
	ctx := b.Context()
	// list, search and deep ask for one item more than they show, to
	// learn whether a next page exists.
	page := func(name string, q items.ItemQuery, want int) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				got, err := s.Items(ctx, q)
				if err != nil || len(got) != want {
					b.Fatalf("Items(%+v) = %d items, %v; want %d", q, len(got), err, want)
				}
			}
		})
	}
	page("list", items.ItemQuery{Limit: workload.PageSize + 1}, workload.PageSize+1)
	b.Run("get", func(b *testing.B) {
		b.ReportAllocs()
		id := int64(0)
		for b.Loop() {
			id = id%workload.GetIDs + 1
			if _, err := s.Item(ctx, id); err != nil {
				b.Fatalf("Item(%d): %v", id, err)
			}
		}
	})
	page("search", items.ItemQuery{Search: workload.CommonQuery, Limit: workload.PageSize + 1}, workload.PageSize+1)
	// At 10k items the marker matches nothing; at 1M a few names: either
	// way the store must look at every name (or at its index).
	rare := workload.NewExpect(*total, workload.Marker).Matches(workload.Marker)
	page("search-rare", items.ItemQuery{Search: workload.Marker, Limit: workload.PageSize + 1}, min(rare, workload.PageSize+1))
	page("deep", items.ItemQuery{Limit: workload.DeepPageSize + 1}, min(*total, workload.DeepPageSize+1))
	b.Run("deep-count", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if n, err := s.CountItems(ctx, ""); err != nil || n < *total {
				b.Fatalf("CountItems() = %d, %v; want at least %d", n, err, *total)
			}
		}
	})
	// add authenticates its token, then adds: durably, on SQLite.
	b.Run("add-token", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := s.UserByToken(ctx, s.token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("add", func(b *testing.B) { // last: it grows the store
		b.ReportAllocs()
		desc := "added by the benchmark"
		for b.Loop() {
			if _, err := s.AddItem(ctx, items.NewItem{Name: "bench item", Description: &desc, CreatedByID: s.admin.ID}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// openSQLite returns a new SQLite store loaded as bench/seed loads it.
func openSQLite(b *testing.B) items.Store {
	ctx := b.Context()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "items.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	batch := make([]items.NewItem, 0, 10_000)
	flush := func() {
		if err := s.Import(ctx, batch); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	for n := range workload.Generate(*total) {
		if batch = append(batch, n); len(batch) == cap(batch) {
			flush()
		}
	}
	flush()
	return s
}

// openMemory returns a new memory store holding the same items.
func openMemory(b *testing.B) items.Store {
	s := memory.New()
	b.Cleanup(func() { s.Close() })
	ctx := b.Context()
	for n := range workload.Generate(*total) {
		if _, err := s.AddItem(ctx, n); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// withAdmin gives the store an admin with a token, and checks that it
// holds the dataset: a first page of the right names.
func withAdmin(b *testing.B, st items.Store) store {
	ctx := context.WithoutCancel(b.Context())
	_, hash := items.NewToken()
	admin, err := st.AddToken(ctx, "admin", items.RoleAdmin, hash)
	if err != nil {
		b.Fatal(err)
	}
	got, err := st.Items(ctx, items.ItemQuery{Search: workload.CommonQuery, Limit: workload.PageSize})
	if err != nil {
		b.Fatal(err)
	}
	for _, it := range got {
		if !strings.Contains(strings.ToLower(it.Name), workload.CommonQuery) {
			b.Fatalf("search %q found %q", workload.CommonQuery, it.Name)
		}
	}
	return store{Store: st, admin: admin, token: hash}
}
