package httpapi

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"itemsapi/gqlspec"
	"itemsapi/graph"
	"itemsapi/internal/heap"
	"itemsapi/items"
	"itemsapi/store/memory"
)

// checkHeap fails t if the heap grew by more than budget and a sixteenth
// of it since before.
func checkHeap(t *testing.T, what string, before, budget int64) {
	t.Helper()
	grown := heap.InUse() - before
	t.Logf("%s: the heap grew by %.2f MiB; budget %.2f MiB", what, float64(grown)/(1<<20), float64(budget)/(1<<20))
	if grown > budget+budget/16 {
		t.Errorf("%s: the heap grew by %d bytes, over the budget of %d", what, grown, budget)
	}
}

func repeat(n int, f func(i int) string) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(f(i))
	}
	return b.String()
}

// denseDocuments are valid documents of the shapes that parse to the most
// heap per byte of text.
func denseDocuments() map[string]string {
	return map[string]string{
		"fields":      "{" + repeat(2000, func(int) string { return "__typename " }) + "}",
		"aliases":     "{" + repeat(2000, func(i int) string { return fmt.Sprintf("a%d:__typename ", i) }) + "}",
		"arguments":   "{" + repeat(1000, func(int) string { return "item(id:1){id}" }) + "}",
		"arguments 2": "{" + repeat(1000, func(i int) string { return fmt.Sprintf("a%d:item(id:\"1\"){id name}", i) }) + "}",
		"directives":  "{" + repeat(1000, func(int) string { return "__typename@skip(if:false)" }) + "}",
		"pages":       "{" + repeat(500, func(int) string { return "items(first:0){nodes{id}}" }) + "}",
		"fragments": "{" + repeat(1000, func(i int) string { return fmt.Sprintf("...F%d ", i) }) + "}" +
			repeat(1000, func(i int) string { return fmt.Sprintf("fragment F%d on Query{a%d:__typename}", i, i) }),
		"comment": "{ __typename }\n#" + strings.Repeat("x", 1<<20),
		"string":  `{ search(query: "` + strings.Repeat("x", 1<<20) + `") { totalCount } }`,
	}
}

// TestDocumentWeight checks docBytesPerSourceByte: a parsed and validated
// document of any of the dense shapes takes no more heap than the query
// cache weighs it at.
func TestDocumentWeight(t *testing.T) {
	schema := graph.NewSchema(&graph.Resolver{Store: memory.New()}).Schema()
	for name, q := range denseDocuments() {
		q = strings.Clone(q)
		before := heap.InUse()
		doc, err := parser.ParseQuery(&ast.Source{Input: q})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if errs := validator.Validate(schema, doc); len(errs) > 0 {
			t.Fatalf("%s: %v", name, errs[0])
		}
		grown := heap.InUse() - before
		runtime.KeepAlive(doc)
		// The text was allocated before: count it, as the cache does.
		ratio := float64(grown+int64(len(q))) / float64(len(q))
		t.Logf("%-11s %8d bytes of text, %.1f bytes of heap per byte", name, len(q), ratio)
		if ratio > docBytesPerSourceByte {
			t.Errorf("%s: %.1f bytes of heap per byte of text, over docBytesPerSourceByte = %d", name, ratio, docBytesPerSourceByte)
		}
	}
}

