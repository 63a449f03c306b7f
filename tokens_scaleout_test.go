package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"itemsapi/internal/testserver"
)

// TestRevocationReachesEveryProcess runs two servers on one PostgreSQL
// database: a token revoked on A, or by the CLI, is refused on B, which
// had it cached, from the very next request, and B closes a websocket
// opened with it with 4403 within a second.
func TestRevocationReachesEveryProcess(t *testing.T) {
	db := pgSchema(t)
	a := startOn(t, db)
	b := startOn(t, db)

	mint := func(user string) (token, id string) {
		t.Helper()
		var made struct{ CreateToken string }
		r := ask(t, a.URL, adminToken, `mutation($u: String!) { createToken(user: $u) }`, map[string]any{"u": user})
		if err := json.Unmarshal(r.Data, &made); err != nil || len(r.Errors) > 0 {
			t.Fatalf("createToken on A: %s %+v", r.Data, r.Errors)
		}
		var cur struct{ CurrentToken struct{ ID string } }
		r = ask(t, b.URL, made.CreateToken, `{ currentToken { id } }`, nil)
		if err := json.Unmarshal(r.Data, &cur); err != nil || len(r.Errors) > 0 {
			t.Fatalf("currentToken on B: %s %+v", r.Data, r.Errors)
		}
		for range 3 { // cached on B
			if r := ask(t, b.URL, made.CreateToken, `{ me { name } }`, nil); len(r.Errors) > 0 {
				t.Fatalf("me on B: %+v", r.Errors)
			}
		}
		return made.CreateToken, cur.CurrentToken.ID
	}
	refusedOn := func(s *testserver.Server, token string, since time.Time) {
		t.Helper()
		refused(t, ask(t, s.URL, token, `{ me { name } }`, nil), "revoked")
		t.Logf("refused %v after the revocation returned", time.Since(since))
	}

	t.Run("revoked on A", func(t *testing.T) {
		bob, id := mint("bob")
		r := ask(t, a.URL, adminToken, `mutation($id: ID!) { revokeToken(id: $id) { revokedAt } }`, map[string]any{"id": id})
		if len(r.Errors) > 0 {
			t.Fatalf("revokeToken on A: %+v", r.Errors)
		}
		done := time.Now()
		refusedOn(b, bob, done)
		refused(t, ask(t, a.URL, bob, `{ me { name } }`, nil), "revoked")
	})
	t.Run("revoked by the CLI", func(t *testing.T) {
		carol, id := mint("carol")
		tokenCLI(t, db, "revoke", id)
		done := time.Now()
		refusedOn(a, carol, done)
		refusedOn(b, carol, done)
	})
	t.Run("B's websocket closed with 4403", func(t *testing.T) {
		dave, id := mint("dave")
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		conn, resp, err := testserver.TryDial(t, ctx, b.URL, "graphql-transport-ws", nil)
		if err != nil {
			t.Fatalf("dial B: %v (response %v)", err, resp)
		}
		if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"connection_init","payload":{"token":"`+dave+`"}}`)); err != nil {
			t.Fatal(err)
		}
		if _, msg, err := conn.Read(ctx); err != nil || !strings.Contains(string(msg), "connection_ack") {
			t.Fatalf("init on B: %s %v, want connection_ack", msg, err)
		}
		r := ask(t, a.URL, adminToken, `mutation($id: ID!) { revokeToken(id: $id) { revokedAt } }`, map[string]any{"id": id})
		if len(r.Errors) > 0 {
			t.Fatalf("revokeToken on A: %+v", r.Errors)
		}
		done := time.Now()
		for {
			_, _, err := conn.Read(ctx)
			if err == nil {
				continue // a ping
			}
			if got := websocket.CloseStatus(err); got != 4403 {
				t.Fatalf("B's socket ended with %v (status %d), want a close with 4403", err, got)
			}
			break
		}
		if d := time.Since(done); d > time.Second {
			t.Errorf("B closed the socket %v after the revocation on A, want within a second", d)
		}
		t.Logf("B closed the socket %v after the revocation on A", time.Since(done))
	})
}
