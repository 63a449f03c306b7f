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
// order (the table's key for ID, the tables of migration 0010 for the
// others, with the few items above their watermark: see pageSQL), which
// SQLite reads forward or backward, and row values compare (value, id)
// against the cursor as the index does.

// orderKey returns the SQL expression of o's field, of a row of items.
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
// and its arguments. In ID order it reads a range of the table. In the
// orders NAME and UPDATED_AT it reads a range of the order's index table
// (migration 0010), which holds the items up to search_indexed.up_to, and
// the items above that, which are few (index.go) and which it sorts, and
// it merges the two: each gives at most the page, so the merge sorts two
// pages at most. One statement reads both, so from one snapshot.
func pageSQL(q items.ItemQuery) (string, []any) {
	o := q.Order
	limit := q.Limit
	if o.Field == items.ByID {
		where, args := keyset(q, "id", "id")
		_, dir := q.SQL()
		return `SELECT ` + itemColumns + ` FROM items` + where + ` ORDER BY id` + dir + ` LIMIT ?`, append(args, limit)
	}
	table, column := "items_by_name", "name"
	if o.Field == items.ByUpdatedAt {
		table, column = "items_by_changed", "changed"
	}
	_, dir := q.SQL()
	indexed, args := keyset(q, "x."+column, "x.id")
	tail, tailArgs := keyset(q, orderKey(o), "id")
	if tail == "" {
		tail = " WHERE "
	} else {
		tail += " AND "
	}
	tail += "id > (SELECT up_to FROM search_indexed)"
	args = append(args, limit)
	args = append(args, tailArgs...)
	args = append(args, limit, limit)
	return `SELECT ` + itemColumns + ` FROM (
		SELECT * FROM (SELECT ` + qualified("i", itemColumns) + `, x.` + column + ` AS k FROM ` + table + ` x
			CROSS JOIN items i ON i.id = x.id` + indexed + `
			ORDER BY x.` + column + dir + `, x.id` + dir + ` LIMIT ?)
		UNION ALL
		SELECT * FROM (SELECT ` + itemColumns + `, ` + orderKey(o) + ` AS k FROM items` + tail + `
			ORDER BY k` + dir + `, id` + dir + ` LIMIT ?))
		ORDER BY k` + dir + `, id` + dir + ` LIMIT ?`, args
}

// keyset returns the WHERE clause (empty for none) that keeps the rows of
// q's range, between its cursors, whose position in q.Order is (key, id),
// and its arguments.
func keyset(q items.ItemQuery, key, id string) (string, []any) {
	o := q.Order
	start, end := q.Bounds()
	where, args := "", []any{}
	past, _ := q.SQL()
	bound := func(p *items.Position, start bool) {
		if p == nil {
			return
		}
		if where == "" {
			where = " WHERE "
		} else {
			where += " AND "
		}
		op := past(start)
		if o.Field == items.ByID {
			where += id + " " + op + " ?"
		} else {
			where += "(" + key + ", " + id + ") " + op + " (?, ?)"
		}
		args = append(args, keyArgs(o, *p)...)
	}
	bound(start, true)
	bound(end, false)
	return where, args
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
