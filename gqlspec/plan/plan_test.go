package plan_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"itemsapi/httpapi"
	"itemsapi/internal/testserver"
	"itemsapi/items"
	"itemsapi/store/memory"
)

// fixture is one store served twice: with compiled plans and without.
type fixture struct {
	plans, gqlgen http.Handler
	user, admin   string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	ctx := t.Context()
	userToken, hash := items.NewToken()
	u, err := mem.AddToken(ctx, "ann", items.RoleUser, hash)
	if err != nil {
		t.Fatal(err)
	}
	adminToken, hash := items.NewToken()
	if _, err := mem.AddToken(ctx, "root", items.RoleAdmin, hash); err != nil {
		t.Fatal(err)
	}
	desc := "a \"quoted\" \\ description\n\twith\x01controls, </script> & \u2028 and 😀"
	names := []string{
		"plain", `quote " and \ backslash`, "tab\there", "emoji 😀 and é", "line\u2028sep <b>&amp;",
		"ctl \x1f\x7f", "zeta", "alpha",
	}
	for i, name := range names {
		n := items.NewItem{Name: name}
		if i%2 == 0 {
			n.Description = &desc
		}
		if i%3 == 0 {
			n.CreatedByID = u.ID
		}
		if _, err := mem.AddItem(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	upd := "new"
	if _, err := mem.UpdateItem(ctx, 2, items.ItemUpdate{Name: &upd, By: items.Caller{User: u, Role: items.RoleAdmin}}); err != nil {
		t.Fatal(err)
	}
	handler := func(compiled bool) http.Handler {
		cfg := httpapi.DefaultConfig()
		cfg.ResponseCacheBytes = 0
		cfg.CompiledPlans = compiled
		return testserver.Handler(cfg, mem, mem)
	}
	return &fixture{plans: handler(true), gqlgen: handler(false), user: userToken, admin: adminToken}
}

// serve answers one request and returns its status and body.
func serve(h http.Handler, query string, vars map[string]any, token string) (int, string) {
	return testserver.Serve(h, token, query, vars)
}

// TestSameBytes serves each construct the compiler supports with and
// without plans: the answers are the same, byte for byte, and a plan
// answered those that succeed, gqlgen the others.
func TestSameBytes(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name     string
		query    string
		vars     map[string]any
		token    string
		compiled bool // a plan answers it
	}{
		{"list", `{ items { edges { node { id name } } } }`, nil, "", true},
		{"every field", `{ items(first: 100) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
			edges { cursor node { id name description createdAt updatedAt version createdBy { id name } } }
			nodes { id name description createdAt updatedAt version createdBy { id name } } } }`, nil, "", true},
		{"aliases", `{ a: items(first: 2) { n: nodes { x: id y: name } } b: items(first: 1, after: "aXRlbToy") { nodes { id } } }`, nil, "", true},
		{"merged", `{ items { nodes { id } nodes { name id } totalCount } items { pageInfo { endCursor } nodes { description } } }`, nil, "", true},
		{"fragments", `query { ...Q items { ... on ItemConnection { nodes { ...I } } } }
			fragment Q on Query { items { nodes { name ...I } } }
			fragment I on Item { id __typename createdBy { ... on User { name __typename } } }`, nil, "", true},
		{"typename", `{ __typename items { __typename pageInfo { __typename } edges { __typename node { __typename } } } }`, nil, "", true},
		{"skip include literals", `{ items { nodes { id @skip(if: true) name @include(if: false) description @include(if: true) } } }`, nil, "", true},
		{"skip variables", `query($s: Boolean!, $i: Boolean = true) { items { nodes { id @skip(if: $s) name @include(if: $i) ...F @skip(if: $s) } } }
			fragment F on Item { version }`, map[string]any{"s": false}, "", true},
		{"skip variables 2", `query($s: Boolean!, $i: Boolean = true) { items { nodes { id @skip(if: $s) name @include(if: $i) ...F @skip(if: $s) } } }
			fragment F on Item { version }`, map[string]any{"s": true, "i": false}, "", true},
		{"variables", `query($n: Int, $a: String, $o: ItemOrder) { items(first: $n, after: $a, orderBy: $o) { nodes { id name } pageInfo { endCursor hasNextPage } } }`,
			map[string]any{"n": 3, "o": map[string]any{"field": "NAME", "direction": "DESC"}}, "", true},
		{"object literal with a variable", `query($d: OrderDirection!) { items(orderBy: {field: UPDATED_AT, direction: $d}) { edges { cursor node { id } } } }`,
			map[string]any{"d": "DESC"}, "", true},
		{"last", `{ items(last: 2) { nodes { id } pageInfo { hasNextPage hasPreviousPage } } }`, nil, "", true},
		{"last and before", `query($b: String) { items(last: 2, before: $b) { nodes { id } } }`, map[string]any{"b": "aXRlbTo1"}, "", true},
		{"item", `query($id: ID!) { item(id: $id) { id name description createdBy { name } } }`, map[string]any{"id": "1"}, "", true},
		{"missing item", `{ item(id: 999) { id } }`, nil, "", true},
		{"search", `{ search(query: "A", first: 5) { totalCount nodes { id name } } }`, nil, "", true},
		{"search null", `{ search { totalCount } }`, nil, "", true},
		{"me", `{ me { id name role } }`, nil, f.user, true},
		{"me, admin", `{ me { id name } }`, nil, f.admin, true},
		{"tokens", `{ tokens { totalCount nodes { id role user { name } revokedAt } edges { cursor } } }`, nil, f.admin, true},
		{"current token", `{ currentToken { id role user { name } createdAt expiresAt } }`, nil, f.user, true},

		// gqlgen answers these.
		{"me without a token", `{ me { id } }`, nil, "", false},
		{"bad first", `{ items(first: 101) { nodes { id } } }`, nil, "", false},
		{"bad cursor", `{ items(after: "nope") { nodes { id } } }`, nil, "", false},
		{"bad id", `{ item(id: "x") { id } }`, nil, "", false},
		{"first and last", `{ items(first: 1, last: 1) { nodes { id } } }`, nil, "", false},
		{"introspection", `{ __schema { queryType { name } } }`, nil, "", false},
		{"defer", `{ items { nodes { id ... @defer { name } } } }`, nil, "", false},
		{"mutation", `mutation { deleteItem(id: 1) }`, nil, "", false},
		{"parse error", `{ items { `, nil, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := compiledCount(t, f.plans)
			status, got := serve(f.plans, c.query, c.vars, c.token)
			compiled := compiledCount(t, f.plans) > before
			wantStatus, want := serve(f.gqlgen, c.query, c.vars, c.token)
			if status != wantStatus || got != want {
				t.Errorf("compiled: %d %s\ngqlgen:   %d %s", status, got, wantStatus, want)
			}
			if compiled != c.compiled {
				t.Errorf("answered by a plan: %v, want %v (%s)", compiled, c.compiled, got)
			}
		})
	}
}

