package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"itemsapi/items"
)

// maxBatch is the largest number of items that one write transaction of
// AddItem stores.
const maxBatch = 256

// errClosed answers an AddItem that the writer did not take before the
// store was closed.
var errClosed = items.Errorf(items.Unavailable, "the store is closed")

// errImport ends the write of an Import in Store.writes: the number of
// items it adds is not recorded.
var errImport = errors.New("sqlite: an import of many items")

// op is what a request asks of the writer.
type op uint8

const (
	opAdd op = iota
	opUpdate
	opDelete
)

// kind is the kind of the event of a change that o makes.
func (o op) kind() items.EventKind {
	switch o {
	case opUpdate:
		return items.ItemUpdated
	case opDelete:
		return items.ItemDeleted
	}
	return items.ItemAdded
}

// addRequest is an AddItem, UpdateItem or DeleteItem call waiting for the
// writer.
type addRequest struct {
	op op
	// item is, for opAdd, the item without its ID and creation time, which
	// the writer sets.
	item items.Item
	// id, update and del are the arguments of UpdateItem and DeleteItem.
	id     int64
	update items.ItemUpdate
	del    items.ItemDelete
	// done gets the answer. It is buffered, so that the writer never waits
	// for a caller.
	done chan addResult
	// write is the write as Store.writes records it, begun by submit.
	write items.Write
}

type addResult struct {
	item items.Item
	err  error
}

// startWriter starts the goroutine that stores the items of AddItem.
func (s *Store) startWriter() {
	s.adds = make(chan *addRequest)
	s.imported = make(chan struct{}, 1)
	s.closing = make(chan struct{})
	s.written = make(chan struct{})
	go s.write()
}

// stopWriter makes the writer finish the batch it holds and stop, and waits
// for it. The callers whose items it has not taken get errClosed.
func (s *Store) stopWriter() {
	if s.closing == nil {
		return // never started: Open failed
	}
	close(s.closing)
	<-s.written
}

// write is the writer goroutine, which runs until Close. Group commit:
// while it stores one batch, the AddItem calls that come meanwhile wait on
// s.adds; it then takes them all at once (up to maxBatch) into the next
// transaction, so that they share its sync to disk. It answers each caller
// once the transaction that holds its item has committed, having published
// the items in ID order. When no item waits, it merges the segments of the
// trigram index, a step at a time, until there is nothing to merge.
func (s *Store) write() {
	defer close(s.written)
	batch := make([]*addRequest, 0, maxBatch)
	merge := true // another process may have left segments to merge
	idle := time.NewTimer(idleTime)
	defer idle.Stop()
	lastIndexed := time.Now()
	for {
		var merged <-chan time.Time // the timer when there is merging to do
		if merge {
			idle.Reset(idleTime)
			merged = idle.C
		}
		var first *addRequest
		select {
		case first = <-s.adds:
		case <-merged:
			// Idle: index the items added since the last step, then
			// merge the index's segments.
			if err := s.indexTail(context.Background()); err == nil {
				lastIndexed = time.Now()
			}
			merge = s.mergeIndex()
			continue
		case <-s.imported:
			merge = true
			continue
		case <-s.closing:
			return
		}
		// The callers answered last are runnable and about to send their
		// next items: yielding to them first fills the batch, where
		// otherwise full batches and batches of one or two alternate.
		//
		// A yield is a trip through the scheduler's run queue: cheap on a
		// quiet server, but when thousands of goroutines are runnable (a
		// burst of deliveries to subscribers), each takes milliseconds,
		// and the writer stops yielding once one has taken over maxYield.
		yielded := time.Now()
		runtime.Gosched()
		batch = s.gather(append(batch[:0], first))
		for range maxYields {
			// While yielding brings more items, yield again: on one CPU
			// the handlers of the other waiting requests run meanwhile,
			// and a bigger batch shares its commit among more items
			// (measured: 10% more addItem per second at 32 clients).
			n := len(batch)
			if time.Since(yielded) > maxYield {
				break
			}
			yielded = time.Now()
			runtime.Gosched()
			if batch = s.gather(batch); len(batch) == n {
				break
			}
		}
		s.writeBatch(batch)
		clear(batch)
		merge = true
		if time.Since(lastIndexed) >= indexInterval {
			// Items keep coming: index them in steps, not at each
			// commit. An error leaves them to the scan and the next step.
			if err := s.indexStep(context.Background(), true); err == nil {
				lastIndexed = time.Now()
			}
		}
	}
}

