// Package sqlite is the embedded items.Store: one SQLite file, through the
// pure Go driver modernc.org/sqlite. One server process serves a file; its
// subscribers see the items that process adds.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"itemsapi/internal/fresh"
	"itemsapi/items"
	"itemsapi/pubsub"
)

// busyTimeout is how long a connection waits for a lock that another
// connection (or process) holds before it gives up with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// Store is an items.Store and items.Broker over one SQLite file, safe for
// concurrent use. Writes go through one connection, so that they queue in Go
// instead of failing on a lock; reads go through a pool of read-only
// connections, which WAL lets run while a write is under way. The items of
// AddItem go through one goroutine, the writer, which stores those of
// concurrent calls in one transaction (see write).
type Store struct {
	w *sql.DB // one connection, for every write
	r *sql.DB // read-only connections
	// log delivers added items to subscribers; the writer appends to it.
	log *pubsub.Log
	// writes records the writes of items (see items.Writes): only this
	// process writes items to the file.
	writes *items.Writes

	// AddItem hands its item to the writer through adds, unbuffered, so
	// that the writer has taken an item or not. Import tells the writer
	// through imported that the index has new segments to merge. Close
	// closes closing to stop the writer, which closes written when it has.
	adds     chan *addRequest
	imported chan struct{}
	closing  chan struct{}
	written  chan struct{}
	// indexed is the highest item ID known to be in the trigram index
	// (see index.go).
	indexed atomic.Int64
	// merges is the mergeMode that this process last set (index.go).
	merges atomic.Int32

	insertItems *sql.Stmt // on w
	logHead     *sql.Stmt // on w

	// indexTail's (index.go), on w
	indexFTS, indexByName, indexByChanged, indexRaise *sql.Stmt
	// change's (writer.go), on w
	changeRow, keepAdded, updateRow, renameRow, updatedEvent, deleteRow, deletedEvent *sql.Stmt

	item        *sql.Stmt // on r, as are the others
	items       *sql.Stmt
	searchScan  *sql.Stmt
	searchIndex *sql.Stmt
	count       *sql.Stmt
	countScan   *sql.Stmt
	countIndex  *sql.Stmt
	// countChecked counts the names that the index matches and that hold
	// the search text: for a searchPlan that is not exact.
	countChecked *sql.Stmt
	countTail    *sql.Stmt
	tokenByHash  *sql.Stmt
	// revision shares the reads of the token revision among the requests
	// of the moment (see TokenRevision), which revisions makes.
	revision   *fresh.Read[int64]
	revisions  *revisionReader
	users      *sql.Stmt
	readEvents *sql.Stmt
	readAdded  *sql.Stmt
	addedAfter *sql.Stmt
	lastID     *sql.Stmt
	eventOf    *sql.Stmt
	addedUpTo  *sql.Stmt
	stmts      []*sql.Stmt // all of the above that are prepared, to close

	closeOnce sync.Once
	closeErr  error

	// clock, when set (SetClock), replaces the system's for roles and
	// expiry.
	clock items.SettableClock
}

var (
	_ items.Store  = (*Store)(nil)
	_ items.Broker = (*Store)(nil)
)

