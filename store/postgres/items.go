package postgres

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"itemsapi/items"
)

// itemColumns are the columns that scanItem reads, in its order.
const itemColumns = `id, name, description, created_at, coalesce(created_by, 0), updated_at, version`

// scanItem reads one row of itemColumns.
func scanItem(row pgx.Row) (items.Item, error) {
	var it items.Item
	if err := row.Scan(&it.ID, &it.Name, &it.Description, &it.CreatedAt, &it.CreatedByID, &it.UpdatedAt, &it.Version); err != nil {
		return items.Item{}, err
	}
	// TIMESTAMPTZ keeps microseconds, so the time needs no truncation.
	it.CreatedAt = it.CreatedAt.UTC()
	if it.UpdatedAt != nil {
		t := it.UpdatedAt.UTC()
		it.UpdatedAt = &t
	}
	return it, nil
}

// scanItems reads the rows of a query of itemColumns; it returns a non-nil
// slice.
func scanItems(rows pgx.Rows, capacity int) ([]items.Item, error) {
	defer rows.Close()
	page := make([]items.Item, 0, capacity)
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, err
		}
		page = append(page, it)
	}
	return page, rows.Err()
}

// checkText returns an error with code Invalid for text that PostgreSQL
// refuses: a NUL character, or bytes that are not UTF-8. The service
// validates its input earlier; this keeps such input from ever becoming an
// internal error.
func checkText(what, s string) error {
	if !utf8.ValidString(s) {
		return items.Errorf(items.Invalid, "%s is not valid UTF-8", what)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return items.Errorf(items.Invalid, "%s contains a NUL character", what)
	}
	return nil
}

// likeEscaper makes the characters special in a LIKE pattern (with ESCAPE
// '\') match literally.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// containsPattern returns the LIKE pattern that matches the folded names
// containing search.
func containsPattern(search string) string {
	return "%" + likeEscaper.Replace(items.FoldString(search)) + "%"
}

// Item implements items.Store.
func (s *Store) Item(ctx context.Context, id int64) (items.Item, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	it, err := scanItem(s.pool.QueryRow(ctx, `SELECT `+itemColumns+` FROM items WHERE id = $1`, id))
	return found("item", id, it, err)
}

// found returns v, read by ID, or the error of its read: NotFound when no
// row had that ID.
func found[T any](what string, id int64, v T, err error) (T, error) {
	var zero T
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return zero, items.Errorf(items.NotFound, "no %s with id %d", what, id)
	case err != nil:
		return zero, translate("read "+what, err)
	}
	return v, nil
}

