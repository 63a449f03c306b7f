package httpapi_test

import (
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"itemsapi/auth"
	"itemsapi/httpapi"
	"itemsapi/internal/testserver"
	"itemsapi/items"
	"itemsapi/store/memory"
	"itemsapi/store/storetest"
)

// tokenServer is the real router over a memory store whose clock, and the
// server's, a test moves.
type tokenServer struct {
	*testServer
	mem    *memory.Store
	tokens *testserver.Counting
	clock  *storetest.FakeClock
}

func newTokenServer(t *testing.T) *tokenServer {
	t.Helper()
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	clock := storetest.NewFakeClock()
	mem.SetClock(clock.Now)
	counts := &testserver.Counting{Store: mem}
	store := &testserver.Faulty{Store: counts}
	ts := &testServer{mem: mem, store: store, counts: counts, logs: &testserver.Log{}}
	ts.userToken = mint(t, mem, "alice", items.RoleUser, nil)
	ts.adminToken = mint(t, mem, "root", items.RoleAdmin, nil)
	log := slog.New(slog.NewTextHandler(ts.logs, nil))
	// The tokens' poll for revocations would read the token revision on
	// a timer, among the reads that the tests count: it waits an hour.
	tokens := auth.NewTokens(store, auth.Options{MaxBytes: httpapi.DefaultConfig().TokenCacheBytes,
		Clock: clock.Now, Logger: log, PollInterval: time.Hour})
	t.Cleanup(func() { tokens.Close() })
	ts.Server = httptest.NewServer(httpapi.NewHandler(httpapi.DefaultConfig(),
		httpapi.Deps{Store: store, Broker: mem, Logger: log, Clock: clock.Now, Tokens: tokens}))
	t.Cleanup(ts.Close)
	return &tokenServer{testServer: ts, mem: mem, tokens: counts, clock: clock}
}

// mint makes a token with an ID, as createToken does.
func mint(t testing.TB, s items.Store, user string, role items.Role, exp *time.Time) string {
	t.Helper()
	_, token := storetest.CreateToken(t, s, user, role, exp)
	return token
}

func tokenID(t testing.TB, token string) string {
	t.Helper()
	id, ok := items.TokenIDFromPrefix(token)
	if !ok {
		t.Fatalf("%q carries no ID", token[:8])
	}
	return strconv.FormatInt(id, 10)
}

// wantCode fails t unless r has exactly one error, with that code, whose
// message contains each of words.
func wantCode(t *testing.T, r gqlResponse, code string, words ...string) {
	t.Helper()
	if diff := cmp.Diff([]string{code}, r.codes()); diff != "" {
		t.Errorf("codes (-want +got):\n%s\ndata %s", diff, r.Data)
		return
	}
	for _, w := range words {
		if !strings.Contains(r.Errors[0].Message, w) {
			t.Errorf("message %q does not say %q", r.Errors[0].Message, w)
		}
	}
}

type tokenNode struct {
	ID         string  `json:"id"`
	Role       string  `json:"role"`
	CreatedAt  string  `json:"createdAt"`
	ExpiresAt  *string `json:"expiresAt"`
	LastUsedAt *string `json:"lastUsedAt"`
	RevokedAt  *string `json:"revokedAt"`
	User       *user   `json:"user"`
}

