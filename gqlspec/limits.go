package gqlspec

import (
	"context"
	"crypto/sha256"
	"fmt"
	"unsafe"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"

	"itemsapi/internal/cache"
	"itemsapi/items"
)

// Limits is a gqlgen extension that refuses an operation over a limit
// before it is validated or executed: validating is quadratic in the
// number of fields for some rules, so a document of 10,000 aliases must be
// refused before gqlparser's validator ever sees it. Each refusal is a
// items.ValidationFailed error whose message names the limit. Verdicts
// are cached by the SHA-256 of the operation name and document, never the
// document itself, so a repeated query costs a hash and one map look-up; a
// document that does not lex or parse leaves no verdict, as its text is all
// that could be kept of it.
type Limits struct {
	OperationLimits
	// CacheBytes bounds the memory of the verdicts kept (see
	// internal/cache); 0 keeps none.
	CacheBytes int64
	// Reserve, when not nil, is asked for the memory that parsing a
	// document will take (see BytesPerToken), before Limits parses it and
	// again, from a cached verdict, before gqlgen does. An error refuses
	// the operation with items.Internal; Reserve's caller is
	// expected to answer it as it sees fit (the HTTP API answers 503).
	Reserve func(ctx context.Context, bytes int64) error

	verdicts *cache.Cache[[sha256.Size]byte, verdict]
}

// OperationLimits are the bounds on one operation's document, declared
// once: the HTTP API's configuration embeds them and hands them to Limits.
// Every one must be positive (see Check).
type OperationLimits struct {
	// MaxTokens bounds the lexical tokens of a document.
	MaxTokens int
	// MaxDepth bounds how deeply selections nest, counted through
	// fragments, introspection fields included.
	MaxDepth int
	// MaxCost bounds an operation's cost: each field costs 1, and items
	// and search multiply the cost of their selection by `first` (clamped
	// to 0..100, 20 when absent, 100 when it is a variable).
	MaxCost int
	// MaxDirectives bounds the directives on one field or fragment.
	MaxDirectives int
}

// Check returns an error when a limit is not positive.
func (o OperationLimits) Check() error {
	if o.MaxTokens <= 0 || o.MaxDepth <= 0 || o.MaxCost <= 0 || o.MaxDirectives <= 0 {
		return fmt.Errorf("limits must be positive: %+v", o)
	}
	return nil
}

// BytesPerToken is what parsing and validating a document is reckoned to
// take on the heap per lexical token. Measured: up to 415 bytes for a
// document of fields without arguments (`{ __typename __typename … }`),
// about 85 for fields with arguments and selections; rounded up.
const BytesPerToken = 512

// verdict is what Limits found of one document and operation name: the
// error, if any, and the document's lexical tokens.
type verdict struct {
	err    *gqlerror.Error
	tokens int
}

// verdictCost is what a verdict holds besides the cache's own overhead.
func verdictCost(v verdict) int64 {
	if v.err == nil {
		return 0
	}
	// The error, its message and its extensions map (a map of one
	// entry takes some 300 bytes).
	return 512 + int64(len(v.err.Message))
}

var (
	_ graphql.HandlerExtension          = (*Limits)(nil)
	_ graphql.OperationParameterMutator = (*Limits)(nil)
)

// ExtensionName implements graphql.HandlerExtension.
func (*Limits) ExtensionName() string { return "Limits" }

// Validate implements graphql.HandlerExtension.
func (l *Limits) Validate(graphql.ExecutableSchema) error {
	if err := l.Check(); err != nil {
		return err
	}
	l.verdicts = cache.New[[sha256.Size]byte, verdict](cache.Config{MaxBytes: l.CacheBytes})
	return nil
}

// CacheStats returns what the cache of verdicts holds.
func (l *Limits) CacheStats() cache.Stats { return l.verdicts.Stats() }

// MutateOperationParameters implements graphql.OperationParameterMutator:
// it runs after persisted queries are resolved and before parsing.
func (l *Limits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	key := documentKey(p.OperationName, p.Query)
	if v, ok := l.verdicts.Get(key); ok {
		if v.err == nil {
			// gqlgen parses it next, unless its own cache has it.
			if err := l.reserve(ctx, v.tokens); err != nil {
				return err
			}
		}
		return v.err
	}
	v, keep, err := l.check(ctx, p.Query, p.OperationName)
	if err != nil {
		return err
	}
	if keep {
		l.verdicts.Set(key, v, verdictCost(v))
	}
	return v.err
}