// Items implements items.Store. It returns an error with code Invalid when
// q.Limit is outside 0 to items.MaxPageSize+1, or when q.Search is not
// valid UTF-8 or contains a NUL character.
//
// A search of three characters or more is served by the trigram index on
// name_folded; a shorter one reads the items in ID order until it has
// found a page. Search queries are planned for their pattern each time
// (QueryExecModeExec), since the best plan depends on how rare it is.
func (s *Store) Items(ctx context.Context, q items.ItemQuery) ([]items.Item, error) {
	if err := items.CheckLimit(q.Limit); err != nil {
		return nil, err
	}
	if err := checkText("query", q.Search); err != nil {
		return nil, err
	}
	if q.Limit == 0 {
		return []items.Item{}, nil
	}
	if q.Order != (items.Order{}) || q.Start != nil || q.End != nil || q.Last {
		return s.page(ctx, q)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	after := max(q.After, 0)
	var (
		rows pgx.Rows
		err  error
	)
	if q.Search == "" {
		rows, err = s.pool.Query(ctx,
			`SELECT `+itemColumns+` FROM items WHERE id > $1 ORDER BY id LIMIT $2`,
			after, q.Limit)
	} else {
		rows, err = s.pool.Query(ctx,
			`SELECT `+itemColumns+` FROM items
			WHERE name_folded LIKE $1 ESCAPE '\' AND id > $2
			ORDER BY id LIMIT $3`,
			pgx.QueryExecModeExec, containsPattern(q.Search), after, q.Limit)
	}
	if err != nil {
		return nil, translate("list items", err)
	}
	page, err := scanItems(rows, q.Limit)
	if err != nil {
		return nil, translate("list items", err)
	}
	return page, nil
}

// CountItems implements items.Store. It returns an error with code Invalid
// when search is not valid UTF-8 or contains a NUL character.
func (s *Store) CountItems(ctx context.Context, search string) (int, error) {
	if err := checkText("query", search); err != nil {
		return 0, err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var (
		n   int
		err error
	)
	if search == "" {
		err = s.pool.QueryRow(ctx, `SELECT count(*) FROM items`).Scan(&n)
	} else {
		err = s.pool.QueryRow(ctx, `SELECT count(*) FROM items WHERE name_folded LIKE $1 ESCAPE '\'`,
			pgx.QueryExecModeExec, containsPattern(search)).Scan(&n)
	}
	if err != nil {
		return 0, translate("count items", err)
	}
	return n, nil
}

// UpdateItem implements items.Store. One transaction locks the item's row,
// checks the update against the item as it is (u.Apply), writes it and
// its event: two processes updating one item take turns on the row, so
// that of two updates expecting the same version one fails with code
// Conflict. It fails with code Invalid for text PostgreSQL refuses.
func (s *Store) UpdateItem(ctx context.Context, id int64, u items.ItemUpdate) (items.Item, error) {
	var it items.Item
	err := s.change(ctx, items.ItemUpdated, id, func(tx pgx.Tx, old items.Item) error {
		var err error
		if it, err = u.Apply(old, time.Now()); err != nil {
			return err
		}
		if err := checkText("name", it.Name); err != nil {
			return err
		}
		if it.Description != nil {
			if err := checkText("description", *it.Description); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `
			WITH changed AS (
				UPDATE items SET name = $2, name_folded = $3, description = $4, updated_at = $5, version = $6
				WHERE id = $1
			)
			INSERT INTO events (kind, item_id, version, name, description, created_at, created_by, updated_at)
			VALUES ('item_updated', $1, $6, $2, $4, $7, nullif($8::bigint, 0), $5)`,
			it.ID, it.Name, items.FoldString(it.Name), it.Description, *it.UpdatedAt, it.Version, it.CreatedAt, it.CreatedByID)
		return err
	})
	if err != nil {
		return items.Item{}, err
	}
	return it, nil
}

// DeleteItem implements items.Store, as UpdateItem does.
func (s *Store) DeleteItem(ctx context.Context, id int64, d items.ItemDelete) error {
	return s.change(ctx, items.ItemDeleted, id, func(tx pgx.Tx, old items.Item) error {
		if err := d.Check(old); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			WITH gone AS (DELETE FROM items WHERE id = $1)
			INSERT INTO events (kind, item_id) VALUES ('item_deleted', $1)`, id)
		return err
	})
}

// change runs f in a transaction on the item with that ID, whose row it
// locks first, and commits when f succeeds; an *items.Error of f is
// returned as it is. An unknown ID fails with items.NoItem. The change is
// a write of kind in s.writes.
func (s *Store) change(ctx context.Context, kind items.EventKind, id int64, f func(tx pgx.Tx, old items.Item) error) error {
	w := s.writes.Begin(kind)
	err := s.changeTx(ctx, id, f)
	w.End(err)
	if err == nil {
		s.wakeStamper()
	}
	return err
}

// changeTx is change's transaction.
func (s *Store) changeTx(ctx context.Context, id int64, f func(tx pgx.Tx, old items.Item) error) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return translate("change item", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	old, err := scanItem(tx.QueryRow(ctx, `SELECT `+itemColumns+` FROM items WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return items.NoItem(id)
	}
	if err != nil {
		return translate("change item", err)
	}
	// The addition's event holds the ID alone until now (see addItemsSQL):
	// give it the item as added, before this change alters or removes it.
	if _, err := tx.Exec(ctx, `UPDATE events SET version = 1, name = $2, description = $3, created_at = $4, created_by = nullif($5::bigint, 0)
		WHERE item_id = $1 AND kind = 'item_added' AND name IS NULL`,
		old.ID, old.Name, old.Description, old.CreatedAt, old.CreatedByID); err != nil {
		return translate("change item", err)
	}
	if err := f(tx, old); err != nil {
		if e, ok := errors.AsType[*items.Error](err); ok {
			return e
		}
		return translate("change item", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return translate("change item", err)
	}
	return nil
}