// maxYields bounds the extra yields of the writer while items keep coming,
// and maxYield the time a yield may take for the writer to yield again.
const (
	maxYields = 8
	maxYield  = 200 * time.Microsecond
)

// idleTime is how long the writer waits for an item before it spends its
// time merging the index instead: under load items come sooner.
const idleTime = 5 * time.Millisecond

// mergeStep merges up to that many pages of segments of the trigram index,
// in levels that hold at least 4 (usermerge), in some 15 ms at a million
// items: what an AddItem that comes meanwhile waits at most, mostly.
const mergeStep = `INSERT INTO items_fts (items_fts, rank) VALUES ('merge', 64)`

// mergeIndex runs mergeStep in a transaction of its own and reports
// whether there is more to merge. An error ends the merging until the next
// write: it is only an optimization.
func (s *Store) mergeIndex() bool {
	ctx := context.Background()
	more := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.setMerges(ctx, tx, mergesNarrow); err != nil {
			return err
		}
		// FTS5 reports a step that merged nothing by a change count below 2.
		var before, after int64
		if err := tx.QueryRowContext(ctx, "SELECT total_changes()").Scan(&before); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, mergeStep); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, "SELECT total_changes()").Scan(&after); err != nil {
			return err
		}
		more = after-before >= 2
		return nil
	})
	s.mergesSet(mergesNarrow, err)
	return err == nil && more
}

// gather adds to batch the requests that are waiting already, without
// waiting for more.
func (s *Store) gather(batch []*addRequest) []*addRequest {
	for len(batch) < maxBatch {
		select {
		case req := <-s.adds:
			batch = append(batch, req)
		default:
			return batch
		}
	}
	return batch
}

// writeBatch applies the requests of batch in one transaction, in order,
// ends their writes, publishes the events of those applied, in position
// order, and answers each caller. The writes end before anything is
// published: a subscriber that reads as soon as it gets an event gets no
// answer kept from before it (see items.Writes).
func (s *Store) writeBatch(batch []*addRequest) {
	// Once taken, a change is applied whatever becomes of its caller: an
	// interrupt between the commit and the answer would report a failure
	// for a change made.
	results, events := s.apply(context.Background(), batch)
	for i, req := range batch {
		req.write.End(results[i].err)
	}
	s.log.Append(events...)
	for i, req := range batch {
		req.done <- results[i]
	}
}

// apply applies batch in one transaction and returns the answer of each
// request and the events of the changes made, in position order. A request
// that fails (an item that breaks a constraint, an update refused) fails
// alone.
func (s *Store) apply(ctx context.Context, batch []*addRequest) ([]addResult, []items.Event) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	var (
		results []addResult
		events  []items.Event
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		results, events, err = s.applyTx(ctx, tx, batch, now, false)
		return err
	})
	if err != nil && len(batch) > 1 && isConstraint(err) {
		// Which item? Insert them one by one: on a constraint error SQLite
		// undoes the failed statement alone and the transaction goes on.
		// An error of another kind may have ended the transaction: it
		// fails the whole batch.
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			var err error
			results, events, err = s.applyTx(ctx, tx, batch, now, true)
			return err
		})
	}
	if err != nil {
		results = make([]addResult, len(batch))
		for i, req := range batch {
			results[i].err = requestError(ctx, err, req)
		}
		return results, nil
	}
	return results, events
}

// requestError returns the error that the caller of req gets when err kept
// its change from being made.
func requestError(ctx context.Context, err error, req *addRequest) error {
	if req.op == opAdd {
		return addError(ctx, err, req.item)
	}
	return translate(ctx, "write", err)
}

