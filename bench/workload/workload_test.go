package workload

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"itemsapi/items"
)

// The rare search is rare only if no word can hold the marker; names join
// words with spaces, so no pair of words can form it either.
func TestMarkerInNoWord(t *testing.T) {
	for _, list := range [][]string{adjectives, colours, fruits} {
		for _, w := range list {
			if strings.Contains(strings.ToLower(w), Marker) || strings.Contains(w, " ") {
				t.Errorf("word %q holds the marker %q or a space", w, Marker)
			}
		}
	}
}

// Every run, the seeder, the checker and the in-process benchmarks must
// see the same items, and a larger dataset must begin with a smaller one.
func TestGenerateIsDeterministic(t *testing.T) {
	small := slices.Collect(Generate(1000))
	large := slices.Collect(Generate(5000))
	if len(small) != 1000-len(items.DemoItems) {
		t.Fatalf("Generate(1000) made %d items, want %d", len(small), 1000-len(items.DemoItems))
	}
	for i, n := range small {
		if n.Name != large[i].Name || !equal(n.Description, large[i].Description) {
			t.Fatalf("item %d differs: %+v and %+v", i, n, large[i])
		}
		if _, err := n.Validate(); err != nil {
			t.Fatalf("item %d is not valid: %v", i, err)
		}
	}
}

