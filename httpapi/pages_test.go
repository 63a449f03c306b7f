package httpapi_test

import (
	"encoding/base64"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"itemsapi/httpapi"
	"itemsapi/items"
	"itemsapi/store/readcache"
	"itemsapi/store/sqlite"
)

// pageConn is an ItemConnection as a client decodes it.
type pageConn struct {
	TotalCount int
	Edges      []struct {
		Cursor string
		Node   struct{ ID, Name string }
	}
	PageInfo struct {
		HasNextPage, HasPreviousPage bool
		StartCursor, EndCursor       *string
	}
}

func (c pageConn) names() []string {
	var names []string
	for _, e := range c.Edges {
		names = append(names, e.Node.Name)
	}
	return names
}

const connectionFields = `totalCount edges { cursor node { id name } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }`

// TestPagesBothWays walks items in each order forward and backward over
// HTTP, checking the page flags at every step, and the argument rules.
func TestPagesBothWays(t *testing.T) {
	ts := newTestServer(t)
	for _, n := range []string{"delta", "Alpha", "charlie", "Bravo", "echo"} {
		ts.post(t, ts.userToken, `mutation($n: String!) { addItem(input: {name: $n}) { id } }`, map[string]any{"n": n}).decode(t, &struct{}{})
	}
	all := map[string][]string{
		"{field: ID, direction: ASC}":    {"Apple", "Banana", "delta", "Alpha", "charlie", "Bravo", "echo"},
		"{field: ID, direction: DESC}":   {"echo", "Bravo", "charlie", "Alpha", "delta", "Banana", "Apple"},
		"{field: NAME, direction: ASC}":  {"Alpha", "Apple", "Banana", "Bravo", "charlie", "delta", "echo"},
		"{field: NAME, direction: DESC}": {"echo", "delta", "charlie", "Bravo", "Banana", "Apple", "Alpha"},
	}
	page := func(order, args string, vars map[string]any) pageConn {
		t.Helper()
		var out struct{ Items pageConn }
		decl := "$after: String"
		if strings.Contains(args, "$before") {
			decl = "$before: String"
		}
		q := fmt.Sprintf(`query(%s) { items(orderBy: %s, %s) { %s } }`, decl, order, args, connectionFields)
		ts.post(t, "", q, vars).decode(t, &out)
		return out.Items
	}
	// walk pages through order forward by 2, or backward by 3 from the
	// end, checking the page flags at every step, and returns the names
	// in order.
	walk := func(order string, backward bool, want []string) []string {
		t.Helper()
		dir, args, cursorVar := "forward", "first: 2, after: $after", "after"
		ahead, behind := "hasNextPage", "hasPreviousPage"
		if backward {
			dir, args, cursorVar = "backward", "last: 3, before: $before", "before"
			ahead, behind = behind, ahead
		}
		var got []string
		cursor := ""
		for i := 0; ; i++ {
			c := page(order, args, map[string]any{cursorVar: cursor})
			hasAhead, hasBehind, next := c.PageInfo.HasNextPage, c.PageInfo.HasPreviousPage, c.PageInfo.EndCursor
			if backward {
				got = append(c.names(), got...)
				hasAhead, hasBehind, next = hasBehind, hasAhead, c.PageInfo.StartCursor
			} else {
				got = append(got, c.names()...)
			}
			if hasBehind != (i > 0) {
				t.Errorf("%s %s page %d: %s = %v", order, dir, i, behind, hasBehind)
			}
			if hasAhead != (len(got) < len(want)) {
				t.Errorf("%s %s page %d: %s = %v after %d of %d", order, dir, i, ahead, hasAhead, len(got), len(want))
			}
			if !hasAhead {
				return got
			}
			cursor = *next
		}
	}
	for order, want := range all {
		for _, backward := range []bool{false, true} {
			if got := walk(order, backward, want); !slices.Equal(got, want) {
				t.Errorf("%s backward=%v: names = %q, want %q", order, backward, got, want)
			}
		}
	}

	byName := page("{field: NAME, direction: ASC}", "first: 1, after: $after", nil)
	byID := page("{field: ID, direction: ASC}", "first: 1, after: $after", nil)
	refusals := []struct {
		name, query string
		vars        map[string]any
	}{
		{"first and last", `{ items(first: 2, last: 2) { totalCount } }`, nil},
		{"first and last on search", `{ search(query: "a", first: 2, last: 2) { totalCount } }`, nil},
		{"last over 100", `{ items(last: 101) { totalCount } }`, nil},
		{"negative last", `{ search(last: -1) { totalCount } }`, nil},
		{"cursor of another order", `query($c: String) { items(orderBy: {field: ID, direction: ASC}, after: $c) { totalCount } }`, map[string]any{"c": byName.Edges[0].Cursor}},
		{"ID cursor in NAME order", `query($c: String) { items(orderBy: {field: NAME, direction: ASC}, before: $c, last: 1) { totalCount } }`, map[string]any{"c": byID.Edges[0].Cursor}},
		{"ID ASC cursor in ID DESC order", `query($c: String) { items(orderBy: {field: ID, direction: DESC}, after: $c) { totalCount } }`, map[string]any{"c": byID.Edges[0].Cursor}},
		{"garbage before", `{ items(last: 1, before: "!!") { totalCount } }`, nil},
	}
	for _, tt := range refusals {
		if got := ts.post(t, "", tt.query, tt.vars).codes(); !slices.Equal(got, []string{"BAD_USER_INPUT"}) {
			t.Errorf("%s: codes = %v, want [BAD_USER_INPUT]", tt.name, got)
		}
	}
	// last alone leaves first's default out; empty cursors are no cursors.
	var out struct{ Items, Search pageConn }
	ts.post(t, "", `{ items(last: 2, after: "", before: "") { `+connectionFields+` } search(query: "a", last: 1) { `+connectionFields+` } }`, nil).decode(t, &out)
	if got := out.Items.names(); !slices.Equal(got, []string{"Bravo", "echo"}) || !out.Items.PageInfo.HasPreviousPage || out.Items.PageInfo.HasNextPage {
		t.Errorf("items(last: 2) = %q %+v, want [Bravo echo], a previous page and no next", got, out.Items.PageInfo)
	}
	if got := out.Search.names(); !slices.Equal(got, []string{"Bravo"}) || !out.Search.PageInfo.HasPreviousPage {
		t.Errorf(`search(query: "a", last: 1) = %q %+v, want [Bravo] and a previous page`, got, out.Search.PageInfo)
	}
}