// TestCachesWithinBudget drives each cache of the HTTP API far past its
// budget with large entries and checks that the heap grows by no more than
// the budget.
func TestCachesWithinBudget(t *testing.T) {
	const budget = 4 << 20
	ctx := context.Background()

	t.Run("query cache", func(t *testing.T) {
		schema := graph.NewSchema(&graph.Resolver{Store: memory.New()}).Schema()
		before := heap.InUse()
		c := newQueryCache(budget, 0)
		// Documents of 6 KB of dense text: about 250 KB of heap each,
		// 200 of them 50 MB in all.
		for i := range 200 {
			q := "{" + repeat(280, func(j int) string { return fmt.Sprintf("a%d_%d:__typename ", i, j) }) + "}"
			doc, err := parser.ParseQuery(&ast.Source{Input: q})
			if err != nil {
				t.Fatal(err)
			}
			if errs := validator.Validate(schema, doc); len(errs) > 0 {
				t.Fatal(errs[0])
			}
			c.Add(ctx, q, doc)
		}
		if st := c.c.Stats(); st.Entries == 0 || st.Entries == 200 {
			t.Errorf("the cache kept %d of 200 documents", st.Entries)
		}
		checkHeap(t, "200 documents of 6 KB", before, budget)
		runtime.KeepAlive(c)
	})

	t.Run("automatic persisted queries", func(t *testing.T) {
		before := heap.InUse()
		c := newAPQCache(budget)
		for i := range 400 { // 40 MB of documents
			q := fmt.Sprintf("{ __typename } # %d %s", i, strings.Repeat("x", 100<<10))
			c.Add(ctx, fmt.Sprintf("%064x", i), q)
		}
		checkHeap(t, "400 documents of 100 KB", before, budget)
		runtime.KeepAlive(c)
	})

	t.Run("limits' verdicts", func(t *testing.T) {
		before := heap.InUse()
		l := &gqlspec.Limits{OperationLimits: gqlspec.OperationLimits{MaxTokens: 1000, MaxDepth: 5, MaxCost: 100, MaxDirectives: 5}, CacheBytes: budget / 4}
		if err := l.Validate(nil); err != nil {
			t.Fatal(err)
		}
		for i := range 6000 {
			// Distinct documents of 2 KB, half of them over a limit
			// (an error kept with the verdict), 12 MB in all: the text
			// must not be kept.
			q := fmt.Sprintf("{ __typename } # %d %s", i, strings.Repeat("x", 2<<10))
			if i%2 == 0 {
				q = "{ items(first: 100) { nodes { id name } } }" + q
			}
			oc := &graphql.OperationContext{}
			l.MutateOperationParameters(graphql.WithOperationContext(ctx, oc), &graphql.RawParams{Query: q})
		}
		checkHeap(t, "6,000 verdicts", before, budget/4)
		runtime.KeepAlive(l)
	})

	t.Run("response cache", func(t *testing.T) {
		before := heap.InUse()
		c := newResponseCache(budget, items.NewWrites(false), nil)
		for i := range 1000 { // 200 MB of answers
			body := []byte(strings.Repeat("y", 200<<10))
			c.store(fmt.Sprintf("POST\x00\x00{\"query\":\"{ a%d: __typename }\"}", i), &cachedResponse{
				body: body, operation: "Op", contentType: []string{"application/json"}, cacheControl: []string{"no-store"},
			})
		}
		checkHeap(t, "1,000 answers of 200 KB", before, budget)
		runtime.KeepAlive(c)
	})
}

// TestVerdictsKeepOnlyParsedDocuments: a document that does not lex or
// parse leaves no verdict; one that parses, or is over the token limit
// before it is parsed, leaves one, keyed by a hash.
func TestVerdictsKeepOnlyParsedDocuments(t *testing.T) {
	l := &gqlspec.Limits{OperationLimits: gqlspec.OperationLimits{MaxTokens: 50, MaxDepth: 5, MaxCost: 100, MaxDirectives: 5}, CacheBytes: 1 << 20}
	if err := l.Validate(nil); err != nil {
		t.Fatal(err)
	}
	ctx := graphql.WithOperationContext(context.Background(), &graphql.OperationContext{})
	for _, tt := range []struct {
		name, query string
		kept        int
	}{
		{"does not lex", `{ item(id: "1) { id } }`, 0},
		{"does not parse", `{ __typename`, 0},
		{"comments only", "# nothing", 0},
		{"parses", `{ __typename }`, 1},
		{"over the cost limit", `{ items(first: 100) { nodes { id name } } }`, 1},
		{"over the token limit", "{" + strings.Repeat(" __typename", 60) + " }", 1},
	} {
		before := l.CacheStats().Entries
		l.MutateOperationParameters(ctx, &graphql.RawParams{Query: tt.query})
		if got := l.CacheStats().Entries - before; got != tt.kept {
			t.Errorf("%s: %d verdicts kept, want %d", tt.name, got, tt.kept)
		}
	}
}