// applyTx applies batch in tx, in order: the consecutive additions with
// one statement (or, oneByOne, each alone, a constraint error failing that
// item only). It fails with the first error that is not a request's own.
func (s *Store) applyTx(ctx context.Context, tx *sql.Tx, batch []*addRequest, now time.Time, oneByOne bool) ([]addResult, []items.Event, error) {
	results := make([]addResult, len(batch))
	events := make([]items.Event, 0, len(batch))
	insert := tx.StmtContext(ctx, s.insertItems)
	// The position of the last event: one writer, under the write lock,
	// appends to the log.
	var head int64
	if err := tx.StmtContext(ctx, s.logHead).QueryRowContext(ctx).Scan(&head); err != nil {
		return nil, nil, err
	}
	for i := 0; i < len(batch); {
		if batch[i].op != opAdd {
			e, it, err := s.change(ctx, tx, batch[i], now, head+1)
			switch {
			case err == nil:
				events = append(events, e)
				results[i].item = it
				head++
			case isRefusal(err):
				results[i].err = err
			default:
				return nil, nil, err
			}
			i++
			continue
		}
		j := i + 1
		for !oneByOne && j < len(batch) && batch[j].op == opAdd {
			j++
		}
		its := make([]items.Item, j-i)
		for k := range its {
			its[k] = batch[i+k].item
			if its[k].CreatedAt.IsZero() {
				its[k].CreatedAt = now
			}
			its[k].Version = 1
		}
		err := insertItems(ctx, insert, its, head+1)
		switch {
		case err == nil:
			events = appendAdded(events, its, head+1)
			head += int64(len(its))
			for k, it := range its {
				results[i+k].item = it
			}
		case oneByOne && isConstraint(err):
			results[i].err = addError(ctx, err, its[0])
		default:
			return nil, nil, err
		}
		i = j
	}
	return results, events, nil
}

// change applies the update or delete of req in tx and returns its event,
// at position pos, and the item as left. A refusal is an *items.Error.
func (s *Store) change(ctx context.Context, tx *sql.Tx, req *addRequest, now time.Time, pos int64) (items.Event, items.Item, error) {
	var (
		r     itemRow
		added sql.NullInt64 // the position of its addition
	)
	err := tx.StmtContext(ctx, s.changeRow).QueryRowContext(ctx, req.id).Scan(append(r.dest(), &added)...)
	it := r.item()
	if errors.Is(err, sql.ErrNoRows) {
		return items.Event{}, items.Item{}, items.NoItem(req.id)
	}
	if err != nil {
		return items.Event{}, items.Item{}, err
	}
	if req.op == opDelete {
		if err := req.del.Check(it); err != nil {
			return items.Event{}, items.Item{}, err
		}
		if err := s.keepAddedIn(ctx, tx, it, added); err != nil {
			return items.Event{}, items.Item{}, err
		}
		if _, err := tx.StmtContext(ctx, s.deleteRow).ExecContext(ctx, req.id); err != nil {
			return items.Event{}, items.Item{}, err
		}
		e := items.Event{Pos: pos, Kind: items.ItemDeleted, Item: items.Item{ID: req.id}}
		_, err := tx.StmtContext(ctx, s.deletedEvent).ExecContext(ctx, pos, req.id)
		return e, items.Item{}, err
	}
	old := it
	if it, err = req.update.Apply(it, now); err != nil {
		return items.Event{}, items.Item{}, err
	}
	if err := s.keepAddedIn(ctx, tx, old, added); err != nil {
		return items.Event{}, items.Item{}, err
	}
	if _, err := tx.StmtContext(ctx, s.updateRow).ExecContext(ctx,
		nullString(it.Description), it.UpdatedAt.UnixMicro(), it.Version, it.ID); err != nil {
		return items.Event{}, items.Item{}, err
	}
	if it.Name != old.Name {
		// Only then is the trigram index touched (migration 0006).
		if _, err := tx.StmtContext(ctx, s.renameRow).ExecContext(ctx,
			it.Name, items.FoldString(it.Name), it.ID); err != nil {
			return items.Event{}, items.Item{}, err
		}
	}
	e := items.Event{Pos: pos, Kind: items.ItemUpdated, Item: it}
	_, err = tx.StmtContext(ctx, s.updatedEvent).ExecContext(ctx,
		pos, it.ID, it.Version, it.Name, nullString(it.Description), it.CreatedAt.UnixMicro(), nullInt(it.CreatedByID), it.UpdatedAt.UnixMicro())
	return e, it, err
}