// documentKey is the SHA-256 of an operation name and a document, apart.
func documentKey(operationName, query string) [sha256.Size]byte {
	h := sha256.New()
	h.Write(bytesOf(operationName))
	h.Write([]byte{0})
	h.Write(bytesOf(query))
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key
}

// bytesOf returns the bytes of s without copying them, for a writer that
// keeps the io.Writer contract (it neither modifies nor retains them):
// []byte(s) would copy a document of megabytes, and a buffer passed
// through the hash.Hash interface escapes to the heap.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// reserve asks Reserve for the memory parsing tokens takes.
func (l *Limits) reserve(ctx context.Context, tokens int) *gqlerror.Error {
	if l.Reserve == nil {
		return nil
	}
	if err := l.Reserve(ctx, int64(tokens)*BytesPerToken); err != nil {
		return &gqlerror.Error{
			Message:    "the server is too busy to parse this document now: retry later",
			Extensions: items.Internal.Extensions(),
		}
	}
	return nil
}

// check returns the verdict of a document, and whether the document
// lexed and parsed, so that its verdict may be kept; a document that does
// not is left to gqlgen, which reports it. err is not nil when the memory
// to parse the document could not be reserved.
func (l *Limits) check(ctx context.Context, query, operationName string) (v verdict, keep bool, err *gqlerror.Error) {
	src := &ast.Source{Input: query}
	lx := lexer.New(src)
	significant := false // a token other than a comment
	n := 0
	for ; ; n++ {
		tok, err := lx.ReadToken()
		if err != nil {
			return verdict{}, false, nil
		}
		if tok.Kind != lexer.Comment && tok.Kind != lexer.EOF {
			significant = true
		}
		if tok.Kind == lexer.EOF {
			if !significant && query != "" {
				// Only white space and comments: gqlparser would parse
				// it as a document with no operation, but the grammar
				// wants at least one definition. A document that does
				// not parse: not kept.
				return verdict{err: &gqlerror.Error{
					Message:    "Syntax Error: Unexpected <EOF>: the document has no definition",
					Locations:  []gqlerror.Location{{Line: tok.Pos.Line, Column: tok.Pos.Column}},
					Extensions: items.ParseFailed.Extensions(),
				}}, false, nil
			}
			break
		}
		if n >= l.MaxTokens {
			// Over the limit, whatever follows: a verdict worth keeping,
			// as the document is refused before it is parsed.
			return verdict{err: limitError("the document has more than %d tokens, the limit", l.MaxTokens)}, true, nil
		}
	}
	if err := l.reserve(ctx, n); err != nil {
		return verdict{}, false, err
	}
	doc, perr := parser.ParseQuery(src)
	if perr != nil {
		return verdict{}, false, nil
	}
	return verdict{err: l.measure(doc, operationName), tokens: n}, true, nil
}

// measure returns the error for an operation of doc over a limit, or nil.
func (l *Limits) measure(doc *ast.QueryDocument, operationName string) *gqlerror.Error {
	if err := fragmentWork(doc); err != nil {
		return err
	}
	if err := l.sameNames(doc); err != nil {
		return err
	}
	w := walker{limits: l, doc: doc}
	for _, op := range doc.Operations {
		if operationName != "" && op.Name != operationName {
			continue
		}
		if op.Operation != ast.Query && op.Operation != ast.Mutation && op.Operation != ast.Subscription {
			continue
		}
		root := op.Operation == ast.Query
		depth, cost := w.selections(op.SelectionSet, 1, root)
		if w.err != nil {
			return w.err
		}
		if depth > l.MaxDepth {
			return limitError("the operation is %d levels deep; the depth limit is %d", depth, l.MaxDepth)
		}
		if cost > l.MaxCost {
			return limitError("the operation costs %d; the cost limit is %d (each field costs 1, and items and search multiply their selection by first)", cost, l.MaxCost)
		}
	}
	return nil
}

func limitError(format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{
		Message:    fmt.Sprintf(format, args...),
		Extensions: items.ValidationFailed.Extensions(),
	}
}

// walker measures the selections of one document.
type walker struct {
	limits *Limits
	doc    *ast.QueryDocument
	err    *gqlerror.Error
	// spreads counts fragment expansions, so that a document that spreads
	// fragments exponentially (validation refuses cycles, not fan-out)
	// stops being measured once it is clearly over the cost limit.
	spreads int
}