// Open opens the SQLite database at path, a file name (the server's
// sqlite:items.db means items.db), creating it if need be, and migrates it
// to the newest schema. A new database holds the demo items. Open fails for
// an empty path, for ":memory:" (readers and the writer would each see a
// database of their own) and for a "file:" URI (path is a plain file name,
// whatever characters it holds), and with an error that wraps
// ErrNewerSchema for a database a newer program has migrated.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: %q is not a file path", path)
	}
	s := &Store{writes: items.NewWrites(false)}
	s.revision = fresh.New(s.readRevision)
	if err := s.open(ctx, path); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) open(ctx context.Context, path string) error {
	var err error
	if s.w, err = sql.Open("sqlite", dsn(path, false)); err != nil {
		return fmt.Errorf("sqlite: open %s: %v", path, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxIdleTime(0)
	s.w.SetConnMaxLifetime(0)
	if err := connect(ctx, s.w); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, translate(ctx, "connect", err))
	}
	if err := migrate(ctx, s.w); err != nil {
		return fmt.Errorf("sqlite: %s: %w", path, err)
	}
	if err := s.loadIndexed(ctx); err != nil {
		return fmt.Errorf("sqlite: %s: %w", path, err)
	}

	if s.r, err = sql.Open("sqlite", dsn(path, true)); err != nil {
		return fmt.Errorf("sqlite: open %s: %v", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(n)
	s.r.SetMaxIdleConns(n)

	if err := s.prepare(ctx); err != nil {
		return err
	}
	if s.revisions, err = openRevisionReader(ctx, path); err != nil {
		return err
	}
	var head int64
	if err := s.w.QueryRowContext(ctx, logHeadQuery).Scan(&head); err != nil {
		return translate(ctx, "open the log", err)
	}
	s.log = pubsub.New(s.events, head, pubsub.Options{})
	s.startWriter()
	return nil
}

// logHeadQuery reads the position of the newest event of the log: the events
// table's newest, or the addition of the last item that has one (the
// positions of the additions follow the IDs), whichever is greater.
const logHeadQuery = `SELECT max(coalesce((SELECT max(pos) FROM events), 0),
	coalesce((SELECT added_pos FROM items WHERE added_pos IS NOT NULL ORDER BY id DESC LIMIT 1), 0))`

// events reads the log (migration 0009): the events table, which holds
// the changes and the additions of the items changed since, merged by
// position with the items never changed, which are their own additions
// (items.added_pos). The one writer assigns positions in commit order,
// and the positions of the additions follow the IDs. Both are read in
// one transaction, so from one snapshot: then each holds every event of
// its kind up to the last it returns, and the events up to the first of
// those two lasts are all there. It may return fewer than limit events
// when more are there; never none unless there are none.
func (s *Store) events(ctx context.Context, after int64, limit int) (_ []items.Event, err error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, translate(ctx, "events", err)
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.StmtContext(ctx, s.readEvents).QueryContext(ctx, after, limit)
	changes, err := scanRows(ctx, "events", make([]items.Event, 0, limit), scanEvent, rows, err)
	if err != nil {
		return nil, err
	}
	from, err := s.firstAddedAfter(ctx, tx, after)
	if err != nil {
		return nil, translate(ctx, "events", err)
	}
	rows, err = tx.StmtContext(ctx, s.readAdded).QueryContext(ctx, from, limit)
	added, err := scanRows(ctx, "events", make([]addedRow, 0, limit), scanAdded, rows, err)
	if err != nil {
		return nil, err
	}
	// Up to where both are complete.
	upTo := int64(math.MaxInt64)
	if len(changes) == limit {
		upTo = changes[len(changes)-1].Pos
	}
	if len(added) == limit {
		upTo = min(upTo, added[len(added)-1].pos)
	}
	events := make([]items.Event, 0, limit)
	i := 0
	for _, a := range added {
		if a.pos > upTo {
			break
		}
		for i < len(changes) && changes[i].Pos < a.pos {
			events = append(events, changes[i])
			i++
		}
		if a.item.Version != 1 {
			continue // changed: its addition is in the events table
		}
		events = append(events, items.Event{Pos: a.pos, Kind: items.ItemAdded, Item: a.item})
	}
	for i < len(changes) && changes[i].Pos <= upTo {
		events = append(events, changes[i])
		i++
	}
	return events[:min(len(events), limit)], nil
}

// firstAddedAfter returns the least ID of an item whose addition is after
// position after, by a binary search of the IDs (the positions of the
// additions follow them): a row read by its ID at each step.
func (s *Store) firstAddedAfter(ctx context.Context, tx *sql.Tx, after int64) (int64, error) {
	probe := tx.StmtContext(ctx, s.addedAfter)
	var lo, hi int64 = 0, math.MaxInt64 // the answer is in [lo, hi]
	var last int64
	if err := tx.StmtContext(ctx, s.lastID).QueryRowContext(ctx).Scan(&last); err != nil {
		return 0, err
	}
	hi = last + 1 // none above the last
	for lo < hi {
		m := lo + (hi-lo)/2
		var id, pos int64
		err := probe.QueryRowContext(ctx, m).Scan(&id, &pos)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			hi = m // none from m on
		case err != nil:
			return 0, err
		case pos > after:
			hi = m // the first from m on is after: the answer is at most m
		default:
			lo = id + 1
		}
	}
	return lo, nil
}

// addedRow is an item and the position of its addition.
type addedRow struct {
	pos  int64
	item items.Item
}

// scanAdded reads itemColumns and added_pos.
func scanAdded(row scanner) (addedRow, error) {
	var (
		r   itemRow
		pos int64
	)
	if err := row.Scan(append(r.dest(), &pos)...); err != nil {
		return addedRow{}, err
	}
	return addedRow{pos: pos, item: r.item()}, nil
}

// scanEvent reads a row of the events table: position, kind, then
// itemColumns.
func scanEvent(row scanner) (items.Event, error) {
	var (
		e    items.Event
		kind int
		r    itemRow
	)
	if err := row.Scan(append([]any{&e.Pos, &kind}, r.dest()...)...); err != nil {
		return items.Event{}, err
	}
	e.Kind = items.EventKind(kind)
	e.Item = items.Item{ID: r.id}
	if e.Kind != items.ItemDeleted {
		e.Item = r.item()
	}
	return e, nil
}

// prepare prepares the statements of s.
func (s *Store) prepare(ctx context.Context) error {
	for _, p := range slices.Concat(s.statements(), s.indexStatements(), s.changeStatements()) {
		st, err := p.db.PrepareContext(ctx, p.query)
		if err != nil {
			return translate(ctx, "prepare "+p.name, err)
		}
		*p.stmt = st
		s.stmts = append(s.stmts, st)
	}
	return nil
}

// statement is a statement of the store, to prepare.
type statement struct {
	name  string
	stmt  **sql.Stmt
	db    *sql.DB
	query string
}

// statements returns the statements of s.
func (s *Store) statements() []statement {
	const columns = itemColumns
	return []statement{
		// One statement for a whole batch of items, read from a JSON array
		// of objects (see newRow) in order. jsonb_each, not json_each:
		// json_each hands each object over as text, which each ->> of a
		// column parses again (1.4 µs of CPU per item added, measured in
		// process with 32 callers).
		//
		// Each item holds the position of its addition (migration 0009):
		// from ?2 on, in order (key is the index in the array).
		{"insertItems", &s.insertItems, s.w, `INSERT INTO items (` + strings.Join(newRowColumns, ", ") + `, added_pos)
			SELECT ` + fromJSON(newRowColumns) + `, ?2 + key FROM jsonb_each(?1) ORDER BY key`},
		{"logHead", &s.logHead, s.w, logHeadQuery},
		{"item", &s.item, s.r, `SELECT ` + columns + ` FROM items WHERE id = ?`},
		{"items", &s.items, s.r, `SELECT ` + columns + ` FROM items WHERE id > ? ORDER BY id LIMIT ?`},
		// instr compares literally: % _ \ and quotes in a search need no
		// escaping, unlike in a LIKE pattern.
		{"searchScan", &s.searchScan, s.r, `SELECT ` + columns + ` FROM items
			WHERE id > ? AND instr(name_folded, ?) > 0 ORDER BY id LIMIT ?`},
		// The index yields the matching IDs in order from after on, up to
		// the indexed ID, and stops with the page. instr checks each name
		// read, for a search that the index alone does not decide; for the
		// others, which it decides, the check costs next to nothing.
		{"searchIndex", &s.searchIndex, s.r, `SELECT ` + qualified("i", columns) + `
			FROM items_fts f CROSS JOIN items i ON i.id = f.rowid
			WHERE f.items_fts MATCH ? AND f.rowid > ? AND f.rowid <= ? AND instr(i.name_folded, ?) > 0
			ORDER BY f.rowid LIMIT ?`},
		// The number of items, which triggers keep (migration 0008).
		{"count", &s.count, s.r, `SELECT seq FROM sqlite_sequence WHERE name = 'items count'`},
		{"countScan", &s.countScan, s.r, `SELECT count(*) FROM items WHERE instr(name_folded, ?) > 0`},
		{"countIndex", &s.countIndex, s.r, `SELECT count(*) FROM items_fts WHERE items_fts MATCH ? AND rowid <= ?`},
		{"countChecked", &s.countChecked, s.r, `SELECT count(*) FROM items_fts f CROSS JOIN items i ON i.id = f.rowid
			WHERE f.items_fts MATCH ? AND f.rowid <= ? AND instr(i.name_folded, ?) > 0`},
		// The items above the indexed ID, which the index does not hold.
		{"countTail", &s.countTail, s.r, `SELECT count(*) FROM items WHERE id > ? AND instr(name_folded, ?) > 0`},
		{"tokenByHash", &s.tokenByHash, s.r, `SELECT ` + tokenColumns + `, u.name, ` + userRole + `
			FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?2`},
		{"users", &s.users, s.r, `SELECT u.id, u.name, ` + userRole + ` FROM users u
			WHERE u.id IN (SELECT value FROM json_each(?2))`},
		// The events table part of the log (see events).
		{"readEvents", &s.readEvents, s.r, `SELECT pos, kind, item_id, name, description, created_at, created_by, updated_at, version
			FROM events WHERE pos > ? ORDER BY pos LIMIT ?`},
		// The items from an ID on that have a position (those inserted
		// by hand have none), with it: the additions part of the log.
		{"readAdded", &s.readAdded, s.r, `SELECT ` + columns + `, added_pos FROM items
			WHERE id >= ? AND added_pos IS NOT NULL ORDER BY id LIMIT ?`},
		{"addedAfter", &s.addedAfter, s.r, `SELECT id, added_pos FROM items
			WHERE id >= ? AND added_pos IS NOT NULL ORDER BY id LIMIT 1`},
		{"lastID", &s.lastID, s.r, `SELECT coalesce(max(id), 0) FROM items`},
		// The oldest event of kind ?2 of the item ?1: the events table
		// holds the changes and the additions of the items changed since,
		// which may be gone, and first_events the oldest of each item and
		// kind (migration 0011); the row of an item holds the position of
		// its addition (migration 0009).
		{"eventOf", &s.eventOf, s.r, eventOfQuery},
		// The addition of the greatest item ID up to ?1: of an item there,
		// or of one changed and maybe gone since, whichever is greater.
		{"addedUpTo", &s.addedUpTo, s.r, addedUpToQuery},
	}
}

// The lookups of Follow's start (see position) in the log.
const (
	// eventOfQuery: the oldest event of kind ?2 of the item ?1.
	eventOfQuery = `SELECT pos FROM (
				SELECT added_pos AS pos FROM items WHERE ?2 = 1 AND id = ?1 AND added_pos IS NOT NULL
				UNION ALL
				SELECT pos FROM first_events WHERE item_id = ?1 AND kind = ?2)
			ORDER BY pos LIMIT 1`
	// addedUpToQuery: the addition of the greatest item ID up to ?1.
	addedUpToQuery = `SELECT pos FROM (
				SELECT * FROM (SELECT id, added_pos AS pos FROM items
					WHERE id <= ?1 AND added_pos IS NOT NULL ORDER BY id DESC LIMIT 1)
				UNION ALL
				SELECT * FROM (SELECT item_id AS id, pos FROM first_events
					WHERE item_id <= ?1 AND kind = 1
					ORDER BY item_id DESC LIMIT 1))
			ORDER BY id DESC LIMIT 1`
)

// connect opens the writer's connection, which switches a new file to WAL.
// That takes an exclusive lock, and when two processes open a new file at
// once, SQLite refuses one of them at once with SQLITE_BUSY instead of
// letting busy_timeout wait, since both hold a shared lock and waiting could
// deadlock. So connect tries again, for up to busyTimeout.
func connect(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(busyTimeout)
	for delay := time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		err := db.PingContext(ctx)
		if code(err)&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// dsn returns the driver's name for the database at path. The pragmas are
// in the DSN, not run once after Open, so that every connection of the pool
// gets them, including those opened later.
//
// synchronous=FULL, not NORMAL: in WAL mode NORMAL does not sync the WAL at
// each commit, so a power loss or an OS crash may undo the last transactions
// even though AddItem reported them (and subscribers saw them). FULL syncs
// at every commit: an acknowledged item survives.
//
// temp_store=MEMORY: SQLite keeps a statement journal, to undo one
// statement alone, for the multi-row insertions of a batch (the
// trigger that counts the items makes each row two changes). In a file,
// it costs a pwrite for every page the statement changes: a third of an
// addition's CPU in large batches (32 AddItem calls at once, in
// process), about 1% under HTTP load, where batches are small. No query
// sorts or materializes a table's worth of rows (plans_test.go checks the
// plans), so what is kept in memory stays small.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "temp_store(MEMORY)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		// A write transaction takes the write lock when it begins, where
		// busy_timeout waits for it, rather than when it first writes,
		// where a reader's snapshot may force SQLITE_BUSY at once.
		q.Set("_txlock", "immediate")
	}
	// In a URI file name, % starts an escape, ? the parameters and # the
	// fragment.
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + escaped + "?" + q.Encode()
}

