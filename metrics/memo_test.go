package metrics

import (
	"strconv"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestMemo: the memo hands out the vector's own children, the same one
// for the same labels, from many goroutines at once, and a count through
// it is a count of the series.
func TestMemo(t *testing.T) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c"}, []string{"l"})
	made := 0
	mm := newMemo(func(l string) prometheus.Counter { made++; return vec.WithLabelValues(l) })
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				mm.get(strconv.Itoa((g + i) % 50)).Inc()
			}
		})
	}
	wg.Wait()
	if made != 50 {
		t.Errorf("made %d children for 50 label values", made)
	}
	total := 0.0
	for i := range 50 {
		l := strconv.Itoa(i)
		if mm.get(l) != vec.WithLabelValues(l) {
			t.Fatalf("the memo's child of %q is not the vector's", l)
		}
		total += testutil.ToFloat64(vec.WithLabelValues(l))
	}
	if total != 8000 {
		t.Errorf("the series count %v, want 8000", total)
	}
}
