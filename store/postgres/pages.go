package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"itemsapi/items"
)

// The pages that are not the next page in ID order are read by keyset
// queries: a range of the order's index (migration 0011) from the cursor
// on, read forward or backward, up to the limit; row values compare
// (value, id) with the cursor as the index orders them. A search stays in
// ID order.

// orderKey returns the SQL expression of o's field, as its index holds it.
func orderKey(o items.Order) string {
	switch o.Field {
	case items.ByName:
		return `(name COLLATE "C")`
	case items.ByUpdatedAt:
		return "(coalesce(updated_at, created_at))"
	}
	return "id"
}

// pageSQL returns the keyset query of a page of q and its arguments.
func pageSQL(q items.ItemQuery) (string, []any) {
	o := q.Order
	if q.Search != "" {
		o.Field = items.ByID
	}
	start, end := q.Bounds()
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if q.Search != "" {
		where = append(where, `name_folded LIKE `+arg(containsPattern(q.Search))+` ESCAPE '\'`)
	}
	past, dir := q.SQL()
	bound := func(p *items.Position, start bool) {
		if p == nil {
			return
		}
		op := past(start)
		switch o.Field {
		case items.ByName:
			where = append(where, "("+orderKey(o)+", id) "+op+" ("+arg(p.Name)+` COLLATE "C", `+arg(p.ID)+")")
		case items.ByUpdatedAt:
			where = append(where, "("+orderKey(o)+", id) "+op+" ("+arg(p.Time)+"::timestamptz, "+arg(p.ID)+")")
		default:
			where = append(where, "id "+op+" "+arg(p.ID))
		}
	}
	bound(start, true)
	bound(end, false)
	sql := `SELECT ` + itemColumns + ` FROM items`
	for i, w := range where {
		if i == 0 {
			sql += " WHERE " + w
		} else {
			sql += " AND " + w
		}
	}
	sql += " ORDER BY " + orderKey(o) + dir
	if o.Field != items.ByID {
		sql += ", id" + dir
	}
	return sql + " LIMIT " + arg(q.Limit), args
}

// page reads a page of q by its keyset query.
func (s *Store) page(ctx context.Context, q items.ItemQuery) ([]items.Item, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	query, args := pageSQL(q)
	if q.Search != "" {
		// Planned for the pattern, as the other searches are.
		args = append([]any{pgx.QueryExecModeExec}, args...)
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, translate("list items", err)
	}
	page, err := scanItems(rows, q.Limit)
	if err != nil {
		return nil, translate("list items", err)
	}
	if q.Last {
		slices.Reverse(page)
	}
	return page, nil
}