// translate turns an error of the driver into one of ours, naming op: a
// context error stays matchable with errors.Is, a busy database becomes an
// *items.Error with code Unavailable, and anything else a plain (internal)
// error that carries the text but not the type of the driver's error.
func translate(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*items.Error](err); ok {
		return err
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("sqlite: %s: %w", op, ctxErr)
	}
	if se, ok := errors.AsType[*sqlitedriver.Error](err); ok {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return items.Errorf(items.Unavailable, "the database is busy; try again")
		}
	}
	return fmt.Errorf("sqlite: %s: %v", op, err)
}

// code returns the extended result code of a driver error, 0 for any other.
func code(err error) int {
	if se, ok := errors.AsType[*sqlitedriver.Error](err); ok {
		return se.Code()
	}
	return 0
}

func nullString(p *string) sql.NullString {
	if p == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *p, Valid: true}
}

// itemColumns are the columns of an item, in the order of itemRow.dest:
// the one list of them that reads spell.
const itemColumns = `id, name, description, created_at, created_by, updated_at, version`

// qualified returns columns, a list such as itemColumns, with each column
// qualified by table.
func qualified(table, columns string) string {
	return table + "." + strings.ReplaceAll(columns, ", ", ", "+table+".")
}

// itemRow receives the columns of itemColumns. All but the ID are NULL
// in the event of a deletion.
type itemRow struct {
	id                                       int64
	name, description                        sql.NullString
	createdAt, createdBy, updatedAt, version sql.NullInt64
}

