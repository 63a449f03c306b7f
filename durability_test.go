package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"itemsapi/internal/testserver"
	"itemsapi/items"
	"itemsapi/store/sqlite"
)

// TestKillNineLosesNothing runs the real binary, adds, updates and
// deletes items from several clients, kills the process with SIGKILL in
// the middle of the load, and checks that every change answered with
// success is in the database, whole (a change in flight is there whole or
// not at all), and in the log that subscribers resume from.
func TestKillNineLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary: skipped with -short")
	}
	dir := t.TempDir()
	bin := testserver.Build(t, ".")
	dbPath := filepath.Join(dir, "items.db")
	srv := testserver.Exec(t, bin, []string{"BOOTSTRAP_ADMIN_TOKEN=" + adminToken}, "--db", "sqlite:"+dbPath)
	url := srv.URL

	// Clients add, update and delete items until the server dies; each
	// remembers what was acknowledged, and the change it had in flight.
	var (
		mu      sync.Mutex
		acked   = map[string]itemState{} // id → the state last acknowledged
		pending = map[string]itemState{} // id → the state a change in flight would leave
		changes int
		wg      sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	enough := make(chan struct{})
	var once sync.Once
	record := func(id string, st itemState, done bool) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			pending[id] = st
			return
		}
		delete(pending, id)
		acked[id] = st
		changes++
		if changes >= 600 {
			once.Do(func() { close(enough) })
		}
	}
	for c := range 8 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				name := fmt.Sprintf("client %d item %d", c, i)
				id, err := addItem(ctx, url, name)
				if err != nil {
					return // the server is gone
				}
				record(id, itemState{name: name, version: 1}, true)
				updated := itemState{name: name + " updated", version: 2}
				record(id, updated, false)
				if err := changeItem(ctx, url, `mutation($id: ID!, $n: String!) { updateItem(id: $id, input: {name: $n, expectedVersion: 1}) { id } }`,
					map[string]any{"id": id, "n": updated.name}); err != nil {
					return
				}
				record(id, updated, true)
				if i%3 != 0 {
					continue
				}
				record(id, itemState{deleted: true}, false)
				if err := changeItem(ctx, url, `mutation($id: ID!) { deleteItem(id: $id, expectedVersion: 2) }`, map[string]any{"id": id}); err != nil {
					return
				}
				record(id, itemState{deleted: true}, true)
			}
		})
	}
	select {
	case <-enough:
	case <-ctx.Done():
		t.Fatal("fewer than 600 changes were made in 30 s")
	}
	srv.Kill(t)
	wg.Wait()

	store, err := sqlite.Open(t.Context(), dbPath)
	if err != nil {
		t.Fatalf("reopening after kill -9: %v", err)
	}
	defer store.Close()
	mu.Lock()
	defer mu.Unlock()
	var updates, deletes int
	wantUpdated, wantDeleted := map[int64]bool{}, map[int64]bool{}
	for id, want := range acked {
		var n int64
		fmt.Sscan(id, &n)
		it, err := store.Item(t.Context(), n)
		got := itemState{name: it.Name, version: it.Version, deleted: items.ErrorCode(err) == items.NotFound}
		if err != nil && !got.deleted {
			t.Errorf("item %s: %v", id, err)
			continue
		}
		// The state acknowledged, or whole the one of the change in
		// flight: never a name of one state with the version of another.
		if p, ok := pending[id]; got != want && (!ok || got != p) {
			t.Errorf("item %s = %+v, want %+v (acknowledged) or %+v (in flight)", id, got, want, pending[id])
		}
		switch {
		case want.deleted:
			deletes++
			wantDeleted[n] = true
		case want.version == 2:
			updates++
			wantUpdated[n] = true
		}
	}
	// The log holds every acknowledged change: a subscriber that resumes
	// from the start gets them.
	for kind, want := range map[items.EventKind]map[int64]bool{items.ItemUpdated: wantUpdated, items.ItemDeleted: wantDeleted} {
		sub, err := store.Follow(t.Context(), kind, 0)
		if err != nil {
			t.Fatalf("Follow() = %v", err)
		}
		timeout := time.After(10 * time.Second)
		for len(want) > 0 {
			select {
			case it := <-sub.C:
				delete(want, it.ID)
			case <-timeout:
				t.Fatalf("%d acknowledged %v events missing from the log", len(want), kind)
			}
		}
	}
	t.Logf("%d acknowledged changes (%d items, %d updated, %d deleted), all there after kill -9", changes, len(acked), updates, deletes)
}

// itemState is what a client knows of an item.
type itemState struct {
	name    string
	version int
	deleted bool
}

// changeItem runs an updateItem or deleteItem as the admin and reports
// whether the server acknowledged it without errors.
func changeItem(ctx context.Context, url, query string, vars map[string]any) error {
	r, err := testserver.Post(ctx, url, adminToken, query, vars)
	if err != nil {
		return err
	}
	return r.Ok(nil)
}

// addItem adds one item as the admin and returns its id once the server
// acknowledged it.
func addItem(ctx context.Context, url, name string) (string, error) {
	var got struct{ AddItem struct{ ID string } }
	r, err := testserver.Post(ctx, url, adminToken, `mutation($n: String!) { addItem(input: {name: $n}) { id } }`, map[string]any{"n": name})
	if err == nil {
		err = r.Ok(&got)
	}
	return got.AddItem.ID, err
}
