package sqlite

import (
	"database/sql"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"itemsapi/items"
)

func TestPlanSearch(t *testing.T) {
	tests := []struct {
		search, match string
		exact         bool
	}{
		{"a", "", false},
		{"an", "", false},
		{"é\u0301", "", false}, // two characters, one of them combining
		{"ana", `"ANA"`, true},
		{"Äpfel", `"ÄPFEL"`, true},
		{"\u212Aiwi", `"KIWI"`, true}, // KELVIN SIGN folds with K
		{`"hi"`, `"""HI"""`, true},
		{`a AND b`, `"A AND B"`, true},
		{`x* OR NEAR(y)`, `"X* OR NEAR(Y)"`, true},
		{"a\x00bc", "", false},
		{"b\uFFFDc", "\"B\uFFFDC\"", false},
		{"b\uFFFEc", "\"B\uFFFEC\"", false},
		{"b\uFFFFc", "\"B\uFFFFC\"", false},
	}
	for _, tt := range tests {
		p := planSearch(tt.search)
		if p.folded != items.FoldString(tt.search) || p.match != tt.match || p.exact != tt.exact {
			t.Errorf("planSearch(%q) = %+v, want folded %q, match %q, exact %v",
				tt.search, p, items.FoldString(tt.search), tt.match, tt.exact)
		}
	}
}

// TestQueryPlans checks how SQLite runs the reads: by primary key or
// through the trigram index, in ID order without sorting, the index taking
// the bounds of the page and of what the index holds (the > and < in the
// index string of FTS5).
func TestQueryPlans(t *testing.T) {
	s := openTest(t)
	want := map[string][]string{
		"item":       {`^SEARCH items USING INTEGER PRIMARY KEY \(rowid=\?\)$`},
		"items":      {`^SEARCH items USING INTEGER PRIMARY KEY \(rowid>\?\)$`},
		"searchScan": {`^SEARCH items USING INTEGER PRIMARY KEY \(rowid>\?\)$`},
		"searchIndex": {
			`^SCAN f VIRTUAL TABLE INDEX \d+:M\d*><$`,
			`^SEARCH i USING INTEGER PRIMARY KEY \(rowid=\?\)$`,
		},
		"countIndex": {`^SCAN items_fts VIRTUAL TABLE INDEX \d+:M\d*<$`},
		"countTail":  {`^SEARCH items USING INTEGER PRIMARY KEY \(rowid>\?\)$`},
		"countChecked": {
			`^SCAN f VIRTUAL TABLE INDEX \d+:M\d*<$`,
			`^SEARCH i USING INTEGER PRIMARY KEY \(rowid=\?\)$`,
		},
	}
	for _, st := range s.statements() {
		steps, ok := want[st.name]
		if !ok {
			continue
		}
		plan := explain(t, s.r, st.query)
		if len(plan) != len(steps) {
			t.Errorf("plan of %s = %q, want %d steps", st.name, plan, len(steps))
			continue
		}
		for i, step := range steps {
			if !regexp.MustCompile(step).MatchString(plan[i]) {
				t.Errorf("plan of %s, step %d = %q, want it to match %s", st.name, i, plan[i], step)
			}
		}
	}
}

// explain returns the query plan of query with args, one line per step;
// without args, with every parameter NULL.
func explain(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	if args == nil {
		args = make([]any, strings.Count(query, "?"))
	}
	rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN %s: %v", query, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatalf("EXPLAIN QUERY PLAN %s: %v", query, err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN %s: %v", query, err)
	}
	return lines
}

// checkIndex checks that the trigram index holds exactly the folded names
// of the items.
func checkIndex(t *testing.T, s *Store) {
	t.Helper()
	_, err := s.w.ExecContext(t.Context(), `INSERT INTO items_fts (items_fts, rank) VALUES ('integrity-check', 1)`)
	if err != nil {
		t.Errorf("integrity-check of items_fts = %v", err)
	}
}