// dest returns where Scan puts the columns of itemColumns.
func (r *itemRow) dest() []any {
	return []any{&r.id, &r.name, &r.description, &r.createdAt, &r.createdBy, &r.updatedAt, &r.version}
}

// item returns the item that r holds.
func (r *itemRow) item() items.Item {
	it := items.Item{
		ID:          r.id,
		Name:        r.name.String,
		CreatedAt:   time.UnixMicro(r.createdAt.Int64).UTC(),
		CreatedByID: r.createdBy.Int64,
		Version:     int(r.version.Int64),
	}
	if r.description.Valid {
		it.Description = &r.description.String
	}
	if r.updatedAt.Valid {
		t := time.UnixMicro(r.updatedAt.Int64).UTC()
		it.UpdatedAt = &t
	}
	return it
}

// scanner is a row of a result, or the one row of QueryRow.
type scanner interface{ Scan(dest ...any) error }

// scanItem reads a row of itemColumns.
func scanItem(row scanner) (items.Item, error) {
	var r itemRow
	if err := row.Scan(r.dest()...); err != nil {
		return items.Item{}, err
	}
	return r.item(), nil
}

// Item implements items.Store.
func (s *Store) Item(ctx context.Context, id int64) (items.Item, error) {
	it, err := scanItem(s.item.QueryRowContext(ctx, id))
	return found(ctx, "item", id, it, err)
}

