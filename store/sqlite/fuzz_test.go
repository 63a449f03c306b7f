package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"
	"time"

	"itemsapi/items"
)

// maxFuzzNames bounds the items that one input of FuzzSearch adds, to keep
// each execution fast.
const maxFuzzNames = 40

// FuzzSearch checks the search of Items and CountItems against a reference
// computed in Go, strings.Contains over the folded names in ID order, for
// the names in the lines of names and the search text q, paging through
// the results limit (1 to MaxPageSize+1) at a time. Names and searches that
// validation refuses are left out. It reuses one store per fuzzing process
// and leaves it as it found it after each input: only the demo items.
func FuzzSearch(f *testing.F) {
	ctx := f.Context()
	s := openTest(f)
	// Durability is not under test: spare each commit its sync.
	if _, err := s.w.ExecContext(ctx, "PRAGMA synchronous = OFF"); err != nil {
		f.Fatalf("PRAGMA synchronous = %v", err)
	}
	base := make([]string, len(items.DemoItems))
	for i, n := range items.DemoItems {
		base[i] = n.Name
	}
	var lastBase int64
	if err := s.w.QueryRowContext(ctx, "SELECT max(id) FROM items").Scan(&lastBase); err != nil {
		f.Fatalf("max(id) = %v", err)
	}

	f.Fuzz(func(t *testing.T, names, q string, limit uint8) {
		if items.ValidateSearch(q) != nil {
			t.Skip("search refused by validation")
		}
		batch := validItems(names)
		// The first half goes into the trigram index; the second stays
		// above it, as items added since the index's last step do, so
		// that a search reads both.
		half := len(batch) / 2
		if err := s.Import(ctx, batch[:half]); err != nil {
			t.Fatalf("Import(%q) = %v", names, err)
		}
		if err := s.insertUnindexed(ctx, batch[half:]); err != nil {
			t.Fatalf("insert(%q) = %v", names, err)
		}
		defer func() {
			if _, err := s.w.ExecContext(ctx, "DELETE FROM items WHERE id > ?", lastBase); err != nil {
				t.Fatalf("DELETE = %v", err)
			}
		}()
		all := slices.Clone(base)
		for _, n := range batch {
			all = append(all, n.Name)
		}
		checkSearch(t, s, all, q, 1+int(limit)%(items.MaxPageSize+1))
	})
}

// validItems returns an item for each line of names that validation
// accepts, as validation cleans it, up to maxFuzzNames.
func validItems(names string) []items.NewItem {
	var batch []items.NewItem
	for line := range strings.SplitSeq(names, "\n") {
		n, err := items.NewItem{Name: line}.Validate()
		if err != nil {
			continue
		}
		if batch = append(batch, n); len(batch) == maxFuzzNames {
			break
		}
	}
	return batch
}

// checkSearch checks Items and CountItems of s for the search text q
// against names, the names of every item of s in ID order: the items whose
// folded name contains the folded q, in order, read limit at a time.
func checkSearch(t testing.TB, s *Store, names []string, q string, limit int) {
	t.Helper()
	ctx := t.Context()
	folded := items.FoldString(q)
	var want []string
	for _, name := range names {
		if strings.Contains(items.FoldString(name), folded) {
			want = append(want, name)
		}
	}

	var got []string
	after := int64(0)
	for pages := 0; ; pages++ {
		if pages > len(names) {
			t.Fatalf("Items(Search %q): still more after %d pages of %d", q, pages, limit)
		}
		page, err := s.Items(ctx, items.ItemQuery{Search: q, After: after, Limit: limit})
		if err != nil {
			t.Fatalf("Items(Search %q, After %d, Limit %d) = %v", q, after, limit, err)
		}
		for _, it := range page {
			if it.ID <= after {
				t.Fatalf("Items(Search %q, After %d): ID %d does not increase", q, after, it.ID)
			}
			after = it.ID
			got = append(got, it.Name)
		}
		if len(page) < limit {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("Items(Search %q) names = %q, want %q", q, got, want)
	}
	if n, err := s.CountItems(ctx, q); err != nil || n != len(want) {
		t.Errorf("CountItems(%q) = %d, %v, want %d, nil", q, n, err, len(want))
	}
}

// insertUnindexed adds batch without adding it to the trigram index.
func (s *Store) insertUnindexed(ctx context.Context, batch []items.NewItem) error {
	if len(batch) == 0 {
		return nil
	}
	its := make([]items.Item, len(batch))
	for i, n := range batch {
		its[i] = items.Item{Name: n.Name, Description: n.Description, CreatedAt: time.Now().UTC()}
	}
	payload, err := encodeItems(its)
	if err != nil {
		return err
	}
	// No position: as inserted by hand, the items are not in the log.
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, _, err := execRows(ctx, tx.StmtContext(ctx, s.insertItems), len(its), payload, nil)
		return err
	})
}
