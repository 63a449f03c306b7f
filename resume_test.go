package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"itemsapi/internal/testserver"
)

// TestShutdownThenResumeOnAnotherProcess: two processes on one PostgreSQL
// database, writers on both; a subscriber on A receives items until A
// shuts down and closes its socket with 1001, then resumes on B with
// after: the last id it received. It must receive every acknowledged
// item exactly once over the two subscriptions.
func TestShutdownThenResumeOnAnotherProcess(t *testing.T) {
	db := pgSchema(t)
	a := startOn(t, db, "--shutdown-grace", "10s")
	b := startOn(t, db)

	marker, err := addItem(t.Context(), b.URL, "marker")
	if err != nil {
		t.Fatal(err)
	}
	onA := resumeSubscribe(t, a.URL, marker)

	// Writers on both processes, until told to stop; a writer on A
	// stops at its first failure (A shuts down).
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 6 {
		target := b.URL
		if w < 2 {
			target = a.URL
		}
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id, err := addItem(t.Context(), target, fmt.Sprintf("w%d-%d", w, i))
				if err != nil {
					if target == a.URL {
						return
					}
					t.Errorf("addItem on B: %v", err)
					return
				}
				mu.Lock()
				acked[id] = true
				mu.Unlock()
			}
		})
	}
	received := map[string]int{}
	var last string
	for n := 0; n < 300; n++ {
		ev, ok := <-onA.ids
		if !ok {
			t.Fatalf("the subscription on A ended after %d items: %v", n, onA.err())
		}
		received[ev]++
		last = ev
	}
	a.Shutdown() // SIGTERM; the cleanup waits for run to return
	for ev := range onA.ids {
		received[ev]++
		last = ev
	}
	if code := websocket.CloseStatus(onA.err()); code != websocket.StatusGoingAway {
		t.Errorf("A closed the socket with %v (%v), want 1001", code, onA.err())
	}
	fromA := len(received)
	onB := resumeSubscribe(t, b.URL, last)
	// A little more writing on B, then stop and collect.
	for n := 0; n < 300; n++ {
		ev, ok := <-onB.ids
		if !ok {
			t.Fatalf("the subscription on B ended: %v", onB.err())
		}
		received[ev]++
	}
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	missing := func() int {
		n := 0
		for id := range acked {
			if received[id] == 0 {
				n++
			}
		}
		return n
	}
	deadline := time.After(20 * time.Second)
	for missing() > 0 {
		select {
		case ev, ok := <-onB.ids:
			if !ok {
				t.Fatalf("the subscription on B ended: %v", onB.err())
			}
			received[ev]++
		case <-deadline:
			t.Fatalf("%d of %d acknowledged items never received (%d on A, resumed on B after %s)", missing(), len(acked), fromA, last)
		}
	}
	for id, n := range received {
		if n > 1 {
			t.Errorf("item %s received %d times", id, n)
		}
	}
	t.Logf("%d acknowledged items: %d received on A before its 1001, the rest on B after %s", len(acked), fromA, last)
}

// resumeSub is a subscription of resumeSubscribe.
type resumeSub struct {
	ids  chan string
	mu   sync.Mutex
	end  error
	conn *websocket.Conn
}

func (s *resumeSub) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.end
}

// resumeSubscribe subscribes to itemAdded(after: after) over
// graphql-transport-ws and passes on the ids received.
func resumeSubscribe(t *testing.T, base, after string) *resumeSub {
	t.Helper()
	ws := testserver.DialWS(t, base, nil, nil)
	ws.Subscribe(t, "1", `subscription($a: ID) { itemAdded(after: $a) { id } }`, map[string]any{"a": after})
	conn := ws.Conn
	s := &resumeSub{ids: make(chan string, 1<<16), conn: conn}
	go func() {
		defer close(s.ids)
		for {
			m, err := ws.Read(context.Background())
			if err == nil && m.Type != "next" {
				err = fmt.Errorf("message %s %s", m.Type, m.Payload)
			}
			if err != nil {
				s.mu.Lock()
				s.end = err
				s.mu.Unlock()
				return
			}
			var p struct {
				Data   struct{ ItemAdded struct{ ID string } }
				Errors []any
			}
			_ = json.Unmarshal(m.Payload, &p)
			if p.Data.ItemAdded.ID == "" {
				s.mu.Lock()
				s.end = fmt.Errorf("next without an item: %s", m.Payload)
				s.mu.Unlock()
				return
			}
			s.ids <- p.Data.ItemAdded.ID
		}
	}()
	return s
}