// compiledCount is how many operations plans have answered.
func compiledCount(t *testing.T, h http.Handler) float64 {
	t.Helper()
	return scrape(t, h, `itemsapi_graphql_plans_total{outcome="compiled"}`)
}

// scrape returns the value of a metric line of /metrics, by its name and
// labels as written there.
func scrape(t *testing.T, h http.Handler, metric string) float64 {
	t.Helper()
	v, ok := testserver.HandlerMetrics(t, h)[metric]
	if !ok {
		t.Fatalf("no %s in /metrics", metric)
	}
	return v
}

func newMetricsHandler(t *testing.T, cfg httpapi.Config) http.Handler {
	t.Helper()
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	if _, err := mem.AddItem(t.Context(), items.NewItem{Name: "one"}); err != nil {
		t.Fatal(err)
	}
	return testserver.Handler(cfg, mem, mem)
}

// TestPlanCacheBounded sends many distinct documents: the plans kept stay
// within their budget, each weighed at least as the query cache weighs
// its document, which a plan keeps alive.
func TestPlanCacheBounded(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.QueryCacheBytes = 2 << 20
	h := newMetricsHandler(t, cfg)
	const docBytes = 1000
	for i := range 200 {
		q := fmt.Sprintf("query Q%d { items { nodes { id } } }", i)
		q += " #" + strings.Repeat("x", docBytes-len(q)-2)
		if status, body := serve(h, q, nil, ""); status != http.StatusOK || !strings.Contains(body, `"id":"1"`) {
			t.Fatalf("%d %s", status, body)
		}
	}
	budget := scrape(t, h, `itemsapi_cache_budget_bytes{cache="plans"}`)
	used := scrape(t, h, `itemsapi_cache_bytes{cache="plans"}`)
	entries := scrape(t, h, `itemsapi_cache_entries{cache="plans"}`)
	if budget != float64(cfg.QueryCacheBytes/4) || used > budget {
		t.Errorf("plans take %v bytes of a budget of %v, want at most %v", used, budget, cfg.QueryCacheBytes/4)
	}
	if entries == 0 || used < entries*64*docBytes {
		t.Errorf("%v plans weigh %v bytes: less than their documents, %v bytes each", entries, used, 64*docBytes)
	}
}