// costCap stops arithmetic from overflowing on absurd documents.
const costCap = 1 << 40

// selections returns the depth and cost of set, whose fields stand at
// level; root says whether set is the top of a query, where items and
// search live.
func (w *walker) selections(set ast.SelectionSet, level int, root bool) (depth, cost int) {
	if w.err != nil {
		return 0, 0
	}
	if level > w.limits.MaxDepth+1 {
		// Deeper than the limit: no need to look further down.
		return level, 0
	}
	for _, sel := range set {
		var d, c int
		switch sel := sel.(type) {
		case *ast.Field:
			if len(sel.Directives) > w.limits.MaxDirectives {
				w.err = limitError("field %s has %d directives; the limit is %d", sel.Name, len(sel.Directives), w.limits.MaxDirectives)
				return 0, 0
			}
			d, c = level, 1
			if len(sel.SelectionSet) > 0 {
				childDepth, childCost := w.selections(sel.SelectionSet, level+1, false)
				d = childDepth
				if root && (sel.Name == "items" || sel.Name == "search") {
					childCost *= pageMultiplier(sel.Arguments)
				}
				c += childCost
			}
		case *ast.InlineFragment:
			if len(sel.Directives) > w.limits.MaxDirectives {
				w.err = limitError("an inline fragment has %d directives; the limit is %d", len(sel.Directives), w.limits.MaxDirectives)
				return 0, 0
			}
			d, c = w.selections(sel.SelectionSet, level, root)
		case *ast.FragmentSpread:
			if len(sel.Directives) > w.limits.MaxDirectives {
				w.err = limitError("fragment spread %s has %d directives; the limit is %d", sel.Name, len(sel.Directives), w.limits.MaxDirectives)
				return 0, 0
			}
			w.spreads++
			if w.spreads > w.limits.MaxCost {
				w.err = limitError("the operation spreads fragments more than %d times; the cost limit is %d", w.limits.MaxCost, w.limits.MaxCost)
				return 0, 0
			}
			if f := w.doc.Fragments.ForName(sel.Name); f != nil {
				d, c = w.selections(f.SelectionSet, level, root)
			}
		}
		depth = max(depth, d)
		cost = min(cost+c, costCap)
	}
	return depth, cost
}

// pageMultiplier is how many items a page's arguments may select: first
// or last clamped to 0..MaxPageSize, MaxPageSize for a variable, whose
// value a cached verdict cannot know; 20 when neither is given (first's
// default, which does not apply when last is given); the larger when
// both are (which the resolver refuses).
func pageMultiplier(args ast.ArgumentList) int {
	first, hasFirst := countArg(args.ForName("first"))
	last, hasLast := countArg(args.ForName("last"))
	switch {
	case hasFirst && hasLast:
		return max(first, last)
	case hasLast:
		return last
	case hasFirst:
		return first
	}
	return items.DefaultPageSize
}

// countArg returns what a first or last argument counts for, and whether
// it is given (not absent nor null).
func countArg(a *ast.Argument) (int, bool) {
	if a == nil || a.Value == nil || a.Value.Kind == ast.NullValue {
		return 0, false
	}
	return argMultiplier(a), true
}

// argMultiplier is what a first or last argument that is given counts for.
func argMultiplier(a *ast.Argument) int {
	switch a.Value.Kind {
	case ast.IntValue:
		var n int
		if _, err := fmt.Sscan(a.Value.Raw, &n); err != nil {
			return items.MaxPageSize
		}
		return min(max(n, 0), items.MaxPageSize)
	case ast.NullValue:
		return items.DefaultPageSize
	default:
		return items.MaxPageSize
	}
}

// MaxSameResponseName bounds how many fields a document selects at one
// response path (the response names from the root: a.nodes.name), where
// they merge into one field of the answer, counted through inline
// fragments and spread fragments, in every operation and fragment of the
// document, the operation that runs or not. gqlparser's rule that such
// fields can be merged compares them pair by pair: within the cost limit,
// 9,000 copies of __typename took it 3.3 s, and 99 copies of a search
// selecting name 50 times, 0.8 s. Clients select a field once per
// fragment that needs it, a few times at most.
const MaxSameResponseName = 100

