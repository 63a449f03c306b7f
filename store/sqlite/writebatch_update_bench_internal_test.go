package sqlite

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"

	"itemsapi/items"
	"itemsapi/store/storetest"
)

// BenchmarkWriteBatchUpdates is BenchmarkWriteBatch for batches of 8
// updates of the description of random items (of 10,000, all indexed), as
// the update scenario of bench/run makes.
func BenchmarkWriteBatchUpdates(b *testing.B) {
	const size = 8
	s := openTest(b)
	root, _ := storetest.AddUser(b, s, "root", items.RoleAdmin)
	by := storetest.Caller(root, items.RoleAdmin)
	seed := make([]items.NewItem, 10_000)
	for i := range seed {
		seed[i] = items.NewItem{Name: fmt.Sprintf("Seed %05d", i)}
	}
	if err := s.Import(b.Context(), seed); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var before, after syscall.Rusage
	n := 0
	b.ResetTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	io0 := procIO()
	for n < b.N {
		batch := make([]*addRequest, size)
		for i := range batch {
			r := newBenchRequest(s, items.Item{})
			d := fmt.Sprintf("updated %d", n)
			r.op, r.id, r.update = opUpdate, 4+rng.Int64N(10_000), items.ItemUpdate{Description: &d, By: by}
			batch[i] = r
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
