package postgres_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"itemsapi/items"
	"itemsapi/store/storetest"
)

// waitClosed fails t unless ch is closed within storetest.Timeout.
func waitClosed(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(storetest.Timeout):
		t.Fatalf("waited %v for %s", storetest.Timeout, what)
	}
}

// TestTokenRevisionAcrossStores: a revocation by one process is seen by
// another's next TokenRevision, and its listener hears it at once; after
// the listener loses its connection it catches up.
func TestTokenRevisionAcrossStores(t *testing.T) {
	a, b := twoProcesses(t)
	ctx := t.Context()

	revoke := func(s interface {
		CreateToken(context.Context, items.NewTokenRequest) (items.Token, string, error)
		RevokeToken(context.Context, int64, bool) (items.Token, error)
	}) {
		t.Helper()
		tok, _, err := s.CreateToken(ctx, items.NewTokenRequest{UserName: "bob", Role: items.RoleUser})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RevokeToken(ctx, tok.ID, true); err != nil {
			t.Fatal(err)
		}
	}

	changed := a.TokenRevisionChanged()
	before, err := a.TokenRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	revoke(b)
	if after, err := a.TokenRevision(ctx); err != nil || after <= before {
		t.Errorf("A's TokenRevision() after B revoked = %d, %v; want more than %d", after, err, before)
	}
	waitClosed(t, "A's listener to hear B's revocation", changed)

	// The listener loses its connection; a revocation meanwhile is caught
	// up with when it is back (it waits 50 ms at least to reconnect).
	pid := a.ListenerPID()
	if pid == 0 {
		t.Fatal("ListenerPID() = 0")
	}
	changed = a.TokenRevisionChanged()
	adminExec(t, ctx, fmt.Sprintf("SELECT pg_terminate_backend(%d)", pid))
	waitFor(t, "the listener to notice", func() bool { return a.ListenerPID() != pid })
	revoke(b)
	waitClosed(t, "A's listener to catch up", changed)
	waitFor(t, "the listener to reconnect", func() bool { return a.ListenerPID() != 0 })
}

// TestTokensMigration opens a schema as the previous version left it
// (every migration before the tokens', tokens stored by hash): the tokens
// keep working, with IDs and no expiry.
func TestTokensMigration(t *testing.T) {
	u := newSchema(t)
	ctx := t.Context()
	conn := connect(t, u)
	stmts := []string{`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.Contains(f, "_tokens") {
			break
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0])
		stmts = append(stmts, string(b), fmt.Sprintf(`INSERT INTO schema_migrations (version) VALUES (%d)`, v))
	}
	_, admin := items.NewToken()
	_, user := items.NewToken()
	stmts = append(stmts, `INSERT INTO users (name, role) VALUES ('admin', 'ADMIN'), ('ann', 'USER')`)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%.40s: %v", s, err)
		}
	}
	for _, tt := range []struct {
		hash items.TokenHash
		user string
		role items.Role
		at   string
	}{{admin, "admin", items.RoleAdmin, "2026-01-01"}, {user, "ann", items.RoleUser, "2026-02-01"}} {
		if _, err := conn.Exec(ctx, `INSERT INTO tokens (hash, user_id, role, created_at)
			SELECT $1, id, $2, $3::timestamptz FROM users WHERE name = $4`, tt.hash[:], string(tt.role), tt.at, tt.user); err != nil {
			t.Fatal(err)
		}
	}

	s := open(t, u, nil)
	for i, tt := range []struct {
		hash items.TokenHash
		user string
		role items.Role
	}{{admin, "admin", items.RoleAdmin}, {user, "ann", items.RoleUser}} {
		tok, got, err := s.TokenByHash(ctx, tt.hash)
		if err != nil || got.Name != tt.user || tok.Role != tt.role || tok.ID != int64(i+1) || tok.ExpiresAt != nil || tok.RevokedAt != nil {
			t.Errorf("TokenByHash(%s's old token) = %+v, %+v, %v; want ID %d, %s, no expiry", tt.user, tok, got, err, i+1, tt.role)
		}
		if u, role, err := s.UserByToken(ctx, tt.hash); err != nil || u.Name != tt.user || role != tt.role {
			t.Errorf("UserByToken(%s's old token) = %v, %v, %v", tt.user, u, role, err)
		}
	}
	tok, _, err := s.CreateToken(ctx, items.NewTokenRequest{UserName: "ann", Role: items.RoleUser})
	if err != nil || tok.ID != 3 {
		t.Errorf("CreateToken after the migration = %+v, %v; want ID 3", tok, err)
	}
}
