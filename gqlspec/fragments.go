package gqlspec

import (
	"slices"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// MaxFragments bounds the fragments a document defines, and
// MaxFragmentWork the work that gqlparser's OverlappingFieldsCanBeMerged
// is reckoned to do on them. The rule compares the fields of every
// selection set with those of every fragment it reaches through spreads,
// and fragments pair by pair; its time grows with the square of the
// fragments in a chain (each spreading the next) and of their fields.
// Measured without these bounds: a chain of 1,000 fragments of one field
// took 1.4 s to validate and one of 3,000 over 30 s; a chain of 200
// fragments of 40 fields 12 s, and of 50 fragments of 40 fields 0.25 s.
// The work of a definition (an operation or a fragment) is reckoned as
// its fields times the fields of the fragments it reaches, and, for the
// fragments it spreads itself, one fewer than their number times their
// fields, each fragment counting one more for itself. Measured under the
// bound, at most 45 ms: a chain of 100 fragments of 5 fields, or of 200
// of one; 200 fragments side by side of 5 fields, or 50 of 40.
const (
	MaxFragments    = 200
	MaxFragmentWork = 250_000
)

// fragmentWork returns the error for a document over MaxFragments or
// MaxFragmentWork, or nil.
func fragmentWork(doc *ast.QueryDocument) *gqlerror.Error {
	if n := len(doc.Fragments); n > MaxFragments {
		return limitError("the document defines %d fragments; the limit is %d", n, MaxFragments)
	}
	if len(doc.Fragments) == 0 {
		return nil
	}
	type node struct {
		fields  int
		spreads []string
	}
	nodes := make(map[string]node, len(doc.Fragments))
	for _, f := range doc.Fragments {
		n := node{}
		countSelections(f.SelectionSet, &n.fields, &n.spreads)
		nodes[f.Name] = n
	}
	// reached returns the fields of the fragments that spreads reach,
	// each fragment once, each counting one more for itself.
	reached := func(spreads []string) int {
		seen := map[string]bool{}
		total := 0
		stack := append([]string(nil), spreads...)
		for len(stack) > 0 {
			name := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			n, known := nodes[name]
			if seen[name] || !known {
				continue
			}
			seen[name] = true
			total += n.fields + 1
			stack = append(stack, n.spreads...)
		}
		return total
	}
	work := 0
	add := func(fields int, spreads []string) bool {
		work += (fields + 1) * reached(spreads)
		// The fragments spread side by side, pair by pair.
		side, spread := 0, 0
		for _, name := range spreads {
			if n, known := nodes[name]; known {
				side++
				spread += n.fields + 1
			}
		}
		if side > 1 {
			work += (side - 1) * spread
		}
		return work > MaxFragmentWork
	}
	for _, op := range doc.Operations {
		var fields int
		var spreads []string
		countSelections(op.SelectionSet, &fields, &spreads)
		if add(fields, spreads) {
			return fragmentWorkError()
		}
	}
	for _, n := range nodes {
		if add(n.fields, n.spreads) {
			return fragmentWorkError()
		}
	}
	return nil
}

func fragmentWorkError() *gqlerror.Error {
	return limitError("the document's fragments reach too many fields through one another (more than %d fields compared to fields, the limit): spread fewer fragments from fragments, or select fewer fields in them", MaxFragmentWork)
}

// countSelections adds the fields of set, at every level, to *fields, and
// the names of the fragments it spreads to *spreads, each once: a
// fragment spread many times costs the reckoning no more than once.
func countSelections(set ast.SelectionSet, fields *int, spreads *[]string) {
	collectSelections(set, fields, spreads)
	slices.Sort(*spreads)
	*spreads = slices.Compact(*spreads)
}

func collectSelections(set ast.SelectionSet, fields *int, spreads *[]string) {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			*fields++
			collectSelections(sel.SelectionSet, fields, spreads)
		case *ast.InlineFragment:
			collectSelections(sel.SelectionSet, fields, spreads)
		case *ast.FragmentSpread:
			*spreads = append(*spreads, sel.Name)
		}
	}
}
