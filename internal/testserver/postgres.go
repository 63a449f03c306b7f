package testserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresExec runs statements on a connection of its own to the
// database of TEST_DATABASE_URL, outside any test schema.
func PostgresExec(t testing.TB, ctx context.Context, sqls ...string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, PostgresURL(t))
	if err != nil {
		t.Fatalf("connect to TEST_DATABASE_URL: %v", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, sql := range sqls {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// PostgresConn opens a connection of its own to the database at u,
// closed when the test ends; it fails the test if it cannot.
func PostgresConn(t testing.TB, u string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), u)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.WithoutCancel(t.Context())) })
	return conn
}

// PostgresSchema creates an empty schema in the database of
// TEST_DATABASE_URL, dropped when t ends, and returns a URL whose
// connections work in it, so that tests run in parallel on one database.
// Without TEST_DATABASE_URL the test skips, or fails under CI=true.
func PostgresSchema(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "test_" + hex.EncodeToString(b)
	PostgresExec(t, t.Context(), "CREATE SCHEMA "+name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		PostgresExec(t, ctx, "DROP SCHEMA "+name+" CASCADE")
	})
	return WithParams(t, base, "search_path", name)
}

// WithParams returns the connection string u with run-time parameters
// added, as key, value pairs: to the query of a URL, or as key=value
// pairs.
func WithParams(t testing.TB, u string, kv ...string) string {
	t.Helper()
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatalf("TEST_DATABASE_URL does not parse: %v", err)
		}
		q := parsed.Query()
		for i := 0; i < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		parsed.RawQuery = q.Encode()
		return parsed.String()
	}
	for i := 0; i < len(kv); i += 2 {
		u += " " + kv[i] + "=" + kv[i+1]
	}
	return u
}
