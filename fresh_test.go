package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/coder/websocket/wsjson"

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

// TestFreshAfterItemUpdated: a client that queries as soon as itemUpdated
// brings it an update sees that update, in the answers that the caches
// keep across additions too (an item by ID, a full first page), and
// likewise no longer sees an item once itemDeleted brings its ID.
func TestFreshAfterItemUpdated(t *testing.T) {
	onEachLocalStore(t, func(t *testing.T, s *testserver.Server) {
		ctx := t.Context()
		id, err := addItem(ctx, s.URL, "fresh 1")
		if err != nil {
			t.Fatal(err)
		}
		ws := testserver.DialWS(t, s.URL, nil, map[string]string{"Authorization": "Bearer " + adminToken})
		// After demo item 1, never changed: every change since its addition,
		// however late the subscriptions go live.
		ws.Subscribe(t, "u", `subscription { itemUpdated(after: "1") { id version } }`, nil)
		ws.Subscribe(t, "d", `subscription { itemDeleted(after: "1") }`, nil)
		next := func(op string) json.RawMessage {
			t.Helper()
			for {
				rctx, cancel := context.WithTimeout(ctx, time.Minute)
				m, err := ws.Read(rctx)
				cancel()
				if err != nil {
					t.Fatalf("%s: %v", op, err)
				}
				switch {
				case m.Type == "ping":
					if err := wsjson.Write(ctx, ws.Conn, testserver.Message{Type: "pong"}); err != nil {
						t.Fatal(err)
					}
				case m.Type == "next" && m.ID == op:
					return m.Payload
				case m.Type != "pong":
					t.Fatalf("%s: got %+v", op, m)
				}
			}
		}
		query := fmt.Sprintf(`{ item(id: %q) { version } items(first: 3) { nodes { id version } } }`, id)
		type answer struct {
			Item  *struct{ Version int }
			Items struct {
				Nodes []struct {
					ID      string
					Version int
				}
			}
		}
		const rounds = 50 // each syncs SQLite to disk
		for v := 2; v <= rounds+1; v++ {
			changed := make(chan error, 1)
			go func() {
				changed <- changeItem(ctx, s.URL, `mutation($id: ID!, $n: String!) { updateItem(id: $id, input: {name: $n}) { id } }`,
					map[string]any{"id": id, "n": fmt.Sprintf("fresh %d", v)})
			}()
			var ev struct {
				Data struct{ ItemUpdated struct{ Version int } }
			}
			if err := json.Unmarshal(next("u"), &ev); err != nil || ev.Data.ItemUpdated.Version != v {
				t.Fatalf("itemUpdated brought %+v, %v; want version %d", ev, err, v)
			}
			var got answer
			s.GraphQL(t, "", query, &got)
			if got.Item == nil || got.Item.Version != v || len(got.Items.Nodes) != 3 || got.Items.Nodes[2].Version != v {
				t.Fatalf("right after itemUpdated brought version %d: %+v, an answer from before the update", v, got)
			}
			if err := <-changed; err != nil {
				t.Fatal(err)
			}
		}
		deleted := make(chan error, 1)
		go func() {
			deleted <- changeItem(ctx, s.URL, `mutation($id: ID!) { deleteItem(id: $id) }`, map[string]any{"id": id})
		}()
		next("d")
		var got answer
		s.GraphQL(t, "", query, &got)
		if got.Item != nil || len(got.Items.Nodes) != 2 {
			t.Fatalf("right after itemDeleted brought %s: %+v, an answer from before the deletion", id, got)
		}
		if err := <-deleted; err != nil {
			t.Fatal(err)
		}
	})
}