// found returns v, read by ID, or the error of its read: NotFound when no
// row had that ID.
func found[T any](ctx context.Context, what string, id int64, v T, err error) (T, error) {
	var zero T
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return zero, items.Errorf(items.NotFound, "no %s with id %d", what, id)
	case err != nil:
		return zero, translate(ctx, what, err)
	}
	return v, nil
}

// Items implements items.Store. It returns an error with code Invalid when
// q.Limit is outside 0 to items.MaxPageSize+1. A search of three characters
// or more reads the trigram index from q.After on; a shorter one scans the
// names in ID order until the page is full (see planSearch).
func (s *Store) Items(ctx context.Context, q items.ItemQuery) ([]items.Item, error) {
	if err := items.CheckLimit(q.Limit); err != nil {
		return nil, err
	}
	page := make([]items.Item, 0, q.Limit)
	if q.Limit == 0 {
		return page, nil
	}
	if q.Order != (items.Order{}) || q.Start != nil || q.End != nil || q.Last {
		if q.Search != "" {
			return s.searchPage(ctx, q)
		}
		return s.page(ctx, q)
	}
	switch p := planSearch(q.Search); {
	case q.Search == "":
		return appendRows(ctx, page, s.items, q.After, q.Limit)
	case p.match == "":
		return appendRows(ctx, page, s.searchScan, q.After, p.folded, q.Limit)
	default:
		// The index holds the items up to indexed; the items above it,
		// added since its last step, are scanned.
		indexed := s.indexed.Load()
		var err error
		if q.After < indexed {
			if page, err = appendRows(ctx, page, s.searchIndex, p.match, q.After, indexed, p.folded, q.Limit); err != nil {
				return nil, err
			}
		}
		if len(page) < q.Limit {
			return appendRows(ctx, page, s.searchScan, max(q.After, indexed), p.folded, q.Limit-len(page))
		}
		return page, nil
	}
}

