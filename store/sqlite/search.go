package sqlite

import (
	"strings"
	"unicode/utf8"

	"itemsapi/items"
)

// minIndexedSearch is the length, in characters, of the shortest search
// that the trigram index (migration 0002) serves: a shorter one has no
// trigram, and scans the names in ID order until the page is full.
const minIndexedSearch = 3

// searchPlan is how the store looks up the items whose name contains a
// search text. Whatever the plan, the result is that of
// instr(name_folded, folded) > 0 over every item, in ID order.
type searchPlan struct {
	// folded is the search text under items.FoldString, as name_folded
	// holds the names.
	folded string
	// match is the FTS5 query of the trigram index for folded: one phrase,
	// which matches the names holding its trigrams one after the other,
	// that is, holding folded. It is empty when the index cannot serve the
	// search, which then scans.
	match string
	// exact reports whether the index alone decides: otherwise a name that
	// the index matches may not hold folded, and is checked with instr.
	exact bool
}

// planSearch returns the plan for a search text that is not empty.
//
// The trigram tokenizer reads names and queries alike, so the index finds
// every name that holds the search text; it finds only those, with two
// exceptions. It skips NUL characters (which validation keeps out of names
// and searches): a search holding one scans. And it reads U+FFFE and U+FFFF
// as U+FFFD: a search holding any of the three may match names that hold
// another of them instead, and needs the check.
func planSearch(search string) searchPlan {
	p := searchPlan{folded: items.FoldString(search)}
	if utf8.RuneCountInString(p.folded) < minIndexedSearch || strings.IndexByte(p.folded, 0) >= 0 {
		return p
	}
	// Inside double quotes everything is literal but the double quote,
	// which is doubled: FTS5 operators, column filters, * and ^ included.
	p.match = `"` + strings.ReplaceAll(p.folded, `"`, `""`) + `"`
	p.exact = strings.IndexFunc(p.folded, readAsReplacement) < 0
	return p
}

// readAsReplacement reports whether the trigram tokenizer reads r as the
// replacement character U+FFFD.
func readAsReplacement(r rune) bool {
	return r == utf8.RuneError || r == 0xFFFE || r == 0xFFFF
}