// TestMigrationIndexesItems opens a database of schema version 1 that holds
// items: the migration to version 2 indexes them.
func TestMigrationIndexesItems(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "items.db")
	steps, err := migrations()
	if err != nil {
		t.Fatalf("migrations() = %v", err)
	}
	names := []string{"Apple", "Banana", "Pomegranate", "Grüne Äpfel", "ANANAS", "qzx"}
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatalf("sql.Open() = %v", err)
	}
	if _, err := db.ExecContext(ctx, steps[0]); err != nil {
		t.Fatalf("migration 0001 = %v", err)
	}
	for _, name := range names {
		if _, err := db.ExecContext(ctx, `INSERT INTO items (name, name_folded, created_at) VALUES (?, ?, 0)`,
			name, items.FoldString(name)); err != nil {
			t.Fatalf("INSERT = %v", err)
		}
	}
	if _, err := db.ExecContext(ctx, "PRAGMA user_version = 1"); err != nil {
		t.Fatalf("PRAGMA user_version = %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}

	s := openAt(t, path)
	var version int
	if err := s.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil || version != len(steps) {
		t.Errorf("user_version = %d, %v, want %d", version, err, len(steps))
	}
	checkIndex(t, s)
	for _, q := range []string{"ana", "ANAN", "äpf", "qzx", "an", "apple", "durian"} {
		checkSearch(t, s, names, q, 2)
	}
}

// TestSearchIndexFollowsChanges changes the items in every way, those the
// program knows (AddItem, Import) and those it does not (DELETE, UPDATE by
// hand): the index follows.
func TestSearchIndexFollowsChanges(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	for _, name := range []string{"Green Banana", "Pomegranate"} {
		if _, err := s.AddItem(ctx, items.NewItem{Name: name}); err != nil {
			t.Fatalf("AddItem(%q) = %v", name, err)
		}
	}
	if err := s.Import(ctx, []items.NewItem{{Name: "Banana bread"}, {Name: "Mango"}}); err != nil {
		t.Fatalf("Import() = %v", err)
	}
	for _, change := range []string{
		`DELETE FROM items WHERE name = 'Green Banana'`,
		`UPDATE items SET name = 'Orange', name_folded = 'ORANGE' WHERE name = 'Mango'`,
	} {
		if _, err := s.w.ExecContext(ctx, change); err != nil {
			t.Fatalf("%s: %v", change, err)
		}
	}
	checkIndex(t, s)
	names := []string{"Apple", "Banana", "Pomegranate", "Banana bread", "Orange"}
	for _, q := range []string{"ana", "green", "mango", "orange", "RAN", "an", "ban"} {
		checkSearch(t, s, names, q, 1)
	}
}

// TestSearchSpecialCharacters searches names holding characters that are
// special to SQL, to FTS5 queries or to the trigram tokenizer, or whose
// case folds beyond ASCII, for each other.
func TestSearchSpecialCharacters(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	names := []string{"Apple", "Banana"}
	added := []string{
		`say "hi"`, `""" quotes`, "it's", "100% juice", "a_b_c", `back\slash`,
		"star*", "^start", "this AND that", "x OR y", "NOT this", "NEAR(a b, 2)", "name_folded: x", "{name_folded} y",
		"Straße", "STRASSE", "İstanbul", "istanbul", "ΣΊΣΥΦΟΣ", "σίσυφος", "Kelvin \u212A",
		"e\u0301clair", "éclair", "ab\uFFFEc", "ab\uFFFFc", "ab\uFFFDc", "🍏 green apple", "a  b",
	}
	for _, name := range added {
		if _, err := s.AddItem(ctx, items.NewItem{Name: name}); err != nil {
			t.Fatalf("AddItem(%q) = %v", name, err)
		}
	}
	names = append(names, added...)
	queries := []string{
		`"hi"`, `"""`, `""`, `"`, "'s", "0% j", "%", "a_b", "_", `k\s`, `\`,
		"ar*", "*", "^st", "s AND t", "AND", "x OR", "NOT t", "NEAR(", "(a b", ", 2)", "name_folded:", "{name_folded}",
		"STRAẞE", "ße", "İst", "ist", "ΦΟς", "σίσ", "n \u212A", "n k",
		"e\u0301c", "\u0301cl", "écl", "b\uFFFEc", "b\uFFFFc", "b\uFFFDc", "\uFFFDc", "🍏 g", "🍏", "  b", "  ",
	}
	for _, q := range queries {
		checkSearch(t, s, names, q, 1)
		checkSearch(t, s, names, q, items.MaxPageSize+1)
	}
}
