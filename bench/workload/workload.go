// Package workload is the one definition of what the benchmarks load and
// ask: the items of a dataset, from a deterministic generator, and the
// request bodies of each scenario with the checks of their answers.
//
// The seeder, the checker that guards the load runs, the ceiling's answers
// and the in-process benchmarks (httpapi.BenchmarkHandler) all use it, so a
// change to a query or to the data changes every one of them at once.
package workload

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"strings"

	"itemsapi/items"
)

// Dataset sizes, in items, counting the two demo items a new store holds.
const (
	SmallItems = 10_000
	LargeItems = 1_000_000
)

// Marker is embedded in about one name in MarkerOdds. No word of the
// generator contains it, nor can two adjacent words form it, so a search
// for it must read the whole table to find its few matches: the worst
// case of a substring search.
const (
	Marker     = "qzx"
	MarkerOdds = 100_000
)

// CommonQuery matches a good share of the names (Banana, Mango, Orange,
// Tangy, …), so that a page of results is found near the start of the
// table.
const CommonQuery = "an"

// The word lists. Names are Title Case and the queries lower case, so that
// every search exercises case folding.
var (
	adjectives = []string{
		"Ripe", "Sweet", "Sour", "Fresh", "Dried", "Wild", "Organic", "Juicy",
		"Crisp", "Tiny", "Giant", "Frozen", "Tangy", "Candied", "Golden", "Fancy",
	}
	colours = []string{
		"Red", "Green", "Yellow", "Orange", "Purple", "Tan", "Crimson", "Amber",
		"Scarlet", "Indigo", "Violet", "Cyan", "Pink", "Black", "White", "Blue",
	}
	fruits = []string{
		"Apple", "Banana", "Cherry", "Mango", "Pear", "Plum", "Grape", "Lemon",
		"Lime", "Kiwi", "Peach", "Melon", "Guava", "Papaya", "Fig", "Date",
		"Tangerine", "Pineapple", "Apricot", "Quince", "Lychee", "Cranberry",
	}
	places = []string{
		"Seville", "Valencia", "Murcia", "Sicily", "Kent", "Normandy", "Alsace",
		"Chiapas", "Kerala", "Okayama", "Otago", "Oregon",
	}
)

// seed fixes the generator's sequence: every run, on every machine, loads
// the same items with the same IDs.
const seed1, seed2 = 20240601, 1

// Generate yields the items to add to a new store so that it holds total
// items, demo items included, in the order their IDs are assigned: a new
// store gives the demo items, Apple and Banana, IDs 1 and 2, so the first
// generated item is 3. The sequence is the same on every call, and the
// first n items of a larger dataset are those of a smaller one.
func Generate(total int) iter.Seq[items.NewItem] {
	return func(yield func(items.NewItem) bool) {
		rng := rand.New(rand.NewPCG(seed1, seed2))
		for range total - len(items.DemoItems) {
			if !yield(next(rng)) {
				return
			}
		}
	}
}

// next draws one item: two or three words, the marker now and then, and a
// description for about half of them.
func next(rng *rand.Rand) items.NewItem {
	var b strings.Builder
	if rng.IntN(2) == 0 {
		b.WriteString(pick(rng, adjectives))
		b.WriteByte(' ')
	}
	b.WriteString(pick(rng, colours))
	b.WriteByte(' ')
	b.WriteString(pick(rng, fruits))
	if rng.IntN(MarkerOdds) == 0 {
		// Upper case, as the queries are lower case.
		b.WriteString(" " + strings.ToUpper(Marker))
	}
	n := items.NewItem{Name: b.String()}
	if rng.IntN(2) == 0 {
		d := fmt.Sprintf("Picked %d days ago near %s; lot %d.", 1+rng.IntN(30), pick(rng, places), rng.IntN(1_000_000))
		n.Description = &d
	}
	return n
}

func pick(rng *rand.Rand, words []string) string { return words[rng.IntN(len(words))] }