// TestForgedCursors pages from cursors a client wrote itself (a cursor is
// base64 of a text anyone can read): IDs at the end of int64, which no
// item reaches, place a page and keep hasPreviousPage and hasNextPage
// exact; what no cursor of the server holds, and not every store can
// compare (a NUL in a name, a time outside the years 1 to 9999), is a
// malformed cursor on every store.
func TestForgedCursors(t *testing.T) {
	ts := newTestServer(t) // the demo items: 1 Apple, 2 Banana
	forge := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	const max = "9223372036854775807"
	pages := []struct {
		name, order, args, cursor string
		want                      []string
		hasPrevious, hasNext      bool
	}{
		{"after the last ID", "{field: ID, direction: ASC}", "first: 2, after: $c", "item:" + max, nil, true, false},
		{"before the last ID, descending", "{field: ID, direction: DESC}", "last: 2, before: $c", "item:id:desc:" + max, nil, false, true},
		{"after the last ID of a name", "{field: NAME, direction: ASC}", "first: 1, after: $c", "item:name:asc:" + max + ":Apple", []string{"Banana"}, true, false},
		{"before the last ID of a name, descending", "{field: NAME, direction: DESC}", "last: 1, before: $c", "item:name:desc:" + max + ":Banana", nil, false, true},
		{"after the year 1", "{field: UPDATED_AT, direction: ASC}", "first: 1, after: $c", "item:updated:asc:1:-62135596800000000", []string{"Apple"}, false, true},
		{"before the year 9999 ends", "{field: UPDATED_AT, direction: ASC}", "last: 1, before: $c", "item:updated:asc:" + max + ":253402300799999999", []string{"Banana"}, true, false},
	}
	for _, tt := range pages {
		var out struct{ Items pageConn }
		q := fmt.Sprintf(`query($c: String) { items(orderBy: %s, %s) { %s } }`, tt.order, tt.args, connectionFields)
		ts.post(t, "", q, map[string]any{"c": forge(tt.cursor)}).decode(t, &out)
		got := out.Items
		if !slices.Equal(got.names(), tt.want) || got.PageInfo.HasPreviousPage != tt.hasPrevious || got.PageInfo.HasNextPage != tt.hasNext {
			t.Errorf("%s: names %q, hasPreviousPage %v, hasNextPage %v; want %q, %v, %v",
				tt.name, got.names(), got.PageInfo.HasPreviousPage, got.PageInfo.HasNextPage, tt.want, tt.hasPrevious, tt.hasNext)
		}
	}
	for _, c := range []string{
		"item:name:asc:1:Apple\x00", "item:updated:asc:1:-62135596800000001", "item:updated:asc:1:253402300800000000",
		"item:updated:desc:1:-9223372036854775808", "item:9223372036854775808", "item:-1", "item:0", "item:id:asc:1",
	} {
		for _, order := range []string{"{field: NAME, direction: ASC}", "{field: UPDATED_AT, direction: ASC}", "{field: UPDATED_AT, direction: DESC}", "{field: ID, direction: ASC}"} {
			q := fmt.Sprintf(`query($c: String) { items(orderBy: %s, first: 1, after: $c) { totalCount } }`, order)
			if got := ts.post(t, "", q, map[string]any{"c": forge(c)}).codes(); !slices.Equal(got, []string{"BAD_USER_INPUT"}) {
				t.Errorf("cursor %q in %s: codes = %v, want [BAD_USER_INPUT]", c, order, got)
			}
		}
	}
}

