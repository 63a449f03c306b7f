package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// The trigram index is written in steps (migration 0003): indexTail adds
// to it, in one statement and so one flush, every item above
// search_indexed.up_to; and to the indexes of the orders NAME and
// UPDATED_AT (migration 0010), which pages read likewise (pages.go). The
// writer runs a step at most indexInterval after the last, and whenever it
// is idle; Import runs one after each batch. A search reads the index for
// the items up to the indexed ID it last knew (Store.indexed) and scans
// the items above it (search.go), so that it never misses an item the
// index does not hold yet.
//
// Each step adds a segment to the trigram index, which FTS5 merges only
// when told (migration 0002). When idle, the writer merges narrowly
// (usermerge 4: a level is merged once it holds 4 segments), which leaves
// few segments for a search to read. Under load, each step also merges a
// little (loadMerge), widely (usermerge 16: each posting is written again
// about half as often), which lets the merging keep up with some 9,000
// additions a second on the writer's one CPU, and keeps FTS5's own merge
// of a whole level (migration 0012) from holding up a step. Store.merges
// tells which of the two this process last set.

// indexInterval is the longest the writer lets new items wait outside the
// trigram index while items keep coming.
const indexInterval = 50 * time.Millisecond

// The merging of the trigram index (see above). A 'merge' of 32 pages
// takes some 2 ms at half a million items.
const (
	loadMerge    = `INSERT INTO items_fts (items_fts, rank) VALUES ('merge', 32)`
	wideMerges   = `INSERT INTO items_fts (items_fts, rank) VALUES ('usermerge', 16)`
	narrowMerges = `INSERT INTO items_fts (items_fts, rank) VALUES ('usermerge', 4)`
)

// indexTail adds the items not yet in the trigram index to it, and raises
// s.indexed. Every process sharing the file may run it: the write lock,
// taken at BEGIN, orders them, and each adds what the others have not.
func (s *Store) indexTail(ctx context.Context) error {
	return s.indexStep(ctx, false)
}

// indexStep is indexTail; with underLoad, the writer's step under load,
// which merges too.
func (s *Store) indexStep(ctx context.Context, underLoad bool) error {
	var upTo int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, st := range []*sql.Stmt{s.indexFTS, s.indexByName, s.indexByChanged} {
			if _, err := tx.StmtContext(ctx, st).ExecContext(ctx); err != nil {
				return err
			}
		}
		if underLoad {
			if err := s.setMerges(ctx, tx, mergesWide); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, loadMerge); err != nil {
				return err
			}
		}
		return tx.StmtContext(ctx, s.indexRaise).QueryRowContext(ctx).Scan(&upTo)
	})
	if underLoad {
		s.mergesSet(mergesWide, err)
	}
	if err != nil {
		return translate(ctx, "index", err)
	}
	s.raiseIndexed(upTo)
	return nil
}

// mergeMode is how widely the trigram index is merged: its usermerge.
type mergeMode int32

const (
	mergesUnknown mergeMode = iota
	mergesNarrow
	mergesWide
)

// setMerges makes tx set the index's usermerge for m, unless this process
// knows it is set so: the setting is the file's, and another process
// sharing it may change it, which changes how much merging does, never
// what a search finds. The caller reports the outcome with mergesSet.
func (s *Store) setMerges(ctx context.Context, tx *sql.Tx, m mergeMode) error {
	if mergeMode(s.merges.Load()) == m {
		return nil
	}
	q := narrowMerges
	if m == mergesWide {
		q = wideMerges
	}
	_, err := tx.ExecContext(ctx, q)
	return err
}

// mergesSet records that the transaction of setMerges(m) ended with err.
func (s *Store) mergesSet(m mergeMode, err error) {
	if err != nil {
		m = mergesUnknown
	}
	s.merges.Store(int32(m))
}

// loadIndexed reads how far the trigram index goes.
func (s *Store) loadIndexed(ctx context.Context) error {
	var upTo int64
	if err := s.w.QueryRowContext(ctx, `SELECT up_to FROM search_indexed`).Scan(&upTo); err != nil {
		return translate(ctx, "open", err)
	}
	s.raiseIndexed(upTo)
	return nil
}

// raiseIndexed raises s.indexed to upTo, never lowers it.
func (s *Store) raiseIndexed(upTo int64) {
	for {
		cur := s.indexed.Load()
		if upTo <= cur || s.indexed.CompareAndSwap(cur, upTo) {
			return
		}
	}
}

// indexStatements returns the statements of indexTail, prepared on the
// writer's connection: it runs at every pause of the writer.
func (s *Store) indexStatements() []statement {
	return []statement{
		{"indexFTS", &s.indexFTS, s.w, `INSERT INTO items_fts (rowid, name_folded)
			SELECT id, name_folded FROM items WHERE id > (SELECT up_to FROM search_indexed) ORDER BY id`},
		// The indexes of the orders (migration 0010).
		{"indexByName", &s.indexByName, s.w, `INSERT INTO items_by_name (name, id)
			SELECT name, id FROM items WHERE id > (SELECT up_to FROM search_indexed)`},
		{"indexByChanged", &s.indexByChanged, s.w, `INSERT INTO items_by_changed (changed, id)
			SELECT coalesce(updated_at, created_at), id FROM items WHERE id > (SELECT up_to FROM search_indexed)`},
		{"indexRaise", &s.indexRaise, s.w, `UPDATE search_indexed
			SET up_to = max(up_to, (SELECT coalesce(max(id), 0) FROM items)) RETURNING up_to`},
	}
}
