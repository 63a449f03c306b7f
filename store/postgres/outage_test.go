package postgres_test

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"itemsapi/internal/testserver"
	"itemsapi/items"
	"itemsapi/store/postgres"
	"itemsapi/store/storetest"
)

// collector follows a store's items from now on, as a client would: when
// its subscription ends (the database went away), it subscribes again
// after the last item it received, until the test ends.
type collector struct {
	mu  sync.Mutex
	got []items.Item
}

func collect(t *testing.T, s *postgres.Store) *collector {
	t.Helper()
	c := &collector{}
	sub := storetest.Subscribe(t, s, items.FromNow)
	go func() {
		for {
			for it := range sub.C {
				c.mu.Lock()
				c.got = append(c.got, it)
				c.mu.Unlock()
			}
			if t.Context().Err() != nil {
				return
			}
			c.mu.Lock()
			last := int64(0)
			if len(c.got) > 0 {
				last = c.got[len(c.got)-1].ID
			}
			c.mu.Unlock()
			retry := time.NewTicker(20 * time.Millisecond)
			var err error
			for sub, err = s.Subscribe(t.Context(), last); err != nil; sub, err = s.Subscribe(t.Context(), last) {
				select {
				case <-t.Context().Done():
					retry.Stop()
					return
				case <-retry.C:
				}
			}
			retry.Stop()
		}
	}()
	return c
}