// TestPlanOutcomes counts what plans answered in
// itemsapi_graphql_plans_total.
func TestPlanOutcomes(t *testing.T) {
	h := newMetricsHandler(t, httpapi.DefaultConfig())
	for _, q := range []string{
		`{ items { nodes { id } } }`, `{ item(id: 1) { name } }`, // compiled
		`{ items(first: -1) { nodes { id } } }`,                  // fallback
		`mutation { deleteItem(id: 1) }`,                         // fallback: no token
		`{ __typename ... @defer { items { totalCount } } }`,     // unsupported
		`mutation { a: deleteItem(id: 1) b: deleteItem(id: 2) }`, // unsupported
	} {
		serve(h, q, nil, "")
	}
	for outcome, want := range map[string]float64{"compiled": 2, "fallback": 2, "unsupported": 2} {
		if got := scrape(t, h, `itemsapi_graphql_plans_total{outcome="`+outcome+`"}`); got != want {
			t.Errorf("%s: %v, want %v", outcome, got, want)
		}
	}
}

// usersCounting counts the store calls that load users.
type usersCounting struct {
	items.Store
	calls atomic.Int64
}

func (s *usersCounting) Users(ctx context.Context, ids []int64) ([]items.User, error) {
	s.calls.Add(1)
	return s.Store.Users(ctx, ids)
}

// TestCreatedByOneCall: the users of a response's items, in nodes, edges
// and another page, cost one store call.
func TestCreatedByOneCall(t *testing.T) {
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	ctx := t.Context()
	for i, name := range []string{"ann", "bob", "cy"} {
		_, hash := items.NewToken()
		u, err := mem.AddToken(ctx, name, items.RoleUser, hash)
		if err != nil {
			t.Fatal(err)
		}
		for j := range 3 {
			if _, err := mem.AddItem(ctx, items.NewItem{Name: fmt.Sprintf("item %d %d", i, j), CreatedByID: u.ID}); err != nil {
				t.Fatal(err)
			}
		}
	}
	store := &usersCounting{Store: mem}
	cfg := httpapi.DefaultConfig()
	cfg.ResponseCacheBytes = 0
	h := testserver.Handler(cfg, store, mem)
	status, body := serve(h, `{ items { nodes { createdBy { name } } edges { node { createdBy { id } } } }
		last: items(last: 4) { nodes { createdBy { name } } } }`, nil, "")
	if status != http.StatusOK || !strings.Contains(body, `"name":"cy"`) || compiledCount(t, h) != 1 {
		t.Fatalf("%d %s (answered by a plan: %v)", status, body, compiledCount(t, h))
	}
	if n := store.calls.Load(); n != 1 {
		t.Errorf("%d calls of Users, want 1", n)
	}
}

// TestResponseCacheKeepsItsCopy: with the response cache on, an answer a
// plan wrote is kept as it was sent, though its buffer serves later
// answers.
func TestResponseCacheKeepsItsCopy(t *testing.T) {
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	for _, name := range []string{"one", "two", "three"} {
		if _, err := mem.AddItem(t.Context(), items.NewItem{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	h := testserver.Handler(httpapi.DefaultConfig(), mem, mem)
	const cached = `{ items { nodes { id name } } }`
	_, want := serve(h, cached, nil, "")
	for i := range 20 {
		serve(h, fmt.Sprintf(`{ item(id: %d) { name description } }`, i+1), nil, "")
		if _, got := serve(h, cached, nil, ""); got != want {
			t.Fatalf("answer %d from the cache: %s, want %s", i, got, want)
		}
	}
	if compiledCount(t, h) < 20 {
		t.Errorf("plans answered %v operations, want at least 20", compiledCount(t, h))
	}
}
