package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/jackc/pgx/v5"
)

// pgSchema returns TEST_DATABASE_URL pointed at a new schema that is
// dropped when t ends. Without the variable it skips, except under CI.
func pgSchema(t *testing.T) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_DATABASE_URL not set: CI must run the PostgreSQL tests")
		}
		t.Skip("TEST_DATABASE_URL not set: skipping PostgreSQL tests")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "scaleout_" + hex.EncodeToString(b)
	exec := func(ctx context.Context, sql string) {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(t.Context(), "CREATE SCHEMA "+schema)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestTwoProcessesOnePostgres runs two servers on one database, as two
// replicas behind a load balancer.
func TestTwoProcessesOnePostgres(t *testing.T) {
	db := pgSchema(t)
	env := map[string]string{"BOOTSTRAP_ADMIN_TOKEN": adminToken}
	a := start(t, env, "--db", db)
	b := start(t, env, "--db", db)

	t.Run("a token made on one works on the other", func(t *testing.T) {
		var made struct{ CreateToken string }
		a.graphql(t, adminToken, `mutation { createToken(user: "dora") }`, &made)
		var me struct{ Me struct{ Name string } }
		b.graphql(t, made.CreateToken, `{ me { name } }`, &me)
		if me.Me.Name != "dora" {
			t.Errorf("me on the other process = %q, want dora", me.Me.Name)
		}
	})

	t.Run("a subscriber on one gets every item added on the other", func(t *testing.T) {
		sub := subscribe(t, a.url, adminToken)
		const n = 50
		start := time.Now()
		for i := range n {
			if _, err := addItem(t.Context(), b.url, fmt.Sprintf("via b %d", i)); err != nil {
				t.Fatal(err)
			}
		}
		for i := range n {
			select {
			case name := <-sub:
				if want := fmt.Sprintf("via b %d", i); name != want {
					t.Fatalf("item %d received = %q, want %q", i, name, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("received %d of %d items within 10 s", i, n)
			}
		}
		t.Logf("%d items added on B reached a subscriber on A in %v", n, time.Since(start))
	})

	t.Run("500 concurrent addItem over both lose nothing", func(t *testing.T) {
		const n = 500
		ids := make(chan string, n)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32)
		for i := range n {
			target := a.url
			if i%2 == 1 {
				target = b.url
			}
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				id, err := addItem(t.Context(), target, fmt.Sprintf("concurrent %d", i))
				if err != nil {
					t.Errorf("addItem %d: %v", i, err)
					return
				}
				ids <- id
			})
		}
		wg.Wait()
		close(ids)
		seen := map[string]bool{}
		for id := range ids {
			if seen[id] {
				t.Errorf("id %s given twice", id)
			}
			seen[id] = true
		}
		var got struct{ Search struct{ TotalCount int } }
		a.graphql(t, "", `{ search(query: "concurrent") { totalCount } }`, &got)
		if len(seen) != n || got.Search.TotalCount != n {
			t.Errorf("%d distinct ids and %d rows, want %d of each", len(seen), got.Search.TotalCount, n)
		}
	})
}

// subscribe opens a graphql-transport-ws subscription to itemAdded and
// returns the names of the items it receives; the channel is closed when
// the socket ends.
func subscribe(t *testing.T, base, token string) <-chan string {
	t.Helper()
	ctx := t.Context()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	type msg struct {
		Type    string          `json:"type"`
		ID      string          `json:"id,omitempty"`
		Payload json.RawMessage `json:"payload,omitempty"`
	}
	init, _ := json.Marshal(map[string]string{"Authorization": "Bearer " + token})
	if err := wsjson.Write(ctx, conn, msg{Type: "connection_init", Payload: init}); err != nil {
		t.Fatal(err)
	}
	var ack msg
	if err := wsjson.Read(ctx, conn, &ack); err != nil || ack.Type != "connection_ack" {
		t.Fatalf("connection_init answered %+v, %v", ack, err)
	}
	q, _ := json.Marshal(map[string]string{"query": "subscription { itemAdded { id name } }"})
	if err := wsjson.Write(ctx, conn, msg{Type: "subscribe", ID: "1", Payload: q}); err != nil {
		t.Fatal(err)
	}
	names := make(chan string, 1024)
	go func() {
		defer close(names)
		for {
			var m msg
			if err := wsjson.Read(ctx, conn, &m); err != nil {
				return
			}
			if m.Type != "next" {
				continue
			}
			var p struct {
				Data struct{ ItemAdded struct{ Name string } }
			}
			_ = json.Unmarshal(m.Payload, &p)
			names <- p.Data.ItemAdded.Name
		}
	}()
	// The subscription is live once the server has registered it; adding
	// and seeing a marker item proves it without sleeping.
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		marker := fmt.Sprintf("marker %d", i)
		if _, err := addItem(ctx, base, marker); err != nil {
			t.Fatal(err)
		}
		select {
		case name := <-names:
			for ok := true; name != marker; name, ok = <-names {
				if !ok {
					t.Fatal("the subscription ended before it started")
				}
			}
			return names
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("the subscription did not start within 10 s")
		}
	}
}
