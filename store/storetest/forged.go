package storetest

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"itemsapi/items"
)

// testForgedPositions pages from positions that no item holds, at the
// ends of what a cursor can carry (graph/model.DecodePosition), as a
// client may forge them: IDs up to MaxInt64, names before and beyond
// every name, times of the years 1 and 9999. Each page, from either end
// of either side, is what the order says, never an error.
func testForgedPositions(t *testing.T, s items.Store) {
	AddItems(t, s, "a", "b\u007f", "ÿ", "😀")
	all := ReadAll(t, s, "", items.MaxPageSize+1)
	positions := map[items.OrderField][]items.Position{}
	for _, id := range []int64{1, 2, math.MaxInt64 - 1, math.MaxInt64} {
		positions[items.ByID] = append(positions[items.ByID], items.Position{ID: id})
		for _, name := range []string{"", "a", "Banana", "\U0010FFFF\U0010FFFF"} {
			positions[items.ByName] = append(positions[items.ByName], items.Position{ID: id, Name: name})
		}
		for _, tm := range []time.Time{
			time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.UnixMicro(-1).UTC(),
			time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		} {
			positions[items.ByUpdatedAt] = append(positions[items.ByUpdatedAt], items.Position{ID: id, Time: tm})
		}
	}
	for _, o := range Orders {
		want := Sorted(all, o)
		for _, p := range positions[o.Field] {
			for _, isEnd := range []bool{false, true} {
				var w []items.Item
				for _, it := range want {
					if c := o.Compare(o.PositionOf(it), p); isEnd && c < 0 || !isEnd && c > 0 {
						w = append(w, it)
					}
				}
				for _, last := range []bool{false, true} {
					q := items.ItemQuery{Order: o, Limit: items.MaxPageSize + 1, Last: last}
					if isEnd {
						q.End = &p
					} else {
						q.Start = &p
					}
					got, err := s.Items(t.Context(), q)
					if err != nil {
						t.Errorf("%s, Items(position %+v, end %v, last %v) = %v", OrderName(o), p, isEnd, last, err)
					} else if diff := cmp.Diff(IDs(w), IDs(got)); diff != "" {
						t.Errorf("%s, position %+v, end %v, last %v: IDs mismatch (-want +got):\n%s", OrderName(o), p, isEnd, last, diff)
					}
				}
			}
		}
	}
}
