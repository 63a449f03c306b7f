package main

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// TestTokenCommandUserNames checks the rule of new user names on the CLI:
// a look-alike of a user is refused, a name equal but for case names the
// user.
func TestTokenCommandUserNames(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "items.db")
	create := func(t *testing.T, user string) (string, error) {
		t.Helper()
		var out bytes.Buffer
		err := run(t.Context(), []string{"token", "create", "--user", user, "--db", db},
			func(string) string { return "" }, &out, io.Discard, nil)
		return strings.TrimSpace(out.String()), err
	}
	if _, err := create(t, "carol"); err != nil {
		t.Fatalf("token create --user carol: %v", err)
	}
	for _, user := range []string{"carol\u200b", "c\u0430rol", "\ufeffcarol", "car ol", "J\u00fcrgen"} {
		if _, err := create(t, user); err == nil || !strings.Contains(err.Error(), "--user") || !strings.Contains(err.Error(), "ASCII") {
			t.Errorf("token create --user %+q: err = %v, want a refusal naming --user and the ASCII rule", user, err)
		}
	}
	token, err := create(t, "CAROL")
	if err != nil {
		t.Fatalf("token create --user CAROL: %v", err)
	}
	s := start(t, nil, "--db", db)
	var me struct{ Me struct{ Name string } }
	s.GraphQL(t, token, `{ me { name } }`, &me)
	if me.Me.Name != "carol" {
		t.Errorf("the token made for CAROL is %q's, want carol's", me.Me.Name)
	}
}
