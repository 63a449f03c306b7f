package fresh

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestFreshRead: callers arriving all the time, while a writer changes the
// value, each get a value read after their call began (never one from a
// read already in flight), and share reads: far fewer reads than calls.
func TestFreshRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			value atomic.Int64
			reads atomic.Int64
		)
		f := New(func(context.Context) (int64, error) {
			reads.Add(1)
			v := value.Load() // the read's snapshot, taken as it begins
			time.Sleep(time.Millisecond)
			return v, nil
		})
		stop := make(chan struct{})
		go func() { // the writer
			for {
				select {
				case <-stop:
					return
				case <-time.After(300 * time.Microsecond):
					value.Add(1)
				}
			}
		}()
		const callers, calls = 32, 50
		var wg sync.WaitGroup
		for c := range callers {
			wg.Go(func() {
				for i := range calls {
					time.Sleep(time.Duration(c*7+i%5) * 10 * time.Microsecond)
					before := value.Load()
					got, err := f.Get(t.Context())
					if err != nil {
						t.Error(err)
						return
					}
					if got < before {
						t.Errorf("get() = %d, called when the value was %d already: a read older than the call", got, before)
					}
				}
			})
		}
		wg.Wait()
		close(stop)
		if n := reads.Load(); n >= callers*calls/4 {
			t.Errorf("%d reads for %d calls: not shared", n, callers*calls)
		}
	})
}

// TestFreshReadCancelled: a caller whose context ends stops waiting; the
// read goes on for the others.
func TestFreshReadCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		f := New(func(context.Context) (int, error) {
			<-release
			return 7, nil
		})
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { _, err := f.Get(ctx); errc <- err }()
		synctest.Wait()
		cancel()
		if err := <-errc; err != context.Canceled {
			t.Fatalf("cancelled get() = %v, want context.Canceled", err)
		}
		got := make(chan int, 1)
		go func() { v, _ := f.Get(t.Context()); got <- v }()
		synctest.Wait()
		close(release)
		if v := <-got; v != 7 {
			t.Fatalf("get() = %d, want 7", v)
		}
	})
}

// TestFreshReadSharedOnOneCPU: on one CPU, callers that are ready to run
// when a round forms join it, rather than each waiting for a read of its
// own: the round's goroutine, which would otherwise run as soon as its
// leader waits, lets them call first.
func TestFreshReadSharedOnOneCPU(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var reads atomic.Int64
	f := New(func(context.Context) (int, error) {
		reads.Add(1) // and no wait: the CPU is the read's
		return 1, nil
	})
	const callers = 16
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			<-start
			if _, err := f.Get(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := reads.Load(); n > callers/4 {
		t.Errorf("%d reads for %d callers ready at once on one CPU, want at most %d", n, callers, callers/4)
	}
}