// TestPageFlagsModel takes every page that two cursors can bound, in every
// order and in a search, forward and backward, of sizes 0 to 100, with
// cursors of items that exist and of items deleted since, each bound
// alone, both or neither, and compares the page and its hasPreviousPage
// and hasNextPage with a model: the range between the cursors; a page
// before (after) it when the range holds more than the page on that side,
// or an item is at or beyond the far cursor. The pages are those of the
// memory store, and of SQLite behind the read cache, as run wires it
// (every fifteenth pair of cursors under the race detector, where SQLite is
// some twenty times slower).
func TestPageFlagsModel(t *testing.T) {
	t.Run("memory", func(t *testing.T) { pageFlagsModel(t, newTestServer(t), 1) })
	t.Run("sqlite", func(t *testing.T) {
		ts, _ := newServer(t, httpapi.DefaultConfig(), func(ts *testServer, deps *httpapi.Deps) {
			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "items.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			ts.adminToken = addToken(t, s, "root", items.RoleAdmin)
			deps.Store, deps.Broker = readcache.New(s, readcache.DefaultMaxBytes), s
		})
		every := 1
		if raceEnabled {
			every = 15
		}
		pageFlagsModel(t, ts, every)
	})
}

// pageFlagsModel is TestPageFlagsModel on ts, for every pair of cursors
// of the list, or every every-th.
func pageFlagsModel(t *testing.T, ts *testServer, every int) {
	for _, n := range []string{"b", "a", "B", "a", "c", "ä", "b", "😀", "a b", "Z", "ab"} {
		ts.post(t, ts.adminToken, `mutation($n: String!) { addItem(input: {name: $n}) { id } }`, map[string]any{"n": n}).decode(t, &struct{}{})
	}
	for id, n := range map[string]string{"3": "aa", "6": "b", "10": "a"} {
		ts.post(t, ts.adminToken, `mutation($id: ID!, $n: String!) { updateItem(id: $id, input: {name: $n}) { id } }`, map[string]any{"id": id, "n": n}).decode(t, &struct{}{})
	}
	lists := []string{`search(query: "A"`}
	for _, f := range []string{"ID", "NAME", "UPDATED_AT"} {
		for _, d := range []string{"ASC", "DESC"} {
			lists = append(lists, fmt.Sprintf("items(orderBy: {field: %s, direction: %s}", f, d))
		}
	}
	type edge struct {
		Cursor string
		Node   struct{ ID string }
	}
	type conn struct {
		Edges    []edge
		PageInfo struct{ HasNextPage, HasPreviousPage bool }
	}
	// Each list whole, before the deletions: the positions of the cursors.
	whole := map[string][]edge{}
	for _, l := range lists {
		var out map[string]conn
		ts.post(t, "", fmt.Sprintf(`{ l: %s, first: 100) { edges { cursor node { id } } } }`, l), nil).decode(t, &out)
		whole[l] = out["l"].Edges
	}
	deleted := map[string]bool{"1": true, "4": true, "9": true, "13": true}
	for id := range deleted {
		ts.post(t, ts.adminToken, `mutation($id: ID!) { deleteItem(id: $id) }`, map[string]any{"id": id}).decode(t, &struct{}{})
	}
	sizes := []int{0, 1, 2, 100}
	for _, l := range lists {
		old := whole[l]
		var aliases strings.Builder
		for _, n := range sizes {
			fmt.Fprintf(&aliases, "f%d: %s, first: %d, after: $s, before: $e) { edges { node { id } } pageInfo { hasNextPage hasPreviousPage } }\n", n, l, n)
			fmt.Fprintf(&aliases, "l%d: %s, last: %d, after: $s, before: $e) { edges { node { id } } pageInfo { hasNextPage hasPreviousPage } }\n", n, l, n)
		}
		query := "query($s: String, $e: String) {\n" + aliases.String() + "}"
		// Positions are indexes in old; -1 is no cursor.
		for s := -1; s < len(old); s++ {
			for e := -1; e < len(old); e++ {
				if ((s+1)*(len(old)+1)+e+1)%every != 0 {
					continue
				}
				vars := map[string]any{}
				if s >= 0 {
					vars["s"] = old[s].Cursor
				}
				if e >= 0 {
					vars["e"] = old[e].Cursor
				}
				var between []string
				var atOrBeforeS, atOrAfterE bool
				for i, ed := range old {
					if deleted[ed.Node.ID] {
						continue
					}
					atOrBeforeS = atOrBeforeS || s >= 0 && i <= s
					atOrAfterE = atOrAfterE || e >= 0 && i >= e
					if (s < 0 || i > s) && (e < 0 || i < e) {
						between = append(between, ed.Node.ID)
					}
				}
				var out map[string]conn
				ts.post(t, "", query, vars).decode(t, &out)
				for _, n := range sizes {
					for _, backward := range []bool{false, true} {
						alias, want := fmt.Sprintf("f%d", n), between[:min(n, len(between))]
						wantPrev, wantNext := atOrBeforeS, len(between) > n || atOrAfterE
						if backward {
							alias, want = fmt.Sprintf("l%d", n), between[len(between)-min(n, len(between)):]
							wantPrev, wantNext = len(between) > n || atOrBeforeS, atOrAfterE
						}
						c := out[alias]
						var got []string
						for _, ed := range c.Edges {
							got = append(got, ed.Node.ID)
						}
						if !slices.Equal(got, want) || c.PageInfo.HasPreviousPage != wantPrev || c.PageInfo.HasNextPage != wantNext {
							t.Errorf("%s, after #%d, before #%d (of %d), %s: IDs %v, hasPreviousPage %v, hasNextPage %v; want %v, %v, %v",
								l, s, e, len(old), alias, got, c.PageInfo.HasPreviousPage, c.PageInfo.HasNextPage, want, wantPrev, wantNext)
						}
					}
				}
			}
		}
	}
}
