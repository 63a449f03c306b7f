package plan_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
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
	cases := []sameCase{
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
	sameBytes(t, f.plans, f.gqlgen, cases)
}

// sameCase is a request to send to a handler with plans and to one
// without, and whether a plan answers it.
type sameCase struct {
	name     string
	query    string
	vars     map[string]any
	token    string
	compiled bool
}

// sameBytes sends each case, in order, to plans and to gqlgen: the answers
// must be the same, byte for byte, and a plan must have answered the
// cases marked compiled, and only those.
func sameBytes(t *testing.T, plans, gqlgen http.Handler, cases []sameCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := compiledCount(t, plans)
			status, got := serve(plans, c.query, c.vars, c.token)
			compiled := compiledCount(t, plans) > before
			wantStatus, want := serve(gqlgen, c.query, c.vars, c.token)
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

// twin is two stores made alike (the demo items 1 and 2, two tokens), one served with compiled plans and one
// without, each with the same tokens: the same mutations, sent to both in
// the same order, must get the same answers.
type twin struct {
	plans, gqlgen http.Handler
	user, admin   string
}

func newTwin(t *testing.T) *twin {
	t.Helper()
	userToken, userHash := items.NewToken()
	adminToken, adminHash := items.NewToken()
	handler := func(compiled bool) http.Handler {
		mem := memory.New()
		t.Cleanup(func() { mem.Close() })
		ctx := t.Context()
		if _, err := mem.AddToken(ctx, "ann", items.RoleUser, userHash); err != nil {
			t.Fatal(err)
		}
		if _, err := mem.AddToken(ctx, "root", items.RoleAdmin, adminHash); err != nil {
			t.Fatal(err)
		}
		cfg := httpapi.DefaultConfig()
		cfg.ResponseCacheBytes = 0
		cfg.CompiledPlans = compiled
		return testserver.Handler(cfg, mem, mem)
	}
	return &twin{plans: handler(true), gqlgen: handler(false), user: userToken, admin: adminToken}
}

// TestMutationsSameBytes sends one sequence of mutations, and queries
// that show what they changed, to both stores of a twin: every answer is
// the same, byte for byte, and a plan answered the mutations that
// succeed. Times are left out of the selections: the two stores make
// their changes a moment apart.
func TestMutationsSameBytes(t *testing.T) {
	tw := newTwin(t)
	add := `mutation Add($input: AddItemInput!) { addItem(input: $input) { id name description version updatedAt createdBy { name role } __typename } }`
	update := `mutation Up($id: ID!, $input: UpdateItemInput!) { updateItem(id: $id, input: $input) { id name description version } }`
	list := `{ items(first: 100) { totalCount nodes { id name description version createdBy { name } } } }`
	cases := []sameCase{
		{"add", add, map[string]any{"input": map[string]any{"name": "pear", "description": "green"}}, tw.user, true},
		{"add without description", add, map[string]any{"input": map[string]any{"name": "fig"}}, tw.admin, true},
		{"add, null description", add, map[string]any{"input": map[string]any{"name": "kiwi", "description": nil}}, tw.user, true},
		{"add, literal and aliases", `mutation { a: addItem(input: {name: " plum\u0301 ", description: "x"}) { b: id c: name ...F } }
			fragment F on Item { version }`, nil, tw.user, true},
		{"add, typename", `mutation { __typename }`, nil, tw.user, false},
		{"add without a token", add, map[string]any{"input": map[string]any{"name": "nope"}}, "", false},
		{"add, bad name", add, map[string]any{"input": map[string]any{"name": "  "}}, tw.user, false},
		{"add, name too long", add, map[string]any{"input": map[string]any{"name": strings.Repeat("n", 201)}}, tw.user, false},
		{"update name", update, map[string]any{"id": "3", "input": map[string]any{"name": "pear 2"}}, tw.user, true},
		{"update, clear description", update, map[string]any{"id": "3", "input": map[string]any{"description": nil}}, tw.user, true},
		{"update, expected version", update, map[string]any{"id": "3", "input": map[string]any{"name": "pear 3", "expectedVersion": 3}}, tw.user, true},
		{"update, stale version", update, map[string]any{"id": "3", "input": map[string]any{"name": "pear 4", "expectedVersion": 1}}, tw.user, false},
		{"update, nothing to change", update, map[string]any{"id": "3", "input": map[string]any{"expectedVersion": 4}}, tw.user, false},
		{"update, another's item", update, map[string]any{"id": "4", "input": map[string]any{"name": "mine"}}, tw.user, false},
		{"update, a demo item", update, map[string]any{"id": "1", "input": map[string]any{"name": "mine"}}, tw.user, false},
		{"update, unknown item", update, map[string]any{"id": "99", "input": map[string]any{"name": "x"}}, tw.admin, false},
		{"update, bad id", update, map[string]any{"id": "x", "input": map[string]any{"name": "x"}}, tw.admin, false},
		{"update, admin", update, map[string]any{"id": "1", "input": map[string]any{"name": "demo", "description": "d"}}, tw.admin, true},
		{"delete, stale version", `mutation { deleteItem(id: 4, expectedVersion: 2) }`, nil, tw.admin, false},
		{"delete", `mutation($v: Int) { gone: deleteItem(id: 4, expectedVersion: $v) }`, map[string]any{"v": 1}, tw.admin, true},
		{"delete again", `mutation { deleteItem(id: 4) }`, nil, tw.admin, false},
		{"delete, another's item", `mutation { deleteItem(id: 2) }`, nil, tw.user, false},
		{"two fields", `mutation { a: deleteItem(id: 5) b: deleteItem(id: 5) }`, nil, tw.user, false},
		{"skipped field", `mutation($s: Boolean!) { deleteItem(id: 6) @skip(if: $s) }`, map[string]any{"s": true}, tw.user, false},
		{"the store after", list, nil, "", true},
	}
	sameBytes(t, tw.plans, tw.gqlgen, cases)
}

// faulty is a store whose users cannot be read, and whose AddItem may
// panic; it counts the calls of AddItem.
type faulty struct {
	items.Store
	adds  atomic.Int64
	panic bool
}

func (s *faulty) AddItem(ctx context.Context, n items.NewItem) (items.Item, error) {
	s.adds.Add(1)
	if s.panic {
		panic("the store broke")
	}
	return s.Store.AddItem(ctx, n)
}

func (s *faulty) Users(context.Context, []int64) ([]items.User, error) {
	return nil, errors.New("users are unreadable")
}

// TestMutationRunsOnce: when a plan fails after a mutation's resolver ran
// (here, reading the new item's user fails; or the resolver panics),
// gqlgen answers with what the resolver did, over HTTP and over a
// websocket, and the item is added once.
func TestMutationRunsOnce(t *testing.T) {
	for _, panics := range []bool{false, true} {
		mem := memory.New()
		t.Cleanup(func() { mem.Close() })
		token, hash := items.NewToken()
		if _, err := mem.AddToken(t.Context(), "ann", items.RoleUser, hash); err != nil {
			t.Fatal(err)
		}
		store := &faulty{Store: mem, panic: panics}
		cfg := httpapi.DefaultConfig()
		cfg.ResponseCacheBytes = 0
		h := testserver.Handler(cfg, store, mem)
		query := `mutation { addItem(input: {name: "once"}) { id name createdBy { name } } }`

		status, body := serve(h, query, nil, token)
		wantErr := `"path":["addItem","createdBy"]`
		if panics {
			wantErr = `"code":"INTERNAL_SERVER_ERROR"`
		}
		if status != http.StatusOK || !strings.Contains(body, wantErr) {
			t.Errorf("panics %v: %d %s, want an error with %s", panics, status, body, wantErr)
		}
		if !panics && !strings.Contains(body, `"addItem":{"id":"3","name":"once","createdBy":null}`) {
			t.Errorf("the item added is not in the answer: %s", body)
		}
		if n := store.adds.Load(); n != 1 {
			t.Errorf("panics %v: AddItem called %d times over HTTP, want 1", panics, n)
		}

		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		ws := testserver.DialWS(t, srv.URL, nil, map[string]any{"Authorization": "Bearer " + token})
		ws.Subscribe(t, "1", query, nil)
		msg, err := ws.Read(t.Context())
		if err != nil || msg.Type != "next" || !strings.Contains(string(msg.Payload), wantErr) {
			t.Errorf("panics %v: over a websocket: %+v %s, %v; want an error with %s", panics, msg, msg.Payload, err, wantErr)
		}
		if n := store.adds.Load(); n != 2 {
			t.Errorf("panics %v: AddItem called %d times in all, want 2", panics, n)
		}
		stored, err := mem.CountItems(t.Context(), "once")
		want := 2
		if panics {
			want = 0
		}
		if err != nil || stored != want {
			t.Errorf("%d items stored (%v), want %d", stored, err, want)
		}
	}
}