// MaxSameNamePairs bounds the pairs of fields that gqlparser compares in
// all: at each response path, each field selected there with each other
// one, in every operation (which it walks anew, through the fragments it
// spreads), a field whose arguments are long counting one more pair for
// each 256 bytes of them. Within MaxSameResponseName alone, 98 paths of
// 100 copies of __typename took 66 ms, and 19 operations of them 1 s; one
// fragment of 100 fields with an argument of 19,000 characters, spread by
// 1,200 operations, 8.4 s. At the bound, some 7 ms, going by the 66 ms
// of 485,000 pairs.
const MaxSameNamePairs = 50_000

// sameNames returns the error for a document that selects more than
// MaxSameResponseName fields at one response path or more than
// MaxSameNamePairs pairs of them, or whose operations spread fragments
// more than MaxCost times in all, or nil.
func (l *Limits) sameNames(doc *ast.QueryDocument) *gqlerror.Error {
	c := pathCounter{doc: doc, spreadsLeft: l.MaxCost, maxSpreads: l.MaxCost, ids: map[pathKey]int{}, counts: map[int]int{}, spreading: map[string]bool{}}
	c.inOperations = true
	for _, op := range doc.Operations {
		c.count(op.SelectionSet, c.root())
	}
	c.inOperations = false
	for _, f := range doc.Fragments {
		c.count(f.SelectionSet, c.root())
	}
	return c.err
}

// pathKey is a response path: the id of its parent path and the last
// response name.
type pathKey struct {
	parent int
	name   string
}

// pathCounter counts the fields selected at each response path.
type pathCounter struct {
	doc         *ast.QueryDocument
	err         *gqlerror.Error
	spreadsLeft int
	maxSpreads  int
	// inOperations is true while the operations are counted.
	inOperations bool
	ids          map[pathKey]int
	counts       map[int]int
	spreading    map[string]bool // the fragments being expanded: a cycle stops
	roots        int
	pairs        int // weighed as MaxSameNamePairs says
}

// root returns the id of a new root path.
func (c *pathCounter) root() int {
	c.roots--
	return c.roots
}

// count counts the fields of set, and below, at paths under parent.
func (c *pathCounter) count(set ast.SelectionSet, parent int) {
	for _, sel := range set {
		if c.err != nil {
			return
		}
		switch sel := sel.(type) {
		case *ast.Field:
			name := sel.Alias
			if name == "" {
				name = sel.Name
			}
			k := pathKey{parent, name}
			id, ok := c.ids[k]
			if !ok {
				id = len(c.ids) + 1
				c.ids[k] = id
			}
			c.pairs += c.counts[id] * (1 + argumentBytes(sel.Arguments)/256)
			c.counts[id]++
			if n := c.counts[id]; n > MaxSameResponseName {
				c.err = limitError("the field %s is selected more than %d times at one place of the answer, the limit", name, MaxSameResponseName)
				return
			}
			if c.pairs > MaxSameNamePairs {
				c.err = limitError("the document selects fields under the same response names too often: more than %d pairs of them, counted in every operation, the limit (select a field once in each place, and send fewer operations in one document)", MaxSameNamePairs)
				return
			}
			c.count(sel.SelectionSet, id)
		case *ast.InlineFragment:
			c.count(sel.SelectionSet, parent)
		case *ast.FragmentSpread:
			f := c.doc.Fragments.ForName(sel.Name)
			if f == nil || c.spreading[sel.Name] {
				continue
			}
			if c.spreadsLeft--; c.spreadsLeft < 0 {
				if c.inOperations {
					// gqlparser walks every operation through its
					// spreads, the operation that runs or not: spreads
					// left uncounted would be pairs compared unseen.
					c.err = limitError("the document spreads fragments more than %d times, counted through every operation; the limit is the cost limit", c.maxSpreads)
					return
				}
				// In the fragments' definitions, which gqlparser walks
				// once each, fragmentWork bounds what it compares.
				continue
			}
			c.spreading[sel.Name] = true
			c.count(f.SelectionSet, parent)
			delete(c.spreading, sel.Name)
		}
	}
}

// argumentBytes returns the bytes of the values of args, as written.
func argumentBytes(args ast.ArgumentList) int {
	n := 0
	for _, a := range args {
		n += valueBytes(a.Value)
	}
	return n
}

func valueBytes(v *ast.Value) int {
	if v == nil {
		return 0
	}
	n := len(v.Raw)
	for _, c := range v.Children {
		n += len(c.Name) + valueBytes(c.Value)
	}
	return n
}