// items returns what c has received so far.
func (c *collector) items() []items.Item {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

// has reports whether c has received every item of ids.
func (c *collector) has(ids map[int64]bool) bool {
	got := c.items()
	if len(got) < len(ids) {
		return false
	}
	n := 0
	for _, it := range got {
		if ids[it.ID] {
			n++
		}
	}
	return n >= len(ids)
}

// loadAndCheck adds items from writers goroutines spread over stores (each
// until stop is closed, or each items of them when stop is nil, pacing
// each at most one per every, when positive) while disrupt runs, then
// checks that every collector received every acknowledged item exactly
// once, in one order that is the same for all, keeping each writer's
// order. Items whose addition failed may be there or not (a commit whose
// answer was lost), but then in every collector alike.
func loadAndCheck(t *testing.T, stores []*postgres.Store, cols []*collector, writers, each int, every time.Duration, stop <-chan struct{}) {
	t.Helper()
	acked := make([][]int64, writers)
	var wg sync.WaitGroup
	for w := range writers {
		s := stores[w%len(stores)]
		wg.Go(func() {
			var tick <-chan time.Time
			if every > 0 {
				ticker := time.NewTicker(every)
				defer ticker.Stop()
				tick = ticker.C
			}
			for i := 0; ; i++ {
				if stop == nil && i == each {
					return
				}
				if tick != nil {
					<-tick
				}
				select {
				case <-stop:
					return
				default:
				}
				it, err := s.AddItem(t.Context(), items.NewItem{Name: fmt.Sprintf("w%d-%d", w, i)})
				if err == nil {
					acked[w] = append(acked[w], it.ID)
				}
			}
		})
	}
	wg.Wait()
	want := map[int64]bool{}
	for _, ids := range acked {
		for _, id := range ids {
			want[id] = true
		}
	}
	for i, c := range cols {
		waitFor(t, fmt.Sprintf("collector %d to receive the %d acknowledged items", i, len(want)), func() bool { return c.has(want) })
	}
	first := storeIDs(cols[0].items())
	for i, c := range cols {
		got := storeIDs(c.items())
		seen := map[int64]int{}
		for j, id := range got {
			if k, dup := seen[id]; dup {
				t.Errorf("collector %d: item %d received twice, at %d and %d", i, id, k, j)
			}
			seen[id] = j
		}
		for w, ids := range acked {
			for j := 1; j < len(ids); j++ {
				if seen[ids[j]] < seen[ids[j-1]] {
					t.Errorf("collector %d: writer %d's item %d before its item %d", i, w, ids[j], ids[j-1])
				}
			}
		}
		// Collectors may still be receiving unacknowledged items: compare
		// what they all have.
		n := min(len(got), len(first))
		if diff := cmp.Diff(first[:n], got[:n]); diff != "" {
			t.Errorf("collectors 0 and %d received different orders (-0 +%d):\n%s", i, i, diff)
		}
	}
	t.Logf("%d items acknowledged, %d received by each of %d collectors", len(want), len(first), len(cols))
}

func storeIDs(its []items.Item) []int64 {
	ids := make([]int64, len(its))
	for i, it := range its {
		ids[i] = it.ID
	}
	return ids
}

// TestListenerKillUnderLoad cuts the listeners' connections again and
// again while two stores on one schema add items from many goroutines:
// every subscriber of both still receives every acknowledged item once, in
// one order.
func TestListenerKillUnderLoad(t *testing.T) {
	t.Parallel()
	a, b := twoProcesses(t)
	cols := []*collector{collect(t, a), collect(t, a), collect(t, b), collect(t, b)}

	stop := make(chan struct{})
	kills := make(chan int)
	go func() {
		n := 0
		defer func() { kills <- n }()
		testserver.Ticks(stop, 10*time.Millisecond, func() bool {
			for _, s := range []*postgres.Store{a, b} {
				if pid := s.ListenerPID(); pid != 0 {
					adminExec(t, t.Context(), fmt.Sprintf("SELECT pg_terminate_backend(%d)", pid))
					n++
				}
			}
			return true
		})
	}()
	const writers, each = 16, 40
	// Writers on b mostly: a's subscribers hear of them only through its
	// listener (or its sweep).
	loadAndCheck(t, []*postgres.Store{b, b, b, a}, cols, writers, each, 0, nil)
	close(stop)
	if n := <-kills; n < 2 {
		t.Errorf("killed the listeners %d times during the load, want several", n)
	} else {
		t.Logf("killed the listeners %d times", n)
	}
}

// TestPostgresRestart restarts the PostgreSQL server while two stores add
// about 500 items a second: every subscriber (resubscribing after its last
// item when its subscription ends, as a client does) receives every
// acknowledged item once, in one order. It restarts the server that
// TEST_DATABASE_URL names, which other tests may be using: it runs only
// with ITEMSAPI_PG_RESTART=1 (.ci/run sets it), and needs pg_ctlcluster.
func TestPostgresRestart(t *testing.T) {
	if os.Getenv("ITEMSAPI_PG_RESTART") != "1" {
		testserver.Skip(t, "PostgreSQL restart", "it restarts PostgreSQL: set ITEMSAPI_PG_RESTART=1 to run it (.ci/run does, alone)")
	}
	a, b := twoProcesses(t)
	cols := []*collector{collect(t, a), collect(t, b)}
	stop := make(chan struct{})
	restarted := make(chan error, 1)
	go func() {
		defer close(stop)
		// Load before, during and after the restart.
		select {
		case <-time.After(time.Second):
		case <-t.Context().Done():
			return
		}
		restarted <- restartPostgres(t)
		waitFor(t, "the stores to answer again", func() bool { return a.Ping(t.Context()) == nil && b.Ping(t.Context()) == nil })
		select {
		case <-time.After(time.Second):
		case <-t.Context().Done():
		}
	}()
	// 10 writers, one item each 20 ms: 500 a second.
	loadAndCheck(t, []*postgres.Store{a, b}, cols, 10, 0, 20*time.Millisecond, stop)
	if err := <-restarted; err != nil {
		t.Fatalf("restart PostgreSQL: %v", err)
	}
}

// restartPostgres restarts the local cluster with pg_ctlcluster.
func restartPostgres(t *testing.T) error {
	versions, err := os.ReadDir("/etc/postgresql")
	if err != nil || len(versions) != 1 {
		return fmt.Errorf("want one version under /etc/postgresql: %v", err)
	}
	out, err := exec.CommandContext(t.Context(), "pg_ctlcluster", "--skip-systemctl-redirect",
		versions[0].Name(), "main", "restart").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Logf("PostgreSQL restarted")
	return nil
}