// TestItemAddedAfterAboveEveryID: over graphql-transport-ws, on each
// store, itemAdded(after:) an ID above every ID given brings only the
// items with a greater ID, in order (API.md: items with a greater id),
// while a subscription on the same socket that resumes after an existing
// ID, which the transport reads from the log itself and shares with its
// group, gets every item after it.
func TestItemAddedAfterAboveEveryID(t *testing.T) {
	test := func(t *testing.T, s *testserver.Server) {
		ctx := t.Context()
		last, err := addItem(ctx, s.URL, "last")
		if err != nil {
			t.Fatal(err)
		}
		l, err := strconv.ParseInt(last, 10, 64)
		if err != nil {
			t.Fatalf("id %q: %v", last, err)
		}
		above := l + 3
		ws := testserver.DialWS(t, s.URL, nil, nil)
		const doc = `subscription($a: ID) { itemAdded(after: $a) { id } }`
		ws.Subscribe(t, "resume", doc, map[string]any{"a": last})
		ws.Subscribe(t, "above", doc, map[string]any{"a": strconv.FormatInt(above, 10)})
		// The socket handles its messages in order, and a subscription's
		// resolver, which finds where it starts, runs as its message is
		// handled: once this query is answered, both have started.
		ws.Subscribe(t, "sync", `{ __typename }`, nil)
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for {
			m, err := ws.Read(rctx)
			if err != nil {
				t.Fatalf("waiting for the query's answer: %v", err)
			}
			if m.ID != "sync" {
				t.Fatalf("message %s %s %s before the query's answer", m.Type, m.ID, m.Payload)
			}
			if m.Type == "complete" {
				break
			}
		}

		// One at a time, until two items above it.
		var all, want []string
		for i := 0; len(want) < 2; i++ {
			if i == 20 {
				t.Fatalf("20 items added, %d of them with an ID above %d", len(want), above)
			}
			id, err := addItem(ctx, s.URL, fmt.Sprintf("added %d", i))
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, id)
			if n, _ := strconv.ParseInt(id, 10, 64); n > above {
				want = append(want, id)
			}
		}
		got := map[string][]string{}
		for len(got["resume"]) < len(all) || len(got["above"]) < len(want) {
			m, err := ws.Read(rctx)
			if err != nil {
				t.Fatalf("after %v: %v", got, err)
			}
			if m.Type != "next" {
				t.Fatalf("message %s %s %s, want next", m.Type, m.ID, m.Payload)
			}
			var p struct {
				Data struct{ ItemAdded struct{ ID string } }
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil || p.Data.ItemAdded.ID == "" {
				t.Fatalf("next %s: %s (%v)", m.ID, m.Payload, err)
			}
			got[m.ID] = append(got[m.ID], p.Data.ItemAdded.ID)
		}
		if diff := cmp.Diff(want, got["above"]); diff != "" {
			t.Errorf("itemAdded(after: %d), above every id: ids mismatch (-want +got):\n%s", above, diff)
		}
		if diff := cmp.Diff(all, got["resume"]); diff != "" {
			t.Errorf("itemAdded(after: %s): ids mismatch (-want +got):\n%s", last, diff)
		}
	}
	onEachLocalStore(t, test)
	t.Run("postgres", func(t *testing.T) { test(t, startOn(t, pgSchema(t))) })
}
