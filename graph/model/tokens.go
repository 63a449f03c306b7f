package model

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"

	"itemsapi/items"
)

// TokenConnection is one page of tokens, as ItemConnection is of items.
type TokenConnection struct {
	Page        []items.Token
	HasNext     bool
	HasPrevious bool
	Count       func(ctx context.Context) (int, error)
}

// Nodes returns the tokens of the page.
func (c TokenConnection) Nodes() []items.Token { return c.Page }

// Edges returns the tokens of the page with their cursors.
func (c TokenConnection) Edges() []TokenEdge {
	edges := make([]TokenEdge, len(c.Page))
	for i, t := range c.Page {
		edges[i] = TokenEdge{Cursor: EncodeTokenCursor(t.ID), Node: t}
	}
	return edges
}

// PageInfo says where the page stands.
func (c TokenConnection) PageInfo() PageInfo {
	p := PageInfo{HasNextPage: c.HasNext, HasPreviousPage: c.HasPrevious}
	if n := len(c.Page); n > 0 {
		start, end := EncodeTokenCursor(c.Page[0].ID), EncodeTokenCursor(c.Page[n-1].ID)
		p.StartCursor, p.EndCursor = &start, &end
	}
	return p
}

// TotalCount returns how many tokens match on every page.
func (c TokenConnection) TotalCount(ctx context.Context) (int, error) {
	return c.Count(ctx)
}

// TokenEdge is one token of a page with its cursor.
type TokenEdge struct {
	Cursor string
	Node   items.Token
}

const tokenCursorPrefix = "token:"

// EncodeTokenCursor returns the opaque cursor of the token with that ID.
func EncodeTokenCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tokenCursorPrefix + strconv.FormatInt(id, 10)))
}

// DecodeTokenCursor returns the token ID that a cursor made by
// EncodeTokenCursor holds. Anything else, an item's cursor included, fails
// with code items.Invalid.
func DecodeTokenCursor(cursor string) (int64, error) {
	bad := items.Errorf(items.Invalid, "malformed cursor: pass a cursor from a previous page of tokens")
	if len(cursor) > 40 || strings.ContainsAny(cursor, "\r\n=") {
		return 0, bad
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(cursor)
	if err != nil {
		return 0, bad
	}
	digits, ok := strings.CutPrefix(string(raw), tokenCursorPrefix)
	if !ok || digits == "" || digits[0] == '0' || len(digits) > 19 || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, bad
	}
	id, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, bad
	}
	return id, nil
}
