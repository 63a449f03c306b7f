package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"itemsapi/httpapi"
	"itemsapi/store/memory"
)

// introspectionQuery is the query GraphiQL and graphql-js send.
const introspectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}`

// nested returns a query that nests introspection fields n levels deep.
func nested(n int) string {
	return "{ __schema { types { fields { type " + strings.Repeat("{ ofType ", n-5) + "{ name }" + strings.Repeat(" }", n-5) + " } } } }"
}

// aliases returns a query of n aliased fields, each costing 2.
func aliases(n int) string {
	return "{" + repeated(n, ` a%d: item(id: "1") { id }`) + " }"
}

// fragments returns a query that spreads n fragments, each selecting k
// aliases of __typename: side by side in the query, or as a chain in which
// each fragment spreads the next.
func fragments(n, k int, chain bool) string {
	var b strings.Builder
	if chain {
		b.WriteString("{ ...F0 }")
	} else {
		b.WriteString("{" + repeated(n, " ...F%d") + " }")
	}
	for i := range n {
		fmt.Fprintf(&b, " fragment F%d on Query {", i)
		for j := range k {
			fmt.Fprintf(&b, " a%d_%d: __typename", i, j)
		}
		if chain && i+1 < n {
			fmt.Fprintf(&b, " ...F%d", i+1)
		}
		b.WriteString(" }")
	}
	return b.String()
}

// repeated returns n copies of format, the i-th formatted with i (from 0):
// repeated(2, " a%d: __typename") is " a0: __typename a1: __typename".
func repeated(n int, format string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, format, i)
	}
	return b.String()
}

func TestLimits(t *testing.T) {
	ts := newTestServer(t)
	pages := func(n int, args string) string {
		if args != "" {
			args = "(" + args + ")"
		}
		return "{" + repeated(n, " p%d: items"+args+" { nodes { id name description createdAt createdBy { id name } } }") + " }"
	}
	tests := []struct {
		name      string
		query     string
		vars      map[string]any
		wantError string // a part of the message, "" for success
	}{
		{"introspection query fits", introspectionQuery, nil, ""},
		{"depth 20", nested(20), nil, ""},
		{"depth 21", nested(21), nil, "depth limit"},
		{"depth 200", nested(200), nil, "depth limit"},
		{"depth through fragments", `query { __schema { ...A } } fragment A on __Schema { types { ...B } } fragment B on __Type { fields { type ` +
			strings.Repeat("{ ofType ", 17) + "{ name }" + strings.Repeat(" }", 17) + ` } }`, nil, "depth limit"},
		{"cost within", pages(12, "first: 100"), nil, ""},
		{"cost over", pages(13, "first: 100"), nil, "cost limit"},
		{"default first costs 20", pages(60, ""), nil, ""},
		{"last within", pages(12, "last: 100"), nil, ""},
		{"last counts like first", pages(13, "last: 100"), nil, "cost limit"},
		{"last: 1 leaves first's default out", pages(13, "last: 1"), nil, ""},
		{"variable last costs 100", `query($n: Int) {` + strings.TrimPrefix(pages(13, "last: $n"), "{"), map[string]any{"n": 1}, "cost limit"},
		{"variable first costs 100", `query($n: Int) {` + strings.TrimPrefix(pages(13, "first: $n"), "{"), map[string]any{"n": 1}, "cost limit"},
		{"10,000 aliases", aliases(10_000), nil, "cost limit"},
		{"too many tokens", "{" + strings.Repeat(" a", 200_001) + " }", nil, "tokens"},
		{"too many directives", `{ __typename` + strings.Repeat(" @skip(if: false)", 11) + ` }`, nil, "directives"},
		{"200 fragments side by side", fragments(200, 1, false), nil, ""},
		{"201 fragments side by side", fragments(201, 1, false), nil, "defines 201 fragments"},
		{"5,000 fragments side by side", fragments(5000, 1, false), nil, "defines 5000 fragments"},
		{"a chain of 200 fragments", fragments(200, 1, true), nil, ""},
		{"a chain of 3,000 fragments", fragments(3000, 1, true), nil, "defines 3000 fragments"},
		{"a chain of 100 fragments of 5 fields", fragments(100, 5, true), nil, ""},
		{"a chain of 100 fragments of 10 fields", fragments(100, 10, true), nil, "reach too many fields"},
		{"a chain of 200 fragments of 40 fields", fragments(200, 40, true), nil, "reach too many fields"},
		{"50 fragments of 40 fields side by side", fragments(50, 40, false), nil, ""},
		{"200 fragments of 10 fields side by side", fragments(200, 10, false), nil, "reach too many fields"},
		{"10 places of 100 copies of __typename", "{" + repeated(10, " a%d: __schema { "+strings.Repeat("__typename ", 100)+"}") + " }", nil, ""},
		{"1,800 operations of 100 copies of __typename", repeated(1800, "query Q%d { "+strings.Repeat("__typename ", 100)+"} "), nil, "same response names too often"},
		{"a fragment of 100 copies spread by 20 operations", "fragment F on Query { me { " + strings.Repeat("__typename ", 100) + "} } " +
			repeated(20, "query Q%d { ...F } "), nil, "same response names too often"},
		{"spreads enough to leave the rest uncounted", "fragment F on Query { me { " + strings.Repeat("__typename ", 100) + "} } fragment G on Query { __typename } " +
			repeated(10_001, "query G%d { ...G } ") + repeated(20, "query H%d { ...F } "), nil, "spreads fragments more than 10000 times"},
		{"40 copies of a field with a long argument", "{" + strings.Repeat(` search(query: "`+strings.Repeat("x", 20_000)+`") { totalCount }`, 40) + " }", nil, "same response names too often"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.post(t, "", tt.query, tt.vars)
			if tt.wantError == "" {
				if len(r.Errors) > 0 {
					t.Fatalf("errors: %+v", r.Errors)
				}
				return
			}
			if len(r.Errors) != 1 || r.Errors[0].Code() != "GRAPHQL_VALIDATION_FAILED" || !strings.Contains(r.Errors[0].Message, tt.wantError) {
				t.Fatalf("errors = %+v, want one GRAPHQL_VALIDATION_FAILED naming %q", r.Errors, tt.wantError)
			}
			if r.HasData {
				t.Errorf("a refused operation has a data key")
			}
		})
	}
	t.Run("first 101 is BAD_USER_INPUT, not a cost error", func(t *testing.T) {
		r := ts.post(t, "", `{ items(first: 101) { nodes { id } } }`, nil)
		if got := r.codes(); len(got) != 1 || got[0] != "BAD_USER_INPUT" {
			t.Errorf("codes = %v, want [BAD_USER_INPUT]", got)
		}
	})
}

// BenchmarkRefuseAliases measures how long the server takes to refuse a
// document of 10,000 aliases, through the whole HTTP handler.
func BenchmarkRefuseAliases(b *testing.B) {
	store := memory.New()
	defer store.Close()
	h := httpapi.NewHandler(httpapi.DefaultConfig(), httpapi.Deps{Store: store, Broker: store, Logger: slog.New(slog.DiscardHandler)})
	query := aliases(10_000)
	n := 0
	for b.Loop() {
		// A new document each time, so no cache answers for it.
		b.StopTimer()
		n++
		body, _ := json.Marshal(map[string]string{"query": fmt.Sprintf("query Q%d %s", n, query)})
		b.StartTimer()
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !strings.Contains(rec.Body.String(), "cost limit") {
			b.Fatalf("not refused: %.200s", rec.Body.String())
		}
	}
}
