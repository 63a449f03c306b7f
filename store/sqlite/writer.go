package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
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

// addRequest is an AddItem call waiting for the writer.
type addRequest struct {
	item items.Item // without its ID and creation time, which the writer sets
	// done gets the answer. It is buffered, so that the writer never waits
	// for a caller.
	done chan addResult
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
			if err := s.indexTail(context.Background()); err == nil {
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

// writeBatch stores the items of batch, publishes those stored, in ID
// order, and answers each caller.
func (s *Store) writeBatch(batch []*addRequest) {
	its := make([]items.Item, len(batch))
	now := time.Now().UTC().Truncate(time.Microsecond)
	for i, req := range batch {
		its[i] = req.item
		its[i].CreatedAt = now
	}
	// Once taken, an item is stored whatever becomes of its caller: an
	// interrupt between the commit and the answer would report a failure
	// for a stored item.
	errs := s.store(context.Background(), its)
	events := make([]items.Event, 0, len(its))
	for i, it := range its {
		if errs[i] == nil {
			events = append(events, items.Event{Pos: it.ID, Item: it})
		}
	}
	s.log.Append(events...)
	for i, req := range batch {
		if errs[i] != nil {
			its[i] = items.Item{}
		}
		req.done <- addResult{its[i], errs[i]}
	}
}

// store adds its in one transaction and sets their IDs, in the order of
// its. It returns the error of each item: nil for those stored; an item
// that breaks a constraint fails alone.
func (s *Store) store(ctx context.Context, its []items.Item) []error {
	errs := make([]error, len(its))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		return insertItems(ctx, tx.StmtContext(ctx, s.insertItems), its)
	})
	if err != nil && len(its) > 1 && isConstraint(err) {
		// Which item? Insert them one by one: on a constraint error SQLite
		// undoes the failed statement alone and the transaction goes on.
		// An error of another kind may have ended the transaction: it
		// fails the whole batch.
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			st := tx.StmtContext(ctx, s.insertItems)
			for i := range its {
				errs[i] = insertItems(ctx, st, its[i:i+1])
				if errs[i] != nil && !isConstraint(errs[i]) {
					return errs[i]
				}
			}
			return nil
		})
	}
	for i := range its {
		if err != nil && errs[i] == nil {
			errs[i] = err
		}
		if errs[i] != nil {
			errs[i] = addError(ctx, errs[i], its[i])
		}
	}
	return errs
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
func insertItems(ctx context.Context, st *sql.Stmt, its []items.Item) error {
	payload, err := encodeItems(its)
	if err != nil {
		return err
	}
	res, err := st.QueryContext(ctx, payload)
	if err != nil {
		return err
	}
	defer res.Close()
	ids := make([]int64, 0, len(its))
	for res.Next() {
		var id int64
		if err := res.Scan(&id); err != nil {
			return err
		}
		ids = append(ids, id)
	}
	if err := res.Err(); err != nil {
		return err
	}
	if len(ids) != len(its) {
		return fmt.Errorf("inserted %d items, got %d IDs", len(its), len(ids))
	}
	// The rows are inserted in the order of its and AUTOINCREMENT gives
	// them increasing IDs, whereas RETURNING promises no order.
	slices.Sort(ids)
	for i := range its {
		its[i].ID = ids[i]
	}
	return nil
}

// encodeItems returns its as the JSON array that s.insertItems reads: one
// array of name, folded name, description, creation time and creator (null
// for none) per item.
func encodeItems(its []items.Item) (string, error) {
	rows := make([][5]any, len(its))
	for i, it := range its {
		var createdBy any
		if it.CreatedByID != 0 {
			createdBy = it.CreatedByID
		}
		rows[i] = [5]any{it.Name, items.FoldString(it.Name), it.Description, it.CreatedAt.UnixMicro(), createdBy}
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
		its[i] = items.Item{Name: n.Name, Description: n.Description, CreatedAt: now, CreatedByID: n.CreatedByID}
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		return insertItems(ctx, tx.StmtContext(ctx, s.insertItems), its)
	})
	if code(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		return items.Errorf(items.Invalid, "a creator of the items is no user")
	}
	if err != nil {
		return translate(ctx, "import", err)
	}
	events := make([]items.Event, len(its))
	for i, it := range its {
		events[i] = items.Event{Pos: it.ID, Item: it}
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
