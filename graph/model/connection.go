// Package model holds the GraphQL types that have no domain counterpart:
// the Relay connection around a page of items, and its cursors.
package model

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"

	"itemsapi/gqlspec/scalar"
	"itemsapi/items"
)

// ItemConnection is one page of items. Its fields are computed from the
// page when a client selects them; TotalCount asks the store only then.
type ItemConnection struct {
	// Page holds the items of this page, oldest first.
	Page []items.Item
	// HasNext reports whether items follow the page.
	HasNext bool
	// HasPrevious reports whether items come before the page.
	HasPrevious bool
	// Count returns the number of matching items on every page.
	Count func(ctx context.Context) (int, error)
	// Order is the order of the page, which its cursors name.
	Order items.Order
}

// Nodes returns the items of the page.
func (c ItemConnection) Nodes() []items.Item { return c.Page }

// Edges returns the items of the page with their cursors.
func (c ItemConnection) Edges() []ItemEdge {
	edges := make([]ItemEdge, len(c.Page))
	for i, it := range c.Page {
		edges[i] = ItemEdge{Node: it, Order: c.Order}
	}
	return edges
}

// PageInfo says where the page stands.
func (c ItemConnection) PageInfo() PageInfo {
	p := PageInfo{HasNextPage: c.HasNext, HasPreviousPage: c.HasPrevious}
	if n := len(c.Page); n > 0 {
		start, end := EncodePosition(c.Order, c.Page[0]), EncodePosition(c.Order, c.Page[n-1])
		p.StartCursor, p.EndCursor = &start, &end
	}
	return p
}

// TotalCount returns how many items match on every page.
func (c ItemConnection) TotalCount(ctx context.Context) (int, error) {
	return c.Count(ctx)
}

// ItemEdge is one item of a page with its cursor, which it computes
// when asked.
type ItemEdge struct {
	Node items.Item
	// Order is the order of the page, which the cursor names.
	Order items.Order
}

// Cursor returns the cursor of the edge's item.
func (e ItemEdge) Cursor() string { return EncodePosition(e.Order, e.Node) }

// AppendCursor appends the cursor to dst, as Cursor returns it: the
// compiled plans write it without a string of its own (gqlspec/plan).
func (e *ItemEdge) AppendCursor(dst []byte) []byte { return AppendPosition(dst, e.Order, &e.Node) }

// PageInfo says where a page stands in the whole list.
type PageInfo struct {
	HasNextPage     bool
	HasPreviousPage bool
	StartCursor     *string
	EndCursor       *string
}

// cursorPrefix versions the cursor format; cursors stay opaque to clients.
const cursorPrefix = "item:"

// EncodeCursor returns the opaque cursor of the item with that ID.
func EncodeCursor(id int64) string {
	var buf [len(cursorPrefix) + 20]byte
	b := append(buf[:0], cursorPrefix...)
	b = strconv.AppendInt(b, id, 10)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor returns the item ID that a cursor made by EncodeCursor
// holds. Anything else fails with code items.Invalid.
func DecodeCursor(cursor string) (int64, error) {
	bad := items.Errorf(items.Invalid, "malformed cursor: pass a cursor from a previous page's edges or pageInfo")
	if len(cursor) > 40 {
		return 0, bad
	}
	for i := 0; i < len(cursor); i++ {
		// The decoder skips line breaks; a cursor has none.
		if c := cursor[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return 0, bad
		}
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(cursor)
	if err != nil {
		return 0, bad
	}
	digits, ok := strings.CutPrefix(string(raw), cursorPrefix)
	if !ok {
		return 0, bad
	}
	id, err := scalar.ParseID(digits) // as EncodeCursor writes it
	if err != nil {
		return 0, bad
	}
	return id, nil
}
