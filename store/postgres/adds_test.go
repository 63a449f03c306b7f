package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"itemsapi/items"
	"itemsapi/store/postgres"
)

// lockItems holds a lock on the items table that every insertion waits
// for, until the returned function releases it.
func lockItems(t *testing.T, u string) (release func()) {
	t.Helper()
	conn := connect(t, u)
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	if _, err := tx.Exec(t.Context(), `LOCK TABLE items IN SHARE MODE`); err != nil {
		t.Fatalf("lock items: %v", err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if err := tx.Rollback(context.WithoutCancel(t.Context())); err != nil {
				t.Errorf("release the lock: %v", err)
			}
		})
	}
	t.Cleanup(release)
	return release
}

type addResult struct {
	item items.Item
	err  error
}

// TestAddBatch gathers additions that wait together into one batch: the
// one whose creator is no user fails alone with code Invalid, the one
// whose caller gave up while it waited is not added, every other one is
// added with an ID of its own, and the first, whose caller gave up once
// its batch had taken it, is added and answered as added.
func TestAddBatch(t *testing.T) {
	t.Parallel()
	u := newSchema(t)
	s := openWith(t, postgres.WithAddBatches(postgres.Config{URL: u, MaxConns: 4}, 1), nil)
	ctx := t.Context()
	_, hash := items.NewToken()
	user, err := s.AddToken(ctx, "batcher", items.RoleUser, hash)
	if err != nil {
		t.Fatalf("AddToken() = %v", err)
	}
	release := lockItems(t, u)

	// The first addition: taken by the only batch, which waits for the
	// lock; its caller gives up meanwhile.
	firstCtx, giveUp := context.WithCancel(ctx)
	first := make(chan addResult, 1)
	go func() {
		it, err := s.AddItem(firstCtx, items.NewItem{Name: "first"})
		first <- addResult{it, err}
	}()
	waitFor(t, "the first addition to be taken", func() bool {
		waiting, running := s.Adds()
		return waiting == 0 && running == 1
	})
	giveUp()

	// The next ones wait together for the batch to be free.
	const n = 12
	const noUser, withdrawn = 3, 7
	results := make([]addResult, n)
	cancels := make([]context.CancelFunc, n)
	var wg sync.WaitGroup
	for i := range n {
		nu := items.NewItem{Name: fmt.Sprintf("batched %d", i)}
		switch {
		case i == noUser:
			nu.CreatedByID = user.ID + 1000
		case i%2 == 0:
			nu.CreatedByID = user.ID
		}
		var cctx context.Context
		cctx, cancels[i] = context.WithCancel(ctx)
		wg.Go(func() {
			results[i].item, results[i].err = s.AddItem(cctx, nu)
		})
	}
	waitFor(t, "the additions to wait together", func() bool {
		waiting, _ := s.Adds()
		return waiting == n
	})
	cancels[withdrawn]()
	waitFor(t, "the withdrawn addition to leave the queue", func() bool {
		waiting, _ := s.Adds()
		return waiting == n-1
	})
	release()
	wg.Wait()
	for _, cancel := range cancels {
		cancel()
	}

	if res := <-first; res.err != nil || res.item.Name != "first" || res.item.ID == 0 {
		t.Errorf("AddItem(first), its caller gone once taken = %+v, %v, want the item added", res.item, res.err)
	}
	ids := map[int64]bool{}
	for i, res := range results {
		name := fmt.Sprintf("batched %d", i)
		switch i {
		case noUser:
			if items.ErrorCode(res.err) != items.Invalid {
				t.Errorf("AddItem(%s) by no user = %v, want code %s", name, res.err, items.Invalid)
			}
		case withdrawn:
			if !errors.Is(res.err, context.Canceled) {
				t.Errorf("AddItem(%s), withdrawn while waiting = %v, want context.Canceled", name, res.err)
			}
		default:
			if res.err != nil {
				t.Errorf("AddItem(%s) = %v", name, res.err)
				continue
			}
			if res.item.Name != name || res.item.Version != 1 || ids[res.item.ID] {
				t.Errorf("AddItem(%s) = %+v, want its own item", name, res.item)
			}
			ids[res.item.ID] = true
			got, err := s.Item(ctx, res.item.ID)
			if err != nil || got.Name != name || got.CreatedByID != res.item.CreatedByID || !got.CreatedAt.Equal(res.item.CreatedAt) {
				t.Errorf("Item(%d) = %+v, %v, want %+v", res.item.ID, got, err, res.item)
			}
		}
	}
	for _, i := range []int{noUser, withdrawn} {
		name := fmt.Sprintf("batched %d", i)
		if n, err := s.CountItems(ctx, name); err != nil || n != 0 {
			t.Errorf("CountItems(%q) = %d, %v, want 0: not added", name, n, err)
		}
	}
}

// TestAddConcurrently adds many items at once through two stores, with
// batches of every size: each gets an ID of its own and is stored.
func TestAddConcurrently(t *testing.T) {
	t.Parallel()
	a, b := twoProcesses(t)
	ctx := t.Context()
	const n = 400
	ids := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			it, err := s.AddItem(ctx, items.NewItem{Name: fmt.Sprintf("concurrent %d", i)})
			if err != nil {
				t.Errorf("AddItem(%d) = %v", i, err)
				return
			}
			ids[i] = it.ID
		})
	}
	wg.Wait()
	seen := map[int64]int{}
	for i, id := range ids {
		if j, ok := seen[id]; ok && id != 0 {
			t.Errorf("items %d and %d got the same ID %d", j, i, id)
		}
		seen[id] = i
	}
	if got, err := a.CountItems(ctx, "concurrent"); err != nil || got != n {
		t.Errorf("CountItems(concurrent) = %d, %v, want %d", got, err, n)
	}
}

// TestAddAfterClose: an addition that comes once the store is closed
// fails with code Unavailable.
func TestAddAfterClose(t *testing.T) {
	t.Parallel()
	s := open(t, newSchema(t), nil)
	s.Close()
	if _, err := s.AddItem(t.Context(), items.NewItem{Name: "late"}); items.ErrorCode(err) != items.Unavailable {
		t.Errorf("AddItem() after Close = %v, want code %s", err, items.Unavailable)
	}
}
