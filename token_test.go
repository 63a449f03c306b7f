package main

import (
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"itemsapi/internal/testserver"
	"itemsapi/items"
)

// ask posts a query with token and returns the answer, errors included.
func ask(t *testing.T, url, token, query string, vars map[string]any) testserver.Response {
	t.Helper()
	a, err := testserver.Post(t.Context(), url, token, query, vars)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// refused fails t unless a is refused as UNAUTHENTICATED with a message
// containing why.
func refused(t *testing.T, a testserver.Response, why string) {
	t.Helper()
	if len(a.Errors) != 1 || a.Errors[0].Code() != "UNAUTHENTICATED" || !strings.Contains(a.Errors[0].Message, why) {
		t.Errorf("answer = %s %+v, want UNAUTHENTICATED saying %q", a.Data, a.Errors, why)
	}
}

// tokenCLI runs `itemsapi token args…` in-process and returns its
// standard output and log.
func tokenCLI(t *testing.T, db string, args ...string) (stdout, log string) {
	t.Helper()
	var out, errs bytes.Buffer
	args = append(append([]string{"token"}, args...), "--db", db)
	if err := run(t.Context(), args, func(string) string { return "" }, &out, &errs, nil); err != nil {
		t.Fatalf("itemsapi %s: %v\n%s", strings.Join(args, " "), err, errs.String())
	}
	return out.String(), errs.String()
}

// lastLine is the token that `token create` prints.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestTokenRevokeByCLIWhileServing: a revocation by `itemsapi token
// revoke`, another process on the same SQLite file, holds from the next
// request the running server answers, although the server remembered the
// token.
func TestTokenRevokeByCLIWhileServing(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "items.db")
	s := start(t, map[string]string{"BOOTSTRAP_ADMIN_TOKEN": adminToken}, "--db", db)
	out, _ := tokenCLI(t, db, "create", "--user", "bob", "--expires", "720h")
	bob := lastLine(out)
	id, ok := items.TokenIDFromPrefix(bob)
	if !ok {
		t.Fatalf("token create printed %q, want itm_<id>_…", bob)
	}
	for range 3 { // remembered by the server's token cache
		if a := ask(t, s.URL, bob, `{ me { name } currentToken { id expiresAt } }`, nil); len(a.Errors) > 0 {
			t.Fatalf("me with bob's token: %+v", a.Errors)
		}
	}

	list, _ := tokenCLI(t, db, "list")
	if !regexp.MustCompile(`(?m)^` + strconvI(id) + `\s+bob\s+USER\s+\S+\s+20\d\d-`).MatchString(list) {
		t.Errorf("token list:\n%s\nwant a line for token %d of bob, USER, with an expiry", list, id)
	}
	if strings.Contains(list, bob) || strings.Contains(list, adminToken) || strings.Contains(list, bob[len("itm_1_"):]) {
		t.Errorf("token list shows a secret:\n%s", list)
	}
	if !strings.Contains(list, "ID") || !strings.Contains(list, "LAST USED") || !strings.Contains(list, "REVOKED") {
		t.Errorf("token list header missing:\n%s", list)
	}

	out, _ = tokenCLI(t, db, "revoke", strconvI(id))
	if !strings.Contains(out, "revoked") {
		t.Errorf("token revoke printed %q", out)
	}
	refused(t, ask(t, s.URL, bob, `{ me { name } }`, nil), "revoked")
	out, _ = tokenCLI(t, db, "revoke", strconvI(id))
	if !strings.Contains(out, "already revoked") {
		t.Errorf("token revoke again printed %q, want it to say already revoked", out)
	}
	// The admin's token still works, and the server lists the revocation.
	var got struct {
		Tokens struct {
			Nodes []struct{ ID, RevokedAt string }
		}
	}
	a := ask(t, s.URL, adminToken, `{ tokens(user: "bob") { nodes { id revokedAt } } }`, nil)
	if err := json.Unmarshal(a.Data, &got); err != nil || len(a.Errors) > 0 || len(got.Tokens.Nodes) != 1 || got.Tokens.Nodes[0].RevokedAt == "" {
		t.Errorf("tokens(user: bob) = %s %+v, want bob's token, revoked", a.Data, a.Errors)
	}
}