func TestCreateTokenExpiresAt(t *testing.T) {
	ts := newTokenServer(t)
	const m = `mutation($e: Time) { createToken(user: "bob", expiresAt: $e) }`
	now := ts.clock.Now()
	for _, tt := range []struct {
		name string
		at   time.Time
		code string
	}{
		{"past", now.Add(-time.Second), "BAD_USER_INPUT"},
		{"now", now, "BAD_USER_INPUT"},
		{"more than a year ahead", now.Add(367 * 24 * time.Hour), "BAD_USER_INPUT"},
		{"a year ahead", now.Add(365 * 24 * time.Hour), ""},
		{"in an hour", now.Add(time.Hour), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.post(t, ts.adminToken, m, map[string]any{"e": tt.at.Format(time.RFC3339Nano)})
			if tt.code != "" {
				wantCode(t, r, tt.code, "expiresAt")
				return
			}
			var got struct{ CreateToken string }
			r.decode(t, &got)
			var cur struct{ CurrentToken tokenNode }
			ts.post(t, got.CreateToken, `{ currentToken { id role expiresAt user { name } } }`, nil).decode(t, &cur)
			want := tokenNode{ID: tokenID(t, got.CreateToken), Role: "USER", ExpiresAt: storetest.Ptr(tt.at.UTC().Format("2006-01-02T15:04:05.999999Z")), User: &user{Name: "bob"}}
			if diff := cmp.Diff(want, cur.CurrentToken); diff != "" {
				t.Errorf("currentToken (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCurrentToken(t *testing.T) {
	ts := newTokenServer(t)
	var got struct{ CurrentToken tokenNode }
	ts.post(t, ts.userToken, `{ currentToken { id role createdAt expiresAt revokedAt user { name role } } }`, nil).decode(t, &got)
	c := got.CurrentToken
	if c.ID != tokenID(t, ts.userToken) || c.Role != "USER" || c.CreatedAt == "" || c.ExpiresAt != nil || c.RevokedAt != nil ||
		c.User == nil || c.User.Name != "alice" || c.User.Role != "USER" {
		t.Errorf("currentToken = %+v", c)
	}
	wantCode(t, ts.post(t, "", `{ currentToken { id } }`, nil), "UNAUTHENTICATED")
}

// TestTokensList: who may list which tokens, pages, counts.
func TestTokensList(t *testing.T) {
	ts := newTokenServer(t)
	var bob []string
	for range 5 {
		bob = append(bob, tokenID(t, mint(t, ts.mem, "bob", items.RoleUser, nil)))
	}
	bobToken := mint(t, ts.mem, "bob", items.RoleUser, nil)
	bob = append(bob, tokenID(t, bobToken))
	const q = `query($u: String, $n: Int, $a: String) { tokens(user: $u, first: $n, after: $a) {
		totalCount nodes { id user { name } } edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage endCursor } } }`
	type conn struct {
		Tokens struct {
			TotalCount int
			Nodes      []tokenNode
			Edges      []struct {
				Cursor string
				Node   tokenNode
			}
			PageInfo struct {
				HasNextPage, HasPreviousPage bool
				EndCursor                    *string
			}
		}
	}
	ids := func(c conn) []string {
		var out []string
		for _, n := range c.Tokens.Nodes {
			out = append(out, n.ID)
		}
		return out
	}
	list := func(token string, vars map[string]any) conn {
		t.Helper()
		var c conn
		ts.post(t, token, q, vars).decode(t, &c)
		return c
	}

	t.Run("admin, all", func(t *testing.T) {
		if c := list(ts.adminToken, nil); c.Tokens.TotalCount != 8 || len(c.Tokens.Nodes) != 8 {
			t.Errorf("all tokens: total %d, %d nodes; want 8", c.Tokens.TotalCount, len(c.Tokens.Nodes))
		}
	})
	t.Run("admin, one user, by pages", func(t *testing.T) {
		var got []string
		var after any
		for page := 0; ; page++ {
			c := list(ts.adminToken, map[string]any{"u": "BOB", "n": 4, "a": after})
			if c.Tokens.TotalCount != 6 || c.Tokens.PageInfo.HasPreviousPage != (page > 0) {
				t.Errorf("page %d: total %d, hasPreviousPage %v", page, c.Tokens.TotalCount, c.Tokens.PageInfo.HasPreviousPage)
			}
			got = append(got, ids(c)...)
			if !c.Tokens.PageInfo.HasNextPage {
				break
			}
			after = *c.Tokens.PageInfo.EndCursor
		}
		if diff := cmp.Diff(bob, got); diff != "" {
			t.Errorf("bob's tokens (-want +got):\n%s", diff)
		}
	})
	t.Run("admin, unknown user", func(t *testing.T) {
		if c := list(ts.adminToken, map[string]any{"u": "nobody"}); c.Tokens.TotalCount != 0 || len(c.Tokens.Nodes) != 0 {
			t.Errorf("unknown user: %+v, want an empty connection", c.Tokens)
		}
	})
	t.Run("user, own", func(t *testing.T) {
		for _, vars := range []map[string]any{nil, {"u": "bob"}, {"u": "Bob"}} {
			c := list(bobToken, vars)
			if diff := cmp.Diff(bob, ids(c)); diff != "" || c.Tokens.TotalCount != 6 {
				t.Errorf("bob lists %v: total %d, (-want +got):\n%s", vars, c.Tokens.TotalCount, diff)
			}
		}
	})
	t.Run("user, another", func(t *testing.T) {
		for _, u := range []string{"alice", "root", "nobody"} {
			wantCode(t, ts.post(t, bobToken, q, map[string]any{"u": u}), "FORBIDDEN")
		}
	})
	t.Run("no token", func(t *testing.T) {
		wantCode(t, ts.post(t, "", q, nil), "UNAUTHENTICATED")
	})
	t.Run("bad arguments", func(t *testing.T) {
		itemCursor := "aXRlbToz" // an item's cursor
		for _, vars := range []map[string]any{{"n": 101}, {"n": -1}, {"a": "nope"}, {"a": itemCursor}, {"u": "\x00"}} {
			wantCode(t, ts.post(t, ts.adminToken, q, vars), "BAD_USER_INPUT")
		}
	})
}

// TestRevokeToken: the rules of revokeToken, each with its code.
func TestRevokeToken(t *testing.T) {
	ts := newTokenServer(t)
	const m = `mutation($id: ID!) { revokeToken(id: $id) { id revokedAt user { name } } }`
	revoke := func(token, id string) gqlResponse {
		t.Helper()
		return ts.post(t, token, m, map[string]any{"id": id})
	}
	bob1 := mint(t, ts.mem, "bob", items.RoleUser, nil)
	bob2 := mint(t, ts.mem, "bob", items.RoleUser, nil)

	t.Run("unknown id", func(t *testing.T) {
		wantCode(t, revoke(ts.adminToken, "999"), "BAD_USER_INPUT", "999")
		wantCode(t, revoke(bob1, "999"), "BAD_USER_INPUT", "999")
		wantCode(t, revoke(ts.adminToken, "x"), "BAD_USER_INPUT")
	})
	t.Run("no token", func(t *testing.T) {
		wantCode(t, revoke("", tokenID(t, bob1)), "UNAUTHENTICATED")
	})
	t.Run("user, another user's", func(t *testing.T) {
		wantCode(t, revoke(bob1, tokenID(t, ts.userToken)), "FORBIDDEN")
		ts.post(t, ts.userToken, `{ me { name } }`, nil).decode(t, &struct{}{})
	})
	t.Run("user, own, then again", func(t *testing.T) {
		var first struct{ RevokeToken tokenNode }
		revoke(bob1, tokenID(t, bob2)).decode(t, &first)
		if first.RevokeToken.RevokedAt == nil || first.RevokeToken.User.Name != "bob" {
			t.Fatalf("revokeToken = %+v, want revoked, bob's", first.RevokeToken)
		}
		wantCode(t, ts.post(t, bob2, `{ me { name } }`, nil), "UNAUTHENTICATED", "revoked")
		ts.clock.Add(time.Hour)
		var again struct{ RevokeToken tokenNode }
		revoke(ts.adminToken, tokenID(t, bob2)).decode(t, &again)
		if diff := cmp.Diff(first.RevokeToken, again.RevokeToken); diff != "" {
			t.Errorf("revoking again changed the token (-first +again):\n%s", diff)
		}
	})
	t.Run("own current token", func(t *testing.T) {
		revoke(bob1, tokenID(t, bob1)).decode(t, &struct{}{})
		wantCode(t, ts.post(t, bob1, `{ me { name } }`, nil), "UNAUTHENTICATED", "revoked")
	})
	t.Run("last admin token", func(t *testing.T) {
		wantCode(t, revoke(ts.adminToken, tokenID(t, ts.adminToken)), "BAD_USER_INPUT", "last")
		ts.post(t, ts.adminToken, `{ me { name } }`, nil).decode(t, &struct{}{})
		// An expired ADMIN token does not count as another one.
		soon := ts.clock.Now().Add(time.Minute)
		expiring := mint(t, ts.mem, "eve", items.RoleAdmin, &soon)
		ts.clock.Add(time.Hour)
		wantCode(t, ts.post(t, expiring, `{ me { name } }`, nil), "UNAUTHENTICATED", "expired")
		wantCode(t, revoke(ts.adminToken, tokenID(t, ts.adminToken)), "BAD_USER_INPUT", "last")
		// With another usable one, it goes.
		other := mint(t, ts.mem, "eve", items.RoleAdmin, nil)
		revoke(other, tokenID(t, ts.adminToken)).decode(t, &struct{}{})
		wantCode(t, ts.post(t, ts.adminToken, `{ me { name } }`, nil), "UNAUTHENTICATED", "revoked")
	})
}

// TestExpiry: an expired token is refused from the next request, and the
// user's role falls with it, with no write.
func TestExpiry(t *testing.T) {
	ts := newTokenServer(t)
	exp := ts.clock.Now().Add(time.Hour)
	admin := mint(t, ts.mem, "bob", items.RoleAdmin, &exp)
	plain := mint(t, ts.mem, "bob", items.RoleUser, nil)
	var me struct{ Me user }
	ts.post(t, plain, `{ me { name role } }`, nil).decode(t, &me)
	if me.Me.Role != "ADMIN" {
		t.Errorf("bob with an ADMIN token: me.role = %s, want ADMIN", me.Me.Role)
	}
	ts.post(t, admin, `{ me { name } }`, nil).decode(t, &me)
	ts.clock.Add(time.Hour)
	wantCode(t, ts.post(t, admin, `{ me { name } }`, nil), "UNAUTHENTICATED", "expired")
	ts.post(t, plain, `{ me { name role } }`, nil).decode(t, &me)
	if me.Me.Role != "USER" {
		t.Errorf("bob once his ADMIN token expired: me.role = %s, want USER", me.Me.Role)
	}
}

// TestOneRole: the case of the issue. With bob's USER token, while bob
// also holds an ADMIN token, me and createdBy show one role, bob's
// highest; the request acts as USER (currentToken.role, @auth).
func TestOneRole(t *testing.T) {
	ts := newTokenServer(t)
	bobUser := mint(t, ts.mem, "bob", items.RoleUser, nil)
	mint(t, ts.mem, "bob", items.RoleAdmin, nil)
	ts.post(t, bobUser, `mutation { addItem(input: {name: "Cherry"}) { id } }`, nil).decode(t, &struct{}{})
	var got struct {
		Me           user
		CurrentToken tokenNode
		Items        struct{ Nodes []item }
	}
	ts.post(t, bobUser, `{ me { id role } currentToken { role user { id role } } items { nodes { createdBy { id role } } } }`, nil).decode(t, &got)
	creator := got.Items.Nodes[2].CreatedBy
	if creator == nil || got.Me.ID != creator.ID || got.Me.Role != "ADMIN" || creator.Role != "ADMIN" || got.CurrentToken.User.Role != "ADMIN" {
		t.Errorf("me = %+v, createdBy = %+v, currentToken.user = %+v; want one user with role ADMIN everywhere", got.Me, creator, got.CurrentToken.User)
	}
	if got.CurrentToken.Role != "USER" {
		t.Errorf("currentToken.role = %s, want USER", got.CurrentToken.Role)
	}
	wantCode(t, ts.post(t, bobUser, `mutation { createToken(user: "x") }`, nil), "FORBIDDEN")
}

// TestResponseCacheAndRevocation: the response cache never answers a
// revoked token with what it could not get: answers that depend on the
// caller are never kept, and public ones need no token.
func TestResponseCacheAndRevocation(t *testing.T) {
	ts := newTokenServer(t)
	bob := mint(t, ts.mem, "bob", items.RoleUser, nil)
	queries := []string{`{ me { name } }`, `{ currentToken { id } }`, `{ tokens { totalCount } }`, `{ items { totalCount nodes { createdBy { name } } } }`}
	for range 2 { // twice: a cache would keep the first answer
		for _, q := range queries {
			if r := ts.post(t, bob, q, nil); len(r.Errors) > 0 {
				t.Fatalf("%s: %+v", q, r.Errors)
			}
		}
	}
	if _, err := ts.mem.RevokeToken(t.Context(), mustID(t, bob), false); err != nil {
		t.Fatal(err)
	}
	for _, q := range queries[:3] {
		wantCode(t, ts.post(t, bob, q, nil), "UNAUTHENTICATED", "revoked")
	}
	// Public fields need no token: the same answer as anybody's.
	r := ts.post(t, bob, `{ items { totalCount } }`, nil)
	if len(r.Errors) > 0 || string(r.Data) != `{"items":{"totalCount":2}}` {
		t.Errorf("public query with a revoked token = %s %+v", r.Data, r.Errors)
	}
}

func mustID(t testing.TB, token string) int64 {
	id, err := strconv.ParseInt(tokenID(t, token), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestAuthenticatedSteadyState: once its token is known, an authenticated
// request costs no token look-up, only the revision check (no row in
// memory or on PostgreSQL, one on SQLite), and a revocation makes the next
// request look again.
func TestAuthenticatedSteadyState(t *testing.T) {
	ts := newTokenServer(t)
	const n = 20
	for i := range n {
		ts.post(t, ts.userToken, `mutation($n: String!) { addItem(input: {name: $n}) { id } }`,
			map[string]any{"n": "item " + strconv.Itoa(i)}).decode(t, &struct{}{})
	}
	if got := ts.tokens.TokenLookups.Load(); got != 1 {
		t.Errorf("%d authenticated requests made %d token look-ups, want 1", n, got)
	}
	if got := ts.tokens.TokenRevisions.Load(); got != n {
		t.Errorf("%d authenticated requests made %d revision checks, want %d", n, got, n)
	}
	if _, err := ts.mem.RevokeToken(t.Context(), mustID(t, ts.adminToken), false); err != nil {
		t.Fatal(err)
	}
	ts.post(t, ts.userToken, `{ me { name } }`, nil).decode(t, &struct{}{})
	if got := ts.tokens.TokenLookups.Load(); got != 2 {
		t.Errorf("after a revocation: %d look-ups, want 2", got)
	}
}

// TestMeReadsRoleOnlyWhenAsked: me without its role costs no store read
// beyond the (cached) token; with it, one, so that the role is never
// served from a cache past an expiry or a revocation.
func TestMeReadsRoleOnlyWhenAsked(t *testing.T) {
	ts := newTokenServer(t)
	for _, tt := range []struct {
		query string
		want  int64
	}{
		{`{ me { id name } }`, 0},
		{`{ me { name role } }`, 1},
		{`{ me { ...F } } fragment F on User { role }`, 1},
		{`{ me { ... on User { role } } items { nodes { createdBy { role } } } }`, 1},
	} {
		ts.post(t, ts.userToken, `{ me { name } }`, nil).decode(t, &struct{}{}) // the token cached
		ts.counts.UserCalls.Store(0)
		ts.post(t, ts.userToken, tt.query, nil).decode(t, &struct{}{})
		if got := ts.counts.UserCalls.Load(); got != tt.want {
			t.Errorf("%s: %d calls of Users, want %d", tt.query, got, tt.want)
		}
	}
}
