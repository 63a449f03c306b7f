package httpapi

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"itemsapi/internal/cache"
)

// docBytesPerSourceByte is what a parsed and validated document is
// reckoned to take on the heap per byte of its text, the text included.
// Measured with gqlparser v2.5.64 over the schema: 1 for a document that
// is mostly a comment or a string, 25 to 40 for typical dense ones, 53 at
// most (3,000 times `item(id:1){id}`); rounded up.
const docBytesPerSourceByte = 64

// queryCache is gqlgen's cache of parsed and validated documents, keyed by
// their text, in the service's byte-weighted cache. The key and the
// document's source share one string, so the text is weighed once.
type queryCache struct {
	c *cache.Cache[string, *ast.QueryDocument]
}

var _ graphql.Cache[*ast.QueryDocument] = queryCache{}

func newQueryCache(maxBytes int64, maxEntries int) queryCache {
	return queryCache{cache.New[string, *ast.QueryDocument](cache.Config{MaxBytes: maxBytes, MaxEntries: maxEntries})}
}

// Get implements graphql.Cache.
func (q queryCache) Get(_ context.Context, query string) (*ast.QueryDocument, bool) {
	return q.c.Get(query)
}

// Add implements graphql.Cache.
func (q queryCache) Add(_ context.Context, query string, doc *ast.QueryDocument) {
	q.c.Set(query, doc, int64(len(query))*docBytesPerSourceByte)
}

// apqCache keeps the documents of automatic persisted queries by their
// SHA-256, weighed by their text.
type apqCache struct {
	c *cache.Cache[string, string]
}

var _ graphql.Cache[string] = apqCache{}

func newAPQCache(maxBytes int64) apqCache {
	return apqCache{cache.New[string, string](cache.Config{MaxBytes: maxBytes})}
}

// Get implements graphql.Cache.
func (a apqCache) Get(_ context.Context, hash string) (string, bool) { return a.c.Get(hash) }

// Add implements graphql.Cache.
func (a apqCache) Add(_ context.Context, hash, query string) {
	a.c.Set(hash, query, int64(len(hash)+len(query)))
}
