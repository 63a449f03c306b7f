package httpapi_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"itemsapi/items"
)

// TestCompiledPlansConstructs runs each construct the plan compiler
// covers (issue 13, point 2) on both paths, which must answer the same
// bytes; where want is given, the data must also be that, so that two
// equal wrong answers cannot pass.
func TestCompiledPlansConstructs(t *testing.T) {
	env := newPlanEnv(t)
	pages := func(n int) string {
		return "{" + repeated(n, " p%d: items(first: 100) { nodes { id name description createdAt createdBy { id name } } }") + " }"
	}
	tests := []struct {
		name      string
		query     string
		vars      map[string]any
		token     feature
		want      string   // the data, as JSON; "" to compare the paths only
		wantCodes []string // the errors' extensions.code
	}{
		{name: "aliases", query: `{ a: item(id: "1") { x: name y: id } b: item(id: "2") { name } c: item(id: "1") { id } }`,
			want: `{"a":{"x":"Apple","y":"1"},"b":{"name":"Banana"},"c":{"id":"1"}}`},
		{name: "an alias repeated merges", query: `{ a: item(id: "1") { id } a: item(id: "1") { name id } }`,
			want: `{"a":{"id":"1","name":"Apple"}}`},
		{name: "named fragments", query: `{ item(id: "2") { ...A } } fragment A on Item { id ...B } fragment B on Item { name id }`,
			want: `{"item":{"id":"2","name":"Banana"}}`},
		{name: "named fragment on Query", query: `query { ...Q } fragment Q on Query { item(id: "1") { name } }`,
			want: `{"item":{"name":"Apple"}}`},
		{name: "inline fragments with and without a type condition",
			query: `{ items(first: 2) { nodes { ... on Item { id } ... { name } ... on Item { id description } } } }`,
			want:  `{"items":{"nodes":[{"id":"1","name":"Apple","description":null},{"id":"2","name":"Banana","description":null}]}}`},
		{name: "__typename everywhere", query: `{ __typename t: __typename items(first: 1) { __typename nodes { __typename id } pageInfo { __typename } edges { __typename node { __typename } } } }`,
			want: `{"__typename":"Query","t":"Query","items":{"__typename":"ItemConnection","nodes":[{"__typename":"Item","id":"1"}],` +
				`"pageInfo":{"__typename":"PageInfo"},"edges":[{"__typename":"ItemEdge","node":{"__typename":"Item"}}]}}`},
		{name: "@skip and @include literals", query: `{ item(id: "1") { id @skip(if: true) name @include(if: false) description @include(if: true) version @skip(if: false) } }`,
			want: `{"item":{"description":null,"version":1}}`},
		{name: "@skip and @include variables", query: `query($s: Boolean!, $i: Boolean = false) { item(id: "1") { id @skip(if: $s) name @include(if: $i) version @include(if: $s) } }`,
			vars: map[string]any{"s": true}, want: `{"item":{"version":1}}`},
		{name: "@skip on a fragment and a root field", query: `query($s: Boolean!) { a: item(id: "1") @skip(if: $s) { id } item(id: "2") { ... @skip(if: $s) { id } ...F @include(if: $s) } } fragment F on Item { name }`,
			vars: map[string]any{"s": false}, want: `{"a":{"id":"1"},"item":{"id":"2"}}`},
		{name: "every field skipped", query: `{ item(id: "1") { id @skip(if: true) } }`, want: `{"item":{}}`},
		{name: "arguments from literals", query: `{ items(first: 2, orderBy: {field: NAME, direction: DESC}) { nodes { id } } }`},
		{name: "arguments from variables", query: `query($n: Int, $o: ItemOrder) { items(first: $n, orderBy: $o) { nodes { id } } }`,
			vars: map[string]any{"n": 2, "o": map[string]any{"field": "NAME", "direction": "DESC"}}},
		{name: "arguments from variables' defaults", query: `query($n: Int = 2, $d: OrderDirection = DESC) { items(first: $n, orderBy: {field: ID, direction: $d}) { nodes { id } } }`},
		{name: "arguments from the schema's defaults", query: `{ items { totalCount nodes { id } } }`},
		{name: "last and before", query: `{ items(last: 2) { nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`},
		{name: "search with paging", query: `{ search(query: "a", first: 3) { totalCount edges { cursor node { id name } } pageInfo { hasNextPage endCursor } } }`},
		{name: "item: unknown", query: `{ item(id: "99999") { id } }`, want: `{"item":null}`},
		{name: "item: malformed ID", query: `{ item(id: "abc") { id } }`, wantCodes: []string{"BAD_USER_INPUT"}},
		{name: "first out of range", query: `{ items(first: 101) { nodes { id } } }`, wantCodes: []string{"BAD_USER_INPUT"}},
		{name: "first and last", query: `{ items(first: 1, last: 1) { nodes { id } } }`, wantCodes: []string{"BAD_USER_INPUT"}},
		{name: "malformed cursor", query: `{ items(after: "nope") { nodes { id } } }`, wantCodes: []string{"BAD_USER_INPUT"}},
		{name: "one field's error, another's data", query: `{ a: item(id: "1") { name } b: items(first: -1) { totalCount } }`, wantCodes: []string{"BAD_USER_INPUT"}},
		{name: "me without a token", query: `{ me { id name } }`, wantCodes: []string{"UNAUTHENTICATED"}},
		{name: "me with an unknown token", query: `{ me { id name } }`, token: featTokenBogus, wantCodes: []string{"UNAUTHENTICATED"}},
		{name: "me with a USER token", query: `{ me { name role } }`, token: featTokenUser, want: `{"me":{"name":"alice","role":"USER"}}`},
		{name: "me with an ADMIN token", query: `{ me { name role } items(first: 1) { nodes { id } } }`, token: featTokenAdmin,
			want: `{"me":{"name":"root","role":"ADMIN"},"items":{"nodes":[{"id":"1"}]}}`},
		{name: "another user's tokens with a USER token", query: `{ tokens(user: "root") { totalCount } }`, token: featTokenUser, wantCodes: []string{"FORBIDDEN"}},
		{name: "currentToken", query: `{ currentToken { role user { name } } }`, token: featTokenUser, want: `{"currentToken":{"role":"USER","user":{"name":"alice"}}}`},
		{name: "introspection beside a query", query: `{ __type(name: "PageInfo") { name } item(id: "1") { name } }`,
			want: `{"__type":{"name":"PageInfo"},"item":{"name":"Apple"}}`},
		{name: "@defer inline, for a JSON client", query: `{ item(id: "1") { id ... @defer { name } } }`, want: `{"item":{"id":"1","name":"Apple"}}`},
		{name: "operationName picks one operation", query: `query A { item(id: "1") { name } } query B { item(id: "2") { name } }`,
			want: `{"item":{"name":"Banana"}}`},

		// The limits and strict variables refuse before anything executes,
		// on both paths.
		{name: "depth limit", query: nested(21), wantCodes: []string{"GRAPHQL_VALIDATION_FAILED"}},
		{name: "cost limit", query: pages(13), wantCodes: []string{"GRAPHQL_VALIDATION_FAILED"}},
		{name: "cost within the limit", query: pages(12)},
		{name: "directives limit", query: `{ item(id: "1") { id` + strings.Repeat(" @skip(if: false)", 11) + ` } }`, wantCodes: []string{"GRAPHQL_VALIDATION_FAILED"}},
		{name: "many aliases", query: aliases(10_000), wantCodes: []string{"GRAPHQL_VALIDATION_FAILED"}},
		{name: "a number for a String", query: `query($q: String) { search(query: $q) { totalCount } }`, vars: map[string]any{"q": 5}, wantCodes: []string{"GRAPHQL_VALIDATION_FAILED"}},
		{name: "a string for an Int", query: `query($n: Int) { items(first: $n) { totalCount } }`, vars: map[string]any{"n": "5"}, wantCodes: []string{"GRAPHQL_VALIDATION_FAILED"}},
		{name: "5.0 for an Int", query: `query($n: Int) { items(first: $n) { totalCount } }`, vars: map[string]any{"n": json.Number("5.0")}, wantCodes: []string{"GRAPHQL_VALIDATION_FAILED"}},
		{name: "an Int beyond 32 bits", query: `query($n: Int) { items(first: $n) { totalCount } }`, vars: map[string]any{"n": 1 << 31}, wantCodes: []string{"GRAPHQL_VALIDATION_FAILED"}},
		{name: "null for a non-null variable", query: `query($id: ID!) { item(id: $id) { id } }`, vars: map[string]any{"id": nil}, wantCodes: []string{"GRAPHQL_VALIDATION_FAILED"}},
		{name: "an unknown enum value", query: `query($o: ItemOrder) { items(orderBy: $o) { totalCount } }`, vars: map[string]any{"o": map[string]any{"field": "PRICE", "direction": "ASC"}}, wantCodes: []string{"GRAPHQL_VALIDATION_FAILED"}},
		{name: "an invalid document", query: `{ item(id: "1") { nope } }`, wantCodes: []string{"GRAPHQL_VALIDATION_FAILED"}},

		// Hostile documents within the limits: both paths answer alike.
		{name: "2,000 aliases", query: "{ a: __typename" + manyAliases(2000) + " }"},
		{name: "one fragment spread 90 times", query: `{ items(first: 3) { nodes { ` + strings.Repeat("...F ", 90) + `} } } fragment F on Item { id name }`},
		{name: "one fragment spread 500 times", query: `{ items(first: 3) { nodes { ` + strings.Repeat("...F ", 500) + `} } } fragment F on Item { id name }`,
			wantCodes: []string{"GRAPHQL_VALIDATION_FAILED"}},
		{name: "fragments nested 15 deep", query: nestedFragments(15)},
		{name: "a variable used 90 times", query: `query($s: Boolean!) { item(id: "1") {` + strings.Repeat(" id @include(if: $s)", 90) + ` } }`,
			vars: map[string]any{"s": true}, want: `{"item":{"id":"1"}}`},
		{name: "a page of 100 with every field", query: `{ items(first: 100) { totalCount edges { cursor node { id name description createdAt updatedAt version createdBy { id name role } } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`},
		{name: "unused variables sent", query: `{ item(id: "1") { id } }`, vars: map[string]any{"x": 1, "y": "z"}, want: `{"item":{"id":"1"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := genOp{Query: tt.query, Variables: tt.vars, Token: tt.token}
			if strings.HasPrefix(tt.name, "operationName") {
				op.OperationName = "B"
			}
			got, _ := env.compare(t, op)
			var resp struct {
				Data   json.RawMessage
				Errors []gqlError
			}
			if err := json.Unmarshal(got.Body.Bytes(), &resp); err != nil {
				t.Fatalf("%v: %s", err, got.Body)
			}
			var codes []string
			for _, e := range resp.Errors {
				codes = append(codes, e.Code())
			}
			if !slices.Equal(codes, tt.wantCodes) {
				t.Fatalf("codes %v, want %v: %s", codes, tt.wantCodes, got.Body)
			}
			if tt.want != "" {
				if diff := cmp.Diff(decodeJSON(t, tt.want), decodeJSON(t, string(resp.Data))); diff != "" {
					t.Errorf("data (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestCompiledPlansHazards reads every item, with every JSON-escaping
// hazard in its name and description, on both paths, and checks the
// decoded answer against the store.
func TestCompiledPlansHazards(t *testing.T) {
	env := newPlanEnv(t)
	stored, err := env.store.Items(t.Context(), items.ItemQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	type wire struct {
		ID          string  `json:"id"`
		Name        string  `json:"name"`
		Description *string `json:"description"`
		Version     int     `json:"version"`
	}
	want := make([]wire, len(stored))
	for i, it := range stored {
		want[i] = wire{strconv.FormatInt(it.ID, 10), it.Name, it.Description, it.Version}
	}
	got, _ := env.compare(t, genOp{Query: `{ items(first: 100) { nodes { id name description version } } }`})
	var resp struct {
		Data struct{ Items struct{ Nodes []wire } }
	}
	if err := json.Unmarshal(got.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, resp.Data.Items.Nodes); diff != "" {
		t.Errorf("items (-store +answer):\n%s", diff)
	}
}

// TestCompiledPlansBatchUsers checks that createdBy costs one store call
// per response on both paths, however many lists ask it.
func TestCompiledPlansBatchUsers(t *testing.T) {
	env := newPlanEnv(t)
	const q = `{ items(first: 60) { nodes { createdBy { id name } } edges { node { createdBy { name role } } } }
		s: search(query: "a", first: 30) { nodes { id createdBy { id } } } item(id: "5") { createdBy { name } } }`
	for _, h := range []struct {
		name string
		h    func() int64
	}{{"compiled", func() int64 { return serveCount(env, true, q) }}, {"gqlgen", func() int64 { return serveCount(env, false, q) }}} {
		if n := h.h(); n != 1 {
			t.Errorf("%s: %d calls of Users for one response, want 1", h.name, n)
		}
	}
	// And the users are the right ones.
	got, _ := env.compare(t, genOp{Query: `{ items(first: 60) { nodes { id createdBy { id name } } } }`})
	var resp struct {
		Data struct {
			Items struct {
				Nodes []struct {
					ID        string
					CreatedBy *struct{ ID, Name string }
				}
			}
		}
	}
	if err := json.Unmarshal(got.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	users := 0
	for _, n := range resp.Data.Items.Nodes {
		id, _ := strconv.ParseInt(n.ID, 10, 64)
		it, err := env.store.Item(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case it.CreatedByID == 0 && n.CreatedBy != nil:
			t.Errorf("item %s: createdBy %+v, want null", n.ID, n.CreatedBy)
		case it.CreatedByID != 0 && (n.CreatedBy == nil || n.CreatedBy.ID != strconv.FormatInt(it.CreatedByID, 10)):
			t.Errorf("item %s: createdBy %+v, want user %d", n.ID, n.CreatedBy, it.CreatedByID)
		case n.CreatedBy != nil:
			users++
		}
	}
	if users == 0 {
		t.Errorf("no item of the page has a createdBy: the test tests nothing")
	}
}

// serveCount serves q on one path and returns the calls of Users it made.
func serveCount(env *planEnv, compiled bool, q string) int64 {
	h := env.gqlgen
	if compiled {
		h = env.compiled
	}
	before := env.store.UserCalls.Load()
	serve(h, genOp{Query: q}, env.tokens)
	return env.store.UserCalls.Load() - before
}

func decodeJSON(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	return v
}

// manyAliases returns n aliased fields of Item on one item.
func manyAliases(n int) string {
	return ` item(id: "2") {` + repeated(n, " f%d: name") + " }"
}

// nestedFragments returns a query whose selection nests n named
// fragments, each on Query and spreading the next, the last selecting a
// page.
func nestedFragments(n int) string {
	var b strings.Builder
	b.WriteString("{ ...F0 }")
	for i := range n {
		fmt.Fprintf(&b, " fragment F%d on Query { ...F%d }", i, i+1)
	}
	fmt.Fprintf(&b, " fragment F%d on Query { items(first: 2) { nodes { id } } }", n)
	return b.String()
}
