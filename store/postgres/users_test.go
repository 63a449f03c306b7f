package postgres_test

import (
	"testing"

	"itemsapi/items"
	"itemsapi/store/storetest"
)

// TestLegacyUserNames stores users as the program did before migration
// 0002 and before new user names had to be ASCII (names differing only in
// case, non-ASCII names), then opens the schema with this program, which
// migrates it.
func TestLegacyUserNames(t *testing.T) {
	databaseURL(t)
	t.Parallel()
	storetest.RunLegacyUserNames(t, func(t *testing.T, users []storetest.LegacyUser) items.Store {
		ctx := t.Context()
		u := newSchema(t)
		open(t, u, nil).Close()
		conn := connect(t, u)
		for _, stmt := range []string{"DROP INDEX users_name_lower", "DELETE FROM schema_migrations WHERE version = 3"} {
			if _, err := conn.Exec(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		for _, user := range users {
			var id int64
			if err := conn.QueryRow(ctx, `INSERT INTO users (name, role) VALUES ($1, 'USER') RETURNING id`, user.Name).Scan(&id); err != nil {
				t.Fatalf("insert user %q: %v", user.Name, err)
			}
			if _, err := conn.Exec(ctx, `INSERT INTO tokens (hash, user_id, role) VALUES ($1, $2, 'USER')`, user.Hash[:], id); err != nil {
				t.Fatalf("insert token of %q: %v", user.Name, err)
			}
		}
		return open(t, u, nil)
	})
}

// TestUserNameFoldIsASCII checks that the lookup folds ASCII only, as
// SQLite and the memory store do, whatever the database's locale: a name
// with the Kelvin sign, stored before the rule, is not the "kate" of a new
// name, though lower() folds it to k under most locales.
func TestUserNameFoldIsASCII(t *testing.T) {
	databaseURL(t)
	t.Parallel()
	ctx := t.Context()
	u := newSchema(t)
	s := open(t, u, nil)
	conn := connect(t, u)
	var kelvinID int64
	if err := conn.QueryRow(ctx, `INSERT INTO users (name, role) VALUES ($1, 'USER') RETURNING id`, "\u212Aate").Scan(&kelvinID); err != nil {
		t.Fatal(err)
	}
	kate, _ := storetest.AddUser(t, s, "Kate", items.RoleUser)
	if kate.ID == kelvinID || kate.Name != "Kate" {
		t.Errorf("AddToken(Kate) = %v, want a new user, not the Kelvin sign's %d", kate, kelvinID)
	}
}