// appendRows appends to page the items that st reads with args.
func appendRows(ctx context.Context, page []items.Item, st *sql.Stmt, args ...any) ([]items.Item, error) {
	rows, err := st.QueryContext(ctx, args...)
	return scanRows(ctx, "items", page, scanItem, rows, err)
}

// scanRows appends to list what scan reads from each of rows, the result
// of a query that failed with err if not nil. Its errors are those of op.
func scanRows[T any](ctx context.Context, op string, list []T, scan func(scanner) (T, error), rows *sql.Rows, err error) ([]T, error) {
	if err != nil {
		return nil, translate(ctx, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, translate(ctx, op, err)
		}
		list = append(list, v)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(ctx, op, err)
	}
	return list, nil
}

// CountItems implements items.Store.
func (s *Store) CountItems(ctx context.Context, search string) (int, error) {
	p := planSearch(search)
	switch {
	case search == "":
		return count(ctx, s.count)
	case p.match == "":
		return count(ctx, s.countScan, p.folded)
	}
	indexed := s.indexed.Load()
	var inIndex int
	var err error
	if p.exact {
		inIndex, err = count(ctx, s.countIndex, p.match, indexed)
	} else {
		inIndex, err = count(ctx, s.countChecked, p.match, indexed, p.folded)
	}
	if err != nil {
		return 0, err
	}
	above, err := count(ctx, s.countTail, indexed, p.folded)
	return inIndex + above, err
}

