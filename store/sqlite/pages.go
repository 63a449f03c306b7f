package sqlite

import (
	"context"
	"math"
	"slices"

	"itemsapi/items"
)

// The pages that are not the next page in ID order (see Items) are read
// by keyset queries: a range of the order's index from the cursor on, in
// the direction the page is taken in, up to the limit. No OFFSET, and no
// sort of the matching rows: each order has an index whose order is its
// order (migration 0006), which SQLite reads forward or backward, and row
// values compare (value, id) against the cursor as the index does.

// orderKey returns the SQL expression of o's field, as its index holds it.
func orderKey(o items.Order) string {
	switch o.Field {
	case items.ByName:
		return "name"
	case items.ByUpdatedAt:
		return "coalesce(updated_at, created_at)"
	}
	return "id"
}

// keyArgs returns the arguments that compare with (orderKey(o), id) at p.
func keyArgs(o items.Order, p items.Position) []any {
	switch o.Field {
	case items.ByName:
		return []any{p.Name, p.ID}
	case items.ByUpdatedAt:
		return []any{p.Time.UnixMicro(), p.ID}
	}
	return []any{p.ID}
}

// pageSQL returns the keyset query of a page of q, which has no search,
// and its arguments.
func pageSQL(q items.ItemQuery) (string, []any) {
	o := q.Order
	start, end := q.Bounds()
	key := "(" + orderKey(o) + ", id)"
	if o.Field == items.ByID {
		key = "id"
	}
	where, args := "", []any{}
	past, dir := q.SQL()
	bound := func(p *items.Position, start bool) {
		if p == nil {
			return
		}
		op := past(start)
		ph := "(?, ?)"
		if o.Field == items.ByID {
			ph = "?"
		}
		if where == "" {
			where = " WHERE "
		} else {
			where += " AND "
		}
		if o.Field == items.ByUpdatedAt {
			// SQLite takes a row value as a range of an index of columns,
			// not of an expression: spelled out, the first term is one.
			k := orderKey(o)
			where += k + " " + op + "= ? AND (" + k + " " + op + " ? OR id " + op + " ?)"
			t := p.Time.UnixMicro()
			args = append(args, t, t, p.ID)
			return
		}
		where += key + " " + op + " " + ph
		args = append(args, keyArgs(o, *p)...)
	}
	bound(start, true)
	bound(end, false)
	orderBy := " ORDER BY " + orderKey(o) + dir
	if o.Field != items.ByID {
		orderBy += ", id" + dir
	}
	args = append(args, q.Limit)
	return `SELECT ` + itemColumns + ` FROM items` + where + orderBy + ` LIMIT ?`, args
}

// page reads a page of q, which has no search, by its keyset query.
func (s *Store) page(ctx context.Context, q items.ItemQuery) ([]items.Item, error) {
	query, args := pageSQL(q)
	page, err := s.query(ctx, make([]items.Item, 0, q.Limit), query, args...)
	if err != nil {
		return nil, err
	}
	if q.Last {
		slices.Reverse(page)
	}
	return page, nil
}

// query appends to page the items that query reads with args.
func (s *Store) query(ctx context.Context, page []items.Item, query string, args ...any) ([]items.Item, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	return scanRows(ctx, "items", page, scanItem, rows, err)
}

// searchPage reads a page of a search in ID order, ascending or
// descending, from the start or (Last) from the end of the range the
// cursors leave: the trigram index up to the indexed ID, then the items
// above it scanned, in the direction of the reading.
func (s *Store) searchPage(ctx context.Context, q items.ItemQuery) ([]items.Item, error) {
	start, end := q.Bounds()
	// The IDs of the range, exclusive: lo < id < hi.
	lo, hi := int64(0), int64(math.MaxInt64)
	if q.Order.Desc {
		start, end = end, start
	}
	if start != nil {
		lo = max(lo, start.ID)
	}
	if end != nil {
		hi = min(hi, end.ID)
	}
	desc := q.Order.Desc != q.Last
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	p := planSearch(q.Search)
	page := make([]items.Item, 0, q.Limit)
	scan := func(page []items.Item, lo, hi int64) ([]items.Item, error) {
		if lo+1 >= hi || len(page) == q.Limit {
			return page, nil
		}
		return s.query(ctx, page, `SELECT `+itemColumns+` FROM items
			WHERE id > ? AND id < ? AND instr(name_folded, ?) > 0 ORDER BY id`+dir+` LIMIT ?`,
			lo, hi, p.folded, q.Limit-len(page))
	}
	index := func(page []items.Item, lo, hi int64) ([]items.Item, error) {
		if lo+1 >= hi || len(page) == q.Limit {
			return page, nil
		}
		return s.query(ctx, page, `SELECT `+qualified("i", itemColumns)+`
			FROM items_fts f CROSS JOIN items i ON i.id = f.rowid
			WHERE f.items_fts MATCH ? AND f.rowid > ? AND f.rowid < ? AND instr(i.name_folded, ?) > 0
			ORDER BY f.rowid`+dir+` LIMIT ?`, p.match, lo, hi, p.folded, q.Limit-len(page))
	}
	var err error
	switch indexed := s.indexed.Load(); {
	case p.match == "":
		page, err = scan(page, lo, hi)
	case desc:
		if page, err = scan(page, max(lo, indexed), hi); err == nil {
			page, err = index(page, lo, min(hi, indexed+1))
		}
	default:
		if page, err = index(page, lo, min(hi, indexed+1)); err == nil {
			page, err = scan(page, max(lo, indexed), hi)
		}
	}
	if err != nil {
		return nil, err
	}
	if q.Last {
		slices.Reverse(page)
	}
	return page, nil
}