// changeStatements returns the statements of change, prepared on the
// writer's connection: an update prepared anew at each call spent more on
// compiling its five statements than on running them.
func (s *Store) changeStatements() []statement {
	return []statement{
		{"changeRow", &s.changeRow, s.w, `SELECT ` + itemColumns + `, added_pos FROM items WHERE id = ?`},
		{"keepAdded", &s.keepAdded, s.w, `INSERT INTO events (pos, kind, item_id, version, name, description, created_at, created_by)
			VALUES (?, 1, ?, 1, ?, ?, ?, ?)`},
		{"updateRow", &s.updateRow, s.w, `UPDATE items SET description = ?, updated_at = ?, version = ? WHERE id = ?`},
		{"renameRow", &s.renameRow, s.w, `UPDATE items SET name = ?, name_folded = ? WHERE id = ?`},
		{"updatedEvent", &s.updatedEvent, s.w, `INSERT INTO events (pos, kind, item_id, version, name, description, created_at, created_by, updated_at)
			VALUES (?, 2, ?, ?, ?, ?, ?, ?, ?)`},
		{"deleteRow", &s.deleteRow, s.w, `DELETE FROM items WHERE id = ?`},
		{"deletedEvent", &s.deletedEvent, s.w, `INSERT INTO events (pos, kind, item_id) VALUES (?, 3, ?)`},
	}
}

// isRefusal reports whether err is a request's own failure, an
// *items.Error, rather than the database's.
func isRefusal(err error) bool {
	_, ok := errors.AsType[*items.Error](err)
	return ok
}

func nullInt(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// appendAdded appends to events the additions of its, which have just
// been inserted at the positions from first on, in ID order. An addition
// costs the log nothing more (migration 0009): an item never changed is
// its own addition, and its first change copies it into the events table
// (see keepAdded).
func appendAdded(events []items.Event, its []items.Item, first int64) []items.Event {
	for i, it := range its {
		events = append(events, items.Event{Pos: first + int64(i), Kind: items.ItemAdded, Item: it})
	}
	return events
}

// execRows runs st, an insertion of n rows in rowid order, and returns the
// rowids of the first and the last. Each row gets the rowid one above the
// table's highest (under the write lock, which the transaction holds), so
// the n rows hold the n rowids up to the last. It fails unless exactly n
// rows were inserted.
func execRows(ctx context.Context, st *sql.Stmt, n int, args ...any) (first, last int64, err error) {
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, 0, err
	}
	got, err := res.RowsAffected()
	if err != nil {
		return 0, 0, err
	}
	if got != int64(n) {
		return 0, 0, fmt.Errorf("inserted %d rows, want %d", got, n)
	}
	if last, err = res.LastInsertId(); err != nil {
		return 0, 0, err
	}
	return last - int64(n) + 1, last, nil
}

// keepAddedIn copies it, as added, into the events table as the event of
// its addition, at position added (which its row holds), before its first
// change: from then on the items table no longer holds it so, or at all.
// An item inserted by hand has no position, and no addition in the log.
func (s *Store) keepAddedIn(ctx context.Context, tx *sql.Tx, it items.Item, added sql.NullInt64) error {
	if it.Version != 1 || !added.Valid {
		return nil // changed before: copied then
	}
	_, err := tx.StmtContext(ctx, s.keepAdded).ExecContext(ctx,
		added.Int64, it.ID, it.Name, nullString(it.Description), it.CreatedAt.UnixMicro(), nullInt(it.CreatedByID))
	return err
}

// addError returns the error that AddItem reports when err kept it from
// being stored.
func addError(ctx context.Context, err error, it items.Item) error {
	if code(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		return items.Errorf(items.Invalid, "no user with id %d", it.CreatedByID)
	}
	return translate(ctx, "add item", err)
}

// isConstraint reports whether err is a driver error of the class
// SQLITE_CONSTRAINT.
func isConstraint(err error) bool {
	return code(err)&0xff == sqlite3.SQLITE_CONSTRAINT
}