// count returns the count that st reads with args.
func count(ctx context.Context, st *sql.Stmt, args ...any) (int, error) {
	var n int
	if err := st.QueryRowContext(ctx, args...).Scan(&n); err != nil {
		return 0, translate(ctx, "count items", err)
	}
	return n, nil
}

// AddItem implements items.Store. The item is on disk (synced) when
// AddItem returns it; subscribers get it in ID order. It returns an error
// with code Invalid when n.CreatedByID names no user. The writer stores the
// items of concurrent calls together (see write). A call whose ctx ends
// before the writer takes its item returns ctx's error and stores nothing;
// once taken, the item is stored and returned whatever ctx does.
func (s *Store) AddItem(ctx context.Context, n items.NewItem) (items.Item, error) {
	if err := ctx.Err(); err != nil {
		return items.Item{}, err
	}
	it := items.Item{Name: n.Name, Description: n.Description, CreatedByID: n.CreatedByID}
	if it.Description != nil {
		d := *it.Description
		it.Description = &d
	}
	return s.submit(ctx, &addRequest{op: opAdd, item: it})
}

// submit hands req to the writer and waits for its answer: ctx's error if
// ctx ends before the writer takes it, errClosed if the store closes
// first; once taken, the change is made whatever ctx does. The write
// begins here, and ends here if the writer does not take it; otherwise
// the writer ends it (see writeBatch).
func (s *Store) submit(ctx context.Context, req *addRequest) (items.Item, error) {
	if err := ctx.Err(); err != nil {
		return items.Item{}, err
	}
	req.done = make(chan addResult, 1)
	req.write = s.writes.Begin(req.op.kind())
	select {
	case s.adds <- req:
	case <-ctx.Done():
		req.write.End(ctx.Err())
		return items.Item{}, ctx.Err()
	case <-s.closing:
		req.write.End(errClosed)
		return items.Item{}, errClosed
	}
	res := <-req.done
	return res.item, res.err
}

// Writes implements items.Store: this process makes every write of items
// to the file (`itemsapi token` writes tokens alone).
func (s *Store) Writes() *items.Writes { return s.writes }

// UpdateItem implements items.Store. The writer applies it in the order it
// takes it, with the additions and deletions of the same batch, so that
// the log is in commit order; the change is on disk when it returns.
func (s *Store) UpdateItem(ctx context.Context, id int64, u items.ItemUpdate) (items.Item, error) {
	return s.submit(ctx, &addRequest{op: opUpdate, id: id, update: u})
}

// DeleteItem implements items.Store, as UpdateItem does.
func (s *Store) DeleteItem(ctx context.Context, id int64, d items.ItemDelete) error {
	_, err := s.submit(ctx, &addRequest{op: opDelete, id: id, del: d})
	return err
}

// Users implements items.Store. Each user comes once, however often its ID
// is asked for.
func (s *Store) Users(ctx context.Context, ids []int64) ([]items.User, error) {
	users := make([]items.User, 0, len(ids))
	if len(ids) == 0 {
		return users, nil
	}
	// One JSON array instead of a placeholder per ID: one prepared
	// statement for every batch, and no limit on the number of variables.
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, fmt.Errorf("sqlite: users: %v", err)
	}
	rows, err := s.users.QueryContext(ctx, s.clock.Now().UnixMicro(), string(list))
	if err != nil {
		return nil, translate(ctx, "users", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			u    items.User
			role string
		)
		if err := rows.Scan(&u.ID, &u.Name, &role); err != nil {
			return nil, translate(ctx, "users", err)
		}
		if u.Role, err = parseRole(role); err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(ctx, "users", err)
	}
	return users, nil
}

