package sqlite_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"itemsapi/items"
	"itemsapi/store/storetest"
)

// TestTokensMigration opens a file as the previous version left it
// (migrations 0001 to 0004, tokens stored by hash): its tokens keep
// working, with IDs in creation order and no expiry.
func TestTokensMigration(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "items.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	var stmts []string
	for _, f := range []string{"0001_init.sql", "0002_search_index.sql", "0003_deferred_search_index.sql", "0004_users_name_lower.sql"} {
		b, err := os.ReadFile(filepath.Join("migrations", f))
		if err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, string(b))
	}
	_, admin := items.NewToken()
	_, user := items.NewToken()
	stmts = append(stmts, "PRAGMA user_version = 4",
		`INSERT INTO users (name, role) VALUES ('admin', 'ADMIN'), ('ann', 'USER')`)
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%.40s: %v", s, err)
		}
	}
	// Created in this order: ann's first.
	if _, err := db.ExecContext(ctx, `INSERT INTO tokens (hash, user_id, role, created_at) VALUES
		(?, (SELECT id FROM users WHERE name = 'admin'), 'ADMIN', 2000), (?, (SELECT id FROM users WHERE name = 'ann'), 'USER', 1000)`,
		admin[:], user[:]); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := open(t, path)
	for _, tt := range []struct {
		hash   items.TokenHash
		user   string
		role   items.Role
		wantID int64
	}{{user, "ann", items.RoleUser, 1}, {admin, "admin", items.RoleAdmin, 2}} {
		tok, u, err := s.TokenByHash(ctx, tt.hash)
		if err != nil || u.Name != tt.user || tok.Role != tt.role || tok.ID != tt.wantID || tok.ExpiresAt != nil || tok.RevokedAt != nil {
			t.Errorf("TokenByHash(%s's old token) = %+v, %+v, %v; want ID %d, %s, no expiry", tt.user, tok, u, err, tt.wantID, tt.role)
		}
		if u, role, err := s.UserByToken(ctx, tt.hash); err != nil || u.Name != tt.user || role != tt.role || u.Role != tt.role {
			t.Errorf("UserByToken(%s's old token) = %v, %v, %v", tt.user, u, role, err)
		}
	}
	tok, _ := storetest.CreateToken(t, s, "ann", items.RoleUser, nil)
	if tok.ID != 3 {
		t.Errorf("CreateToken after the migration: ID %d, want 3", tok.ID)
	}
}

// TestRevocationFromAnotherHandle: a revocation made through another
// handle on the same file (the CLI, while the server runs) shows in this
// handle's next TokenRevision.
func TestRevocationFromAnotherHandle(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "items.db")
	server, cli := open(t, path), open(t, path)
	tok, secret := storetest.CreateToken(t, server, "bob", items.RoleUser, nil)
	before, err := server.TokenRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.RevokeToken(ctx, tok.ID, true); err != nil {
		t.Fatal(err)
	}
	if after, err := server.TokenRevision(ctx); err != nil || after <= before {
		t.Errorf("TokenRevision() after another handle revoked = %d, %v; want more than %d", after, err, before)
	}
	if _, _, err := server.UserByToken(ctx, items.HashToken(secret)); !errors.Is(err, items.ErrTokenRevoked) {
		t.Errorf("UserByToken(revoked elsewhere) = %v, want %v", err, items.ErrTokenRevoked)
	}
}

// BenchmarkTokenRevision is the check an authenticated request with a
// cached token makes on SQLite: one row read.
func BenchmarkTokenRevision(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "items.db"))
	ctx := b.Context()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.TokenRevision(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