// inTx runs f in a write transaction, which it commits when f succeeds and
// rolls back otherwise.
func (s *Store) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// insertItems inserts its with one statement of s.insertItems, st, and
// sets their IDs. One statement for many rows, rather than one each, also
// spares the trigram index a flush of its pending changes per statement.
// The rows are inserted in the order of its, and AUTOINCREMENT gives each
// the ID one above the highest ever used, so their IDs are those up to the
// last row's (see execRows).
func insertItems(ctx context.Context, st *sql.Stmt, its []items.Item, firstPos int64) error {
	payload, err := encodeItems(its)
	if err != nil {
		return err
	}
	first, _, err := execRows(ctx, st, len(its), payload, firstPos)
	if err != nil {
		return err
	}
	for i := range its {
		its[i].ID = first + int64(i)
	}
	return nil
}

// newRow is an item to insert as s.insertItems reads it: a JSON object
// whose keys are the columns it sets (newRowColumns).
type newRow struct {
	Name        string  `json:"name"`
	NameFolded  string  `json:"name_folded"`
	Description *string `json:"description"`
	CreatedAt   int64   `json:"created_at"`
	CreatedBy   *int64  `json:"created_by"` // null for nobody
}

// newRowColumns are the columns an insertion sets: the keys of newRow.
var newRowColumns = jsonKeys(reflect.TypeFor[newRow]())

// jsonKeys returns the JSON keys of the fields of the struct type t, in
// order.
func jsonKeys(t reflect.Type) []string {
	keys := make([]string, t.NumField())
	for i := range keys {
		keys[i], _, _ = strings.Cut(t.Field(i).Tag.Get("json"), ",")
	}
	return keys
}

// fromJSON returns the expressions that read columns from the value of
// jsonb_each, an object keyed by them.
func fromJSON(columns []string) string {
	exprs := make([]string, len(columns))
	for i, c := range columns {
		exprs[i] = "value->>'" + c + "'"
	}
	return strings.Join(exprs, ", ")
}

// encodeItems returns its as the JSON array that s.insertItems reads: one
// newRow per item.
func encodeItems(its []items.Item) (string, error) {
	rows := make([]newRow, len(its))
	for i, it := range its {
		rows[i] = newRow{Name: it.Name, NameFolded: items.FoldString(it.Name), Description: it.Description, CreatedAt: it.CreatedAt.UnixMicro()}
		if it.CreatedByID != 0 {
			rows[i].CreatedBy = &it.CreatedByID
		}
	}
	b, err := json.Marshal(rows)
	if err != nil {
		return "", fmt.Errorf("encode items: %v", err)
	}
	return string(b), nil
}

// Import adds a batch of validated items in one transaction: a bulk
// loader, for benchmarks and seeding, much faster than one AddItem each.
// Each item is created now, by the user its CreatedByID names (nobody when
// 0). Unlike AddItem, Import publishes nothing to subscribers. The search
// index stays exact. The batch fails whole: for instance with an error of
// code Invalid when a creator is no user.
func (s *Store) Import(ctx context.Context, batch []items.NewItem) error {
	if len(batch) == 0 {
		return nil
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	its := make([]items.Item, len(batch))
	for i, n := range batch {
		its[i] = items.Item{Name: n.Name, Description: n.Description, CreatedAt: now, CreatedByID: n.CreatedByID, Version: 1}
	}
	var events []items.Event
	write := s.writes.Begin(items.ItemAdded)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var head int64
		if err := tx.StmtContext(ctx, s.logHead).QueryRowContext(ctx).Scan(&head); err != nil {
			return err
		}
		if err := insertItems(ctx, tx.StmtContext(ctx, s.insertItems), its, head+1); err != nil {
			return err
		}
		events = appendAdded(nil, its, head+1)
		return nil
	})
	// An import is recorded as one write, which ends as a failed one
	// does, so that caches count the items again rather than add one.
	write.End(errImport)
	if code(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		return items.Errorf(items.Invalid, "a creator of the items is no user")
	}
	if err != nil {
		return translate(ctx, "import", err)
	}
	s.log.Append(events...)
	if err := s.indexTail(ctx); err != nil {
		return err
	}
	// Let the writer merge the new segments of the index once idle.
	select {
	case s.imported <- struct{}{}:
	default:
	}
	return nil
}
