package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"itemsapi/internal/testserver"
)

// TestNoStaleAnswerAfterChanges updates and deletes items from several
// clients while others read them, each read the same few queries again
// and again (by ID, a full first page, pages in the orders NAME and
// UPDATED_AT both ways, searches, counts), on the server as run wires its
// caches (read cache, response cache). Every answer must show at least
// the version of each item acknowledged before the read was sent, the
// name that version was given with it, and no item whose deletion was
// acknowledged.
func TestNoStaleAnswerAfterChanges(t *testing.T) {
	onEachLocalStore(t, noStaleAnswer)
}

func noStaleAnswer(t *testing.T, s *testserver.Server) {
	ctx := t.Context()
	const (
		n      = 4  // items, one writer each
		rounds = 30 // updates of each
		demo   = 2
	)
	var (
		ids   [n]string
		acked [n]atomic.Int64 // the version acknowledged last; 0: being deleted, -1: deleted
	)
	for i := range n {
		id, err := addItem(ctx, s.URL, fmt.Sprintf("k%d-1", i))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
		acked[i].Store(1)
	}
	index := map[string]int{}
	for i, id := range ids {
		index[id] = i
	}
	// The queries, and which items each must show while they exist.
	queries := []struct {
		q     string
		holds []int
	}{
		{`{ items(first: 3) { nodes { id name version } } }`, []int{0}}, // full: kept across additions
		{`{ items(first: 100) { totalCount nodes { id name version } } }`, []int{0, 1, 2, 3}},
		{`{ items(last: 5) { nodes { id name version } } }`, []int{1, 2, 3}},
		{`{ items(orderBy: {field: NAME, direction: DESC}, first: 100) { nodes { id name version } } }`, []int{0, 1, 2, 3}},
		{`{ items(orderBy: {field: UPDATED_AT, direction: ASC}, last: 100) { nodes { id name version } } }`, []int{0, 1, 2, 3}},
		{`{ items(orderBy: {field: UPDATED_AT, direction: DESC}, first: 2) { nodes { id name version } } }`, nil},
		{`{ search(query: "K1-") { totalCount nodes { id name version } } }`, []int{1}},
		{`{ search(query: "k", last: 100) { nodes { id name version } } }`, []int{0, 1, 2, 3}},
	}
	for i := range n {
		queries = append(queries, struct {
			q     string
			holds []int
		}{fmt.Sprintf(`{ item(id: %q) { id name version } }`, ids[i]), []int{i}})
	}
	type node struct {
		ID, Name string
		Version  int64
	}
	// check fails t unless the answer to q shows nothing older than floor,
	// the versions acknowledged before q was sent, and shows the items it
	// holds whose deletion had not begun when the answer came (later).
	check := func(q string, holds []int, floor, later [n]int64, data map[string]*struct {
		TotalCount *int
		Nodes      []node
		node
	}) {
		for _, c := range data {
			var list []node
			switch {
			case c == nil: // item(id): null
			case c.ID != "":
				list = []node{c.node}
			default:
				list = c.Nodes
			}
			seen := map[int]bool{}
			for _, it := range list {
				i, ok := index[it.ID]
				if !ok {
					continue // a demo item
				}
				seen[i] = true
				if floor[i] < 0 || it.Version < floor[i] || it.Name != fmt.Sprintf("k%d-%d", i, it.Version) {
					t.Errorf("%s: item %s at version %d named %q, after version %d was acknowledged (0: a deletion in flight, -1: deleted)", q, it.ID, it.Version, it.Name, floor[i])
				}
			}
			for _, i := range holds {
				if later[i] > 0 && !seen[i] {
					t.Errorf("%s: no item %s, which exists (version %d acknowledged)", q, ids[i], later[i])
				}
			}
			if c != nil && c.TotalCount != nil && floor[n-1] < 0 && *c.TotalCount != len(list) {
				t.Errorf("%s: totalCount %d with %d nodes, after a deletion was acknowledged", q, *c.TotalCount, len(list))
			}
		}
	}

	var (
		writers, readers sync.WaitGroup
		reads            atomic.Int64
	)
	done := make(chan struct{})
	for i := range n {
		writers.Go(func() {
			for v := int64(2); v <= rounds; v++ {
				err := changeItem(ctx, s.URL, `mutation($id: ID!, $n: String!) { updateItem(id: $id, input: {name: $n}) { version } }`,
					map[string]any{"id": ids[i], "n": fmt.Sprintf("k%d-%d", i, v)})
				if err != nil {
					t.Error(err)
					return
				}
				acked[i].Store(v)
			}
			if i == n-1 {
				acked[i].Store(0) // in flight: gone or not
				if err := changeItem(ctx, s.URL, `mutation($id: ID!) { deleteItem(id: $id) }`, map[string]any{"id": ids[i]}); err != nil {
					t.Error(err)
					return
				}
				acked[i].Store(-1)
			}
		})
	}
	for r := range 3 {
		readers.Go(func() {
			for k := r; ; k++ {
				select {
				case <-done:
					return
				default:
				}
				var floor, later [n]int64
				for i := range n {
					floor[i] = acked[i].Load()
				}
				q := queries[k%len(queries)]
				var data map[string]*struct {
					TotalCount *int
					Nodes      []node
					node
				}
				if err := s.Ask(t, "", q.q, nil).Ok(&data); err != nil {
					t.Errorf("%s: %v", q.q, err)
					return
				}
				for i := range n {
					later[i] = acked[i].Load()
				}
				check(q.q, q.holds, floor, later, data)
				reads.Add(1)
			}
		})
	}
	writers.Wait()
	close(done)
	readers.Wait()
	t.Logf("%d reads during %d changes", reads.Load(), n*(rounds-1)+1)
}