func parseRole(s string) (items.Role, error) {
	if r := items.Role(s); r.Valid() {
		return r, nil
	}
	return "", fmt.Errorf("sqlite: stored role %q is not valid", s)
}

// Subscribe implements items.Broker: the subscription gets the items this
// Store adds, not those that another process adds to the same file. It fails
// once the store is closed or shutting down.
func (s *Store) Subscribe(ctx context.Context, afterItem int64) (*items.Subscription, error) {
	return s.Follow(ctx, items.ItemAdded, afterItem)
}

// Follow implements items.Broker, as Subscribe does.
func (s *Store) Follow(ctx context.Context, kind items.EventKind, afterItem int64) (*items.Subscription, error) {
	if afterItem < 0 {
		return s.log.Follow(ctx, kind, items.FromNow)
	}
	after, above, err := s.position(ctx, kind, afterItem)
	switch {
	case err != nil:
		return nil, err
	case above && kind == items.ItemAdded:
		return s.log.FollowAbove(ctx, after, afterItem)
	}
	return s.log.Follow(ctx, kind, after)
}

// position returns the position after which a subscription to the events
// of kind that names afterItem starts (see items.Broker.Follow): that of
// the oldest such event of the item, else that of the addition of the
// greatest item ID up to afterItem, else 0; for an ID above every ID
// given, the head of the log, with above set.
func (s *Store) position(ctx context.Context, kind items.EventKind, afterItem int64) (_ int64, above bool, _ error) {
	var pos int64
	err := s.eventOf.QueryRowContext(ctx, afterItem, int(kind)).Scan(&pos)
	if err == nil {
		return pos, false, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, false, translate(ctx, "subscribe", err)
	}
	// The head before the greatest ID: the writer publishes an item after
	// it commits it, so an item at a position up to head is one that the
	// read below sees, and an item with an ID above afterItem comes after
	// head.
	head := s.log.Head()
	var last int64
	// The greatest ID ever given (AUTOINCREMENT keeps it), without a scan.
	if err := s.r.QueryRowContext(ctx, `SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'items'), 0)`).Scan(&last); err != nil {
		return 0, false, translate(ctx, "subscribe", err)
	}
	if afterItem > last {
		return head, true, nil
	}
	err = s.addedUpTo.QueryRowContext(ctx, afterItem).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, translate(ctx, "subscribe", err)
	}
	return pos, false, nil
}

// Shutdown lets each subscription deliver every item committed so far,
// then end with items.ErrGoingAway.
func (s *Store) Shutdown() { s.log.Shutdown() }

// Ping implements items.Store: it reads the database file.
func (s *Store) Ping(ctx context.Context) error {
	var v int
	if err := s.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return translate(ctx, "ping", err)
	}
	return nil
}

// Close implements items.Store: it lets the writer commit and publish the
// items it has taken, ends the subscriptions and closes the database.
// AddItem calls whose items the writer has not taken return an error with
// code Unavailable. Later calls return what the first returned.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		// The items the writer took are committed and published before
		// the subscriptions end.
		s.stopWriter()
		if s.log != nil {
			s.log.Close()
		}
		var errs []error
		for _, st := range s.stmts {
			errs = append(errs, st.Close())
		}
		if s.revisions != nil {
			errs = append(errs, s.revisions.close())
		}
		// The writer last: the last connection to close checkpoints the WAL
		// into the database file.
		for _, db := range []*sql.DB{s.r, s.w} {
			if db != nil {
				errs = append(errs, db.Close())
			}
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("sqlite: close: %v", err)
		}
	})
	return s.closeErr
}
