package sqlite

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"itemsapi/items"
	"itemsapi/store/storetest"
)

var benchDesc = "added by the benchmark"

// BenchmarkWriteBatch stores batches of additions of a fixed size with
// writeBatch, in a store of 10,000 items, as the writer does under load,
// and reports the CPU time of the process per item (user and system: the
// writes and syncs of the WAL are most of it) and, per batch, the write
// calls and the pages written (the bytes written over 4096: WAL frames
// and checkpoints), which do not depend on the machine's other load as
// the CPU time does. Run it on one CPU: taskset -c 0 go test -run '^$'
// -bench WriteBatch -benchtime 20000x -cpu 1 ./store/sqlite.
func BenchmarkWriteBatch(b *testing.B) {
	for _, size := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			s := seededStore(b)
			benchBatches(b, s, size, func(n int) *addRequest {
				return newBenchRequest(s, items.Item{Name: fmt.Sprintf("bench x %06d", n), Description: &benchDesc})
			})
		})
	}
}

// BenchmarkWriteBatchUpdates is BenchmarkWriteBatch for batches of 8
// updates of the description of random items (of 10,000, all indexed), as
// the update scenario of bench/run makes.
func BenchmarkWriteBatchUpdates(b *testing.B) {
	s := seededStore(b)
	root, _ := storetest.AddUser(b, s, "root", items.RoleAdmin)
	by := storetest.Caller(root, items.RoleAdmin)
	rng := rand.New(rand.NewPCG(1, 2))
	benchBatches(b, s, 8, func(n int) *addRequest {
		r := newBenchRequest(s, items.Item{})
		d := fmt.Sprintf("updated %d", n)
		r.op, r.id, r.update = opUpdate, 4+rng.Int64N(10_000), items.ItemUpdate{Description: &d, By: by}
		return r
	})
}

// seededStore returns a new store of 10,000 items.
func seededStore(b *testing.B) *Store {
	s := openTest(b)
	seed := make([]items.NewItem, 10_000)
	for i := range seed {
		seed[i] = items.NewItem{Name: fmt.Sprintf("Seed %05d", i)}
	}
	if err := s.Import(b.Context(), seed); err != nil {
		b.Fatal(err)
	}
	return s
}

// benchBatches writes b.N requests, the nth made by next(n), in batches
// of size, and reports the CPU time per item and the write calls and
// pages per batch.
func benchBatches(b *testing.B, s *Store, size int, next func(n int) *addRequest) {
	var before, after syscall.Rusage
	n := 0
	b.ResetTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	io0 := procIO()
	for n < b.N {
		batch := make([]*addRequest, size)
		for i := range batch {
			batch[i] = next(n)
			n++
		}
		s.writeBatch(batch)
		for _, r := range batch {
			if res := <-r.done; res.err != nil {
				b.Fatal(res.err)
			}
		}
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := func(r syscall.Rusage) int64 { return r.Utime.Nano() + r.Stime.Nano() }
	b.ReportMetric(float64(cpu(after)-cpu(before))/1e3/float64(n), "cpu-µs/item")
	io1 := procIO()
	b.ReportMetric(float64(io1[0]-io0[0])/float64(n/size), "syscw/batch")
	b.ReportMetric(float64(io1[1]-io0[1])/4096/float64(n/size), "pages/batch")
}

// procIO returns syscw and wchar of /proc/self/io.
func procIO() [2]int64 {
	b, _ := os.ReadFile("/proc/self/io")
	var r [2]int64
	for _, l := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(l, ": ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "syscw":
			r[0] = n
		case "wchar":
			r[1] = n
		}
	}
	return r
}

func newBenchRequest(s *Store, it items.Item) *addRequest {
	return &addRequest{op: opAdd, item: it, done: make(chan addResult, 1), write: s.writes.Begin(items.ItemAdded)}
}
