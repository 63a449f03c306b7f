package main

import (
	"fmt"
	"path/filepath"
	"testing"

	"itemsapi/internal/testserver"
)

// TestFreshAfterItemAdded: a client that queries as soon as itemAdded
// brings it an item sees that item, whatever the caches hold: each round's
// answer is kept until the next write. The server runs with its default
// caches, as wired by run. (httpapi's TestResponseCacheFreshForSubscribers
// makes the same check a thousand times under concurrent reads, with the
// call that adds the item held until the subscriber has queried.)
func TestFreshAfterItemAdded(t *testing.T) {
	onEachLocalStore(t, func(t *testing.T, s *testserver.Server) {
		names := subscribe(t, s.URL, adminToken)
		const query = `{ items(last: 1) { nodes { name } } }`
		const rounds = 100 // each syncs SQLite to disk
		for i := range rounds {
			name := fmt.Sprintf("fresh %d", i)
			added := make(chan error, 1)
			go func() {
				_, err := addItem(t.Context(), s.URL, name)
				added <- err
			}()
			if got, ok := <-names; !ok || got != name {
				t.Fatalf("round %d: itemAdded brought %q (subscription open: %v), want %q", i, got, ok, name)
			}
			var got struct {
				Items struct{ Nodes []struct{ Name string } }
			}
			s.GraphQL(t, "", query, &got)
			if len(got.Items.Nodes) != 1 || got.Items.Nodes[0].Name != name {
				t.Fatalf("round %d: right after itemAdded brought %q, the last items are %+v: an answer from before the write", i, name, got.Items.Nodes)
			}
			if err := <-added; err != nil {
				t.Fatal(err)
			}
		}
	})
}

// onEachLocalStore runs test on the program (with the admin token) over
// each store of one process, a new SQLite file and memory, with the
// caches that run wires for it.
func onEachLocalStore(t *testing.T, test func(t *testing.T, s *testserver.Server)) {
	for _, db := range []string{"sqlite", "memory"} {
		t.Run(db, func(t *testing.T) {
			dsn := "memory"
			if db == "sqlite" {
				dsn = "sqlite:" + filepath.Join(t.TempDir(), "items.db")
			}
			test(t, start(t, map[string]string{"BOOTSTRAP_ADMIN_TOKEN": adminToken}, "--db", dsn))
		})
	}
}
