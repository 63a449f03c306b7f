package graph

import "itemsapi/items"

// complexity returns the cost of each field for the complexity limit:
// every field costs 1, and a page multiplies the cost of its selection by
// the number of items it may hold.
func complexity() ComplexityRoot {
	var c ComplexityRoot
	c.Query.Items = func(child int, first *int, _ *string) int {
		return 1 + pageCost(first)*child
	}
	c.Query.Search = func(child int, _ *string, first *int, _ *string) int {
		return 1 + pageCost(first)*child
	}
	return c
}

// pageCost is the number of items a page with that `first` may hold,
// clamped to 0..MaxPageSize so that an out-of-range `first` is answered by
// the argument check rather than the cost limit.
func pageCost(first *int) int {
	if first == nil {
		return defaultPageSize
	}
	return min(max(*first, 0), items.MaxPageSize)
}