func equal(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// The common search must find its page near the start of the table.
func TestCommonQueryShare(t *testing.T) {
	e := NewExpect(SmallItems, CommonQuery, Marker)
	if share := float64(e.Matches(CommonQuery)) / SmallItems; share < 0.2 || share > 0.7 {
		t.Errorf("%q matches %.0f%% of names; want a good share", CommonQuery, 100*share)
	}
	if n := e.Matches(Marker); n > 2 {
		t.Errorf("%q matches %d of %d names; want about one in %d", Marker, n, SmallItems, MarkerOdds)
	}
}

// wrk reads one body a line.
func TestBodiesAreOneLine(t *testing.T) {
	e := NewExpect(SmallItems, append([]string{CommonQuery, Marker}, MixedQueries...)...)
	for _, name := range []string{NameList, NameListDesc, NameGet, NameSearch, NameSearchRare, NameDeep, NameUpdate, NameAdd, NameMixed, NameCounts} {
		s, err := e.ByName(name, "bench")
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range s.Bodies {
			if strings.ContainsAny(b, "\r\n") {
				t.Fatalf("%s: body holds a line break: %q", name, b)
			}
		}
	}
}

func TestChecks(t *testing.T) {
	e := NewExpect(SmallItems, CommonQuery)
	list := e.List()
	var good strings.Builder
	good.WriteString(`{"data":{"items":{"nodes":[`)
	for i, it := range e.head[:PageSize] {
		if i > 0 {
			good.WriteByte(',')
		}
		good.WriteString(`{"id":"` + strconv.FormatInt(it.ID, 10) + `","name":"` + it.Name + `"}`)
	}
	good.WriteString(`]}}}`)
	if err := list.Check(0, []byte(good.String())); err != nil {
		t.Errorf("a right answer fails: %v", err)
	}
	for _, bad := range []string{
		`{"errors":[{"message":"no","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}`,
		`{"data":{"items":{"nodes":[]}}}`,
		strings.Replace(good.String(), `"Apple"`, `"Pear"`, 1),
		strings.Replace(good.String(), `}}}`, `}},"errors":[{"message":"partial"}]}`, 1),
		strings.Replace(good.String(), `"nodes"`, `"extra":1,"nodes"`, 1),
		`not json`,
	} {
		if err := list.Check(0, []byte(bad)); err == nil {
			t.Errorf("a wrong answer passes: %.120s", bad)
		}
	}
}

// The mixed scenario is what the issue describes: 1 request in 50 an
// addItem, the others gets over GetIDs IDs, the first page, searches for
// 8 terms and the 100-edge page; each search's first page is stable while
// items are added.
func TestMixed(t *testing.T) {
	e := NewExpect(SmallItems, MixedQueries...)
	s := e.Mixed("bench")
	if !s.Auth || len(s.Bodies) != mixedBlocks*MixedWriteEvery {
		t.Fatalf("mixed: auth %v, %d bodies; want auth and %d", s.Auth, len(s.Bodies), mixedBlocks*MixedWriteEvery)
	}
	kinds := map[string]int{}
	ids := map[string]bool{}
	terms := map[string]bool{}
	for i, b := range s.Bodies {
		isAdd := strings.Contains(b, "addItem")
		if isAdd != (i%MixedWriteEvery == MixedWriteEvery-1) {
			t.Fatalf("body %d is an add: %v; want one add every %d requests, last", i, isAdd, MixedWriteEvery)
		}
		switch {
		case isAdd:
			kinds[NameAdd]++
		case strings.Contains(b, "query Get("):
			kinds[NameGet]++
			ids[b] = true
		case strings.Contains(b, "query List "):
			kinds[NameList]++
		case strings.Contains(b, "query MixedDeep "):
			kinds[NameDeep]++
		case strings.Contains(b, "search(query:"):
			kinds[NameSearch]++
			terms[b] = true
		default:
			t.Fatalf("body %d is none of the mixed kinds: %s", i, b)
		}
	}
	if len(ids) != GetIDs || len(terms) != len(MixedQueries) || kinds[NameList] == 0 || kinds[NameDeep] == 0 {
		t.Errorf("mixed: %d IDs, %d search terms, kinds %v; want %d IDs, %d terms, every kind", len(ids), len(terms), kinds, GetIDs, len(MixedQueries))
	}
	for _, q := range MixedQueries {
		if n := e.Matches(q); n <= PageSize {
			t.Errorf("%q matches %d names, want more than a page", q, n)
		}
	}
	// Its deep page's total grows with the adds; Deep's alone does not.
	// The two differ in body, or the ceiling would give one the other's
	// answer.
	deep := slices.IndexFunc(s.Bodies, func(b string) bool { return strings.Contains(b, "query MixedDeep ") })
	if slices.Contains(s.Bodies, e.Deep().Bodies[0]) {
		t.Errorf("mixed holds deep's body")
	}
	answer := func(total int) []byte {
		var b strings.Builder
		fmt.Fprintf(&b, `{"data":{"items":{"totalCount":%d,"pageInfo":{"hasNextPage":true,"endCursor":"c%d"},"edges":[`, total, DeepPageSize)
		for i, it := range e.head[:DeepPageSize] {
			if i > 0 {
				b.WriteByte(',')
			}
			desc := "null"
			if it.Description != nil {
				desc = strconv.Quote(*it.Description)
			}
			fmt.Fprintf(&b, `{"cursor":"c%d","node":{"id":"%d","name":%q,"description":%s,"createdAt":"2026-01-01T00:00:00Z"}}`, i+1, it.ID, it.Name, desc)
		}
		b.WriteString(`]}}}`)
		return []byte(b.String())
	}
	if err := s.Check(deep, answer(SmallItems+7)); err != nil {
		t.Errorf("mixed refuses a deep page with items added: %v", err)
	}
	if err := e.Deep().Check(0, answer(SmallItems+7)); err == nil {
		t.Errorf("deep accepts a total above the dataset's")
	}
	if err := s.Check(deep, answer(SmallItems-1)); err == nil {
		t.Errorf("mixed accepts a total below the dataset's")
	}
	if err := s.Check(MixedWriteEvery-1, []byte(`{"data":{"addItem":{"id":"5","name":"bench mixed 000000"}}}`)); err == nil {
		t.Errorf("mixed accepts an added item with an ID within the dataset")
	}
	if err := s.Check(MixedWriteEvery-1, []byte(`{"data":{"addItem":{"id":"10005","name":"bench mixed 000000"}}}`)); err != nil {
		t.Errorf("mixed refuses a right add: %v", err)
	}
}