func strconvI(id int64) string { return strconv.FormatInt(id, 10) }

// TestTokenCLIRevokesLastAdmin: the CLI may revoke the last ADMIN token,
// which GraphQL refuses, and warns.
func TestTokenCLIRevokesLastAdmin(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "items.db")
	out, _ := tokenCLI(t, db, "create", "--user", "root", "--role", "ADMIN")
	root := lastLine(out)
	id, _ := items.TokenIDFromPrefix(root)
	s := start(t, nil, "--db", db)
	a := ask(t, s.URL, root, `mutation($id: ID!) { revokeToken(id: $id) { id } }`, map[string]any{"id": strconvI(id)})
	if len(a.Errors) != 1 || a.Errors[0].Code() != "BAD_USER_INPUT" {
		t.Fatalf("revokeToken(last ADMIN) over GraphQL = %s %+v, want BAD_USER_INPUT", a.Data, a.Errors)
	}
	_, log := tokenCLI(t, db, "revoke", root[:len("itm_")+len(strconvI(id))+1]) // by its non-secret prefix
	if !strings.Contains(log, "last unrevoked, unexpired ADMIN token") {
		t.Errorf("log of token revoke = %q, want a warning about the last ADMIN token", log)
	}
	refused(t, ask(t, s.URL, root, `{ me { name } }`, nil), "revoked")
}

// TestBootstrapTokenChange: a new BOOTSTRAP_ADMIN_TOKEN revokes the
// previous one at start, and a revoked value is never revived; neither
// value is logged.
func TestBootstrapTokenChange(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "items.db")
	const first, second = "first-bootstrap-token-0123456789", "second-bootstrap-token-0123456789"
	check := func(s *testserver.Server, token, why string) {
		t.Helper()
		a := ask(t, s.URL, token, `{ me { name role } }`, nil)
		if why != "" {
			refused(t, a, why)
		} else if string(a.Data) != `{"me":{"name":"admin","role":"ADMIN"}}` {
			t.Errorf("me with %s = %s %+v, want admin ADMIN", token[:6], a.Data, a.Errors)
		}
	}
	var logs []string
	for _, step := range []struct {
		value               string
		firstWhy, secondWhy string
	}{
		{first, "", "not valid"},
		{second, "revoked", ""},
		{first, "revoked", ""}, // stays revoked; the second stays valid
	} {
		s := start(t, map[string]string{"BOOTSTRAP_ADMIN_TOKEN": step.value}, "--db", db)
		check(s, first, step.firstWhy)
		check(s, second, step.secondWhy)
		s.Stop(t)
		logs = append(logs, s.Logs.String())
	}
	if !strings.Contains(logs[2], "has been revoked and stays revoked") {
		t.Errorf("log of a start with a revoked value:\n%s\nwant a warning", logs[2])
	}
	for _, l := range logs {
		if strings.Contains(l, first) || strings.Contains(l, second) {
			t.Errorf("a bootstrap value was logged:\n%s", l)
		}
	}
}

// TestTokenCLIErrors: bad arguments are refused before the store opens.
func TestTokenCLIErrors(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "items.db")
	for _, args := range [][]string{
		{"token"},
		{"token", "delete", "1"},
		{"token", "create", "--user", "x", "--expires", "-1h"},
		{"token", "create", "--user", "x", "--expires", "9000h"},
		{"token", "revoke"},
		{"token", "revoke", "abc"},
		{"token", "revoke", "1", "--user", "x"},
		{"token", "list", "extra"},
		{"token", "revoke", "999", "--db", db},
	} {
		if err := run(t.Context(), args, func(string) string { return "" }, io.Discard, io.Discard, nil); err == nil {
			t.Errorf("itemsapi %s succeeded, want an error", strings.Join(args, " "))
		}
	}
}
