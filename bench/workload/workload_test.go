package workload

import (
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
	e := NewExpect(SmallItems, CommonQuery, Marker)
	for _, name := range []string{NameList, NameListDesc, NameGet, NameSearch, NameSearchRare, NameDeep, NameUpdate, NameAdd, NameCounts} {
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
