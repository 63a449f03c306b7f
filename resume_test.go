package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

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
