package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"

	"itemsapi/items"
)

// Limits is a gqlgen extension that refuses an operation over a limit
// before it is validated or executed: validating is quadratic in the
// number of fields for some rules, so a document of 10,000 aliases must be
// refused before gqlparser's validator ever sees it. Each refusal is a
// GRAPHQL_VALIDATION_FAILED error whose message names the limit. Verdicts
// are cached by document, so a repeated query costs one map look-up.
type Limits struct {
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
	// CacheSize is how many documents' verdicts are kept.
	CacheSize int

	verdicts *lru.LRU[verdict]
}

// verdict is what Limits found of one document and operation name.
type verdict struct{ err *gqlerror.Error }

var (
	_ graphql.HandlerExtension          = (*Limits)(nil)
	_ graphql.OperationParameterMutator = (*Limits)(nil)
)

// ExtensionName implements graphql.HandlerExtension.
func (*Limits) ExtensionName() string { return "Limits" }

// Validate implements graphql.HandlerExtension.
func (l *Limits) Validate(graphql.ExecutableSchema) error {
	if l.MaxTokens <= 0 || l.MaxDepth <= 0 || l.MaxCost <= 0 || l.MaxDirectives <= 0 {
		return fmt.Errorf("limits must be positive: %+v", *l)
	}
	l.verdicts = lru.New[verdict](max(l.CacheSize, 1))
	return nil
}

// MutateOperationParameters implements graphql.OperationParameterMutator:
// it runs after persisted queries are resolved and before parsing.
func (l *Limits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	key := p.OperationName + "\x00" + p.Query
	if v, ok := l.verdicts.Get(ctx, key); ok {
		return v.err
	}
	err := l.check(p.Query, p.OperationName)
	l.verdicts.Add(ctx, key, verdict{err})
	return err
}

// check returns the error for a document over a limit, or nil. A document
// that does not lex or parse is left to gqlgen, which reports it.
func (l *Limits) check(query, operationName string) *gqlerror.Error {
	src := &ast.Source{Input: query}
	lx := lexer.New(src)
	significant := false // a token other than a comment
	for n := 0; ; n++ {
		tok, err := lx.ReadToken()
		if err != nil {
			return nil
		}
		if tok.Kind != lexer.Comment && tok.Kind != lexer.EOF {
			significant = true
		}
		if tok.Kind == lexer.EOF {
			if !significant && query != "" {
				// Only white space and comments: gqlparser would parse
				// it as a document with no operation, but the grammar
				// wants at least one definition.
				return &gqlerror.Error{
					Message:    "Syntax Error: Unexpected <EOF>: the document has no definition",
					Locations:  []gqlerror.Location{{Line: tok.Pos.Line, Column: tok.Pos.Column}},
					Extensions: map[string]any{"code": "GRAPHQL_PARSE_FAILED"},
				}
			}
			break
		}
		if n >= l.MaxTokens {
			return limitError("the document has more than %d tokens, the limit", l.MaxTokens)
		}
	}
	doc, err := parser.ParseQuery(src)
	if err != nil {
		return nil
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
		Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"},
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
// clamped to 0..MaxPageSize, 20 when absent, MaxPageSize for a variable,
// whose value a cached verdict cannot know.
func pageMultiplier(args ast.ArgumentList) int {
	a := args.ForName("first")
	if a == nil || a.Value == nil {
		return defaultPageSize
	}
	switch a.Value.Kind {
	case ast.IntValue:
		var n int
		if _, err := fmt.Sscan(a.Value.Raw, &n); err != nil {
			return items.MaxPageSize
		}
		return min(max(n, 0), items.MaxPageSize)
	case ast.NullValue:
		return defaultPageSize
	default:
		return items.MaxPageSize
	}
}
