package postgres_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"itemsapi/items"
	"itemsapi/store/postgres"
)

// benchRows is how many items the benchmarks' store holds.
const benchRows = 10_000

var (
	benchAdjectives = []string{"red", "green", "yellow", "ripe", "sour", "sweet", "dried", "frozen", "wild", "organic"}
	benchFruits     = []string{"apple", "banana", "cherry", "date", "elderberry", "fig", "grape", "kiwi", "lemon", "mango", "nectarine", "orange", "papaya"}
)

// benchStore returns a store holding the demo items and benchRows more,
// named like "sweet cherry 01234", copied in at once (not through AddItem)
// and vacuumed.
func benchStore(b *testing.B) *postgres.Store {
	b.Helper()
	u := newSchema(b)
	open(b, u, nil).Close() // creates the tables
	ctx := b.Context()
	conn := connect(b, u)
	now := time.Now().UTC()
	rows := make([][]any, benchRows)
	for i := range rows {
		name := fmt.Sprintf("%s %s %05d", benchAdjectives[i%len(benchAdjectives)], benchFruits[(i/7)%len(benchFruits)], i)
		rows[i] = []any{name, items.FoldString(name), now}
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"items"}, []string{"name", "name_folded", "created_at"}, pgx.CopyFromRows(rows)); err != nil {
		b.Fatalf("copy items: %v", err)
	}
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE items`); err != nil {
		b.Fatalf("analyze: %v", err)
	}
	// Opened now, the store's listener takes the copied items as old news.
	return open(b, u, nil)
}

func BenchmarkItem(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	for b.Loop() {
		id := 1 + rand.Int64N(benchRows+2)
		if _, err := s.Item(ctx, id); err != nil {
			b.Fatalf("Item(%d) = %v", id, err)
		}
	}
}

func BenchmarkItems(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	for b.Loop() {
		q := items.ItemQuery{After: rand.Int64N(benchRows), Limit: 21}
		if _, err := s.Items(ctx, q); err != nil {
			b.Fatalf("Items(%+v) = %v", q, err)
		}
	}
}

func BenchmarkSearch(b *testing.B) {
	s := benchStore(b)
	for _, bb := range []struct{ name, query string }{
		{"rare", "01234"},         // one item: the trigram index finds it
		{"common", "cherry"},      // one item in 13: the first page is near
		{"word", "sweet cherry"},  // one in 130
		{"none", "durian"},        // no item: the index says so at once
		{"short", "ch"},           // too short for trigrams: a scan in ID order
		{"short-none", "q!"},      // too short, and no match: the whole table
		{"escaped", "100%"},       // a LIKE special character, matching nothing
		{"unicode", "ÄPFEL ÜBER"}, // folded beyond ASCII, matching nothing
	} {
		b.Run(bb.name, func(b *testing.B) {
			ctx := b.Context()
			q := items.ItemQuery{Search: bb.query, Limit: 21}
			for b.Loop() {
				if _, err := s.Items(ctx, q); err != nil {
					b.Fatalf("Items(%+v) = %v", q, err)
				}
			}
		})
	}
	b.Run("count-common", func(b *testing.B) {
		ctx := b.Context()
		for b.Loop() {
			if _, err := s.CountItems(ctx, "cherry"); err != nil {
				b.Fatalf("CountItems(cherry) = %v", err)
			}
		}
	})
}

func BenchmarkAddItem(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	for b.Loop() {
		if _, err := s.AddItem(ctx, items.NewItem{Name: "benchmark item"}); err != nil {
			b.Fatalf("AddItem() = %v", err)
		}
	}
}
