package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"itemsapi/items"
)

// How AddItem calls are gathered (see adder).
const (
	// maxAddBatch is the most items that one insertion statement stores.
	maxAddBatch = 128
	// addBatches is how many insertion statements of a process run at
	// once at most. Fewer make larger batches, which cost the database
	// less CPU per item (measured with bench/pgadd at 32 connections: 80
	// µs with two, 110 with four, 145 with eight); more wait less for a
	// commit. Two keep one batch filling while the other commits.
	addBatches = 2
)

// errStoreClosed answers an AddItem that comes after Close began.
var errStoreClosed = items.Errorf(items.Unavailable, "the store is closed")

// addItemsSQL inserts the items of a batch and their events in one
// statement, so in one implicit transaction and one round trip. Item n of
// the batch is element n of the arrays $1 (name), $2 (folded name), $3
// (description) and $4 (creator, 0 for nobody); $5 is the items' ID
// sequence. It returns n, the ID and the creation time of each item
// inserted: an item whose creator is no user is left out, alone.
//
// It takes no lock that other insertions wait for: insertions of every
// process commit independently (and share their WAL flushes, PostgreSQL's
// group commit). It does not NOTIFY either: a NOTIFY takes a lock on the
// whole database's notification queue from before commit until after it,
// which would make insertions take turns again. The events get their
// positions in the log after commit, from the stamper (see Subscribe),
// which AddItem wakes.
//
// The IDs are drawn in the CTE that the final SELECT reads too, rather
// than by the insertion's default, so that each comes back with its n:
// RETURNING could not say which input row a returned row came from.
const addItemsSQL = `
WITH input AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
		WITH ORDINALITY AS t(name, folded, description, created_by, n)
), kept AS (
	-- No foreign key (see migration 0013): the user must exist when the
	-- row is inserted, and users are never deleted.
	SELECT n, nextval($5::oid::regclass) AS id, name, folded, description,
		clock_timestamp() AS created_at, nullif(created_by, 0) AS created_by
	FROM input
	WHERE created_by = 0 OR EXISTS (SELECT FROM users WHERE id = input.created_by)
	ORDER BY n
), added AS (
	INSERT INTO items (id, name, name_folded, description, created_at, created_by)
	OVERRIDING SYSTEM VALUE
	SELECT id, name, folded, description, created_at, created_by FROM kept
), event AS (
	-- The event holds the ID alone until the item's first change copies
	-- the item as added into it (see change): insertions stay small.
	INSERT INTO events (item_id) SELECT id FROM kept ORDER BY id
)
SELECT n, id, created_at FROM kept`

// addRequest is an AddItem waiting for its batch.
type addRequest struct {
	item items.NewItem
	// write is the write as Store.writes records it, begun by AddItem.
	write items.Write
	// done gets the answer; it is buffered, so that a batch never waits
	// for a caller.
	done chan addResult
	// taken says that a batch holds the request, withdrawn that its caller
	// gave up before one did; both under adder.mu.
	taken, withdrawn bool
}

type addResult struct {
	item items.Item
	err  error
}

// adder gathers the concurrent AddItem calls of a process into batches,
// each inserted by one statement (addItemsSQL). Batches run at once, each
// on a connection of its own, up to limit: a batch starts whenever items
// wait and fewer than limit batches run, and takes every item that waits
// (up to maxAddBatch). Nothing is shared with the batches of other
// processes, nor between batches here beyond the queue: each commits on
// its own. On a busy server the items that come while the batches run
// wait for the next ones, so that one commit, one round trip and one
// statement serve many items, which is what costs the database and the
// server CPU.
type adder struct {
	limit int

	mu      sync.Mutex
	queue   []*addRequest
	running int  // batches running
	closed  bool // set by close: no more requests
	idle    sync.WaitGroup
}

// AddItem implements items.Store. The item is committed when AddItem
// returns it; every Store on the database, this one included, then
// publishes it to its subscribers. It returns an error with code Invalid
// when n.CreatedByID names no user, or when a text is not valid UTF-8 or
// contains a NUL character; ctx's error when ctx ends before the item is
// taken into a batch, after which the item is added whatever ctx does; an
// error with code Unavailable when the store is closing.
func (s *Store) AddItem(ctx context.Context, n items.NewItem) (items.Item, error) {
	w := s.writes.Begin(items.ItemAdded)
	if err := checkNewItem(n); err != nil {
		w.End(err)
		return items.Item{}, err
	}
	if err := ctx.Err(); err != nil {
		w.End(err)
		return items.Item{}, err
	}
	req := &addRequest{item: n, write: w, done: make(chan addResult, 1)}
	if !s.adds.submit(req, s.insertBatches) {
		w.End(errStoreClosed)
		return items.Item{}, errStoreClosed
	}
	select {
	case res := <-req.done:
		return res.item, res.err
	case <-ctx.Done():
		if s.adds.withdraw(req) {
			w.End(ctx.Err())
			return items.Item{}, ctx.Err()
		}
		res := <-req.done
		return res.item, res.err
	}
}

// checkNewItem returns an error with code Invalid for text of n that
// PostgreSQL refuses.
func checkNewItem(n items.NewItem) error {
	if err := checkText("name", n.Name); err != nil {
		return err
	}
	if n.Description != nil {
		return checkText("description", *n.Description)
	}
	return nil
}

// submit queues req and starts a batch with run when fewer than a.limit
// run. It reports false, queueing nothing, once a is closed.
func (a *adder) submit(req *addRequest, run func()) bool {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return false
	}
	a.queue = append(a.queue, req)
	start := a.running < a.limit
	if start {
		a.running++
		a.idle.Add(1)
	}
	a.mu.Unlock()
	if start {
		go run()
	}
	return true
}

// withdraw takes req out of the queue unless a batch holds it already,
// and reports whether it did.
func (a *adder) withdraw(req *addRequest) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if req.taken {
		return false
	}
	req.withdrawn = true
	return true
}

// take returns up to maxAddBatch requests that wait, in their order; none
// when none waits, and then the caller's batch has ended: a.running
// counts it no more.
func (a *adder) take() []*addRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	var batch []*addRequest
	i := 0
	for ; i < len(a.queue) && len(batch) < maxAddBatch; i++ {
		req := a.queue[i]
		a.queue[i] = nil
		if req.withdrawn {
			continue
		}
		req.taken = true
		batch = append(batch, req)
	}
	a.queue = a.queue[i:]
	if len(a.queue) == 0 {
		a.queue = nil
	}
	if len(batch) == 0 {
		a.running--
		a.idle.Done()
	}
	return batch
}

// close makes submit refuse new requests and waits for the batches that
// run, which answer every request queued before.
func (a *adder) close() {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.idle.Wait()
}

// insertBatches is a batch: it takes a connection, then the requests that
// wait, inserts them and answers them, and starts over until none waits.
// Once taken, a request is applied whatever becomes of its caller: an
// interrupt between the commit and the answer would report a failure for
// an item added.
func (s *Store) insertBatches() {
	for {
		ctx, cancel := s.bound(context.Background())
		// The connection first: while the pool has none free, the requests
		// that come join this batch rather than wait for one of their own.
		conn, err := s.pool.Acquire(ctx)
		batch := s.adds.take()
		if len(batch) == 0 {
			if conn != nil {
				conn.Release()
			}
			cancel()
			return
		}
		var results []addResult
		if err != nil {
			results = failAll(len(batch), translate("add item", err))
		} else {
			results = s.insertItems(ctx, conn, batch)
			conn.Release()
		}
		cancel()
		added := false
		for i, req := range batch {
			req.write.End(results[i].err)
			added = added || results[i].err == nil
		}
		if added {
			s.wakeStamper()
		}
		for i, req := range batch {
			req.done <- results[i]
		}
	}
}

// failAll returns n results that fail with err.
func failAll(n int, err error) []addResult {
	results := make([]addResult, n)
	for i := range results {
		results[i].err = err
	}
	return results
}

// insertItems inserts the items of batch with addItemsSQL and returns each
// request's answer. When the statement fails for what may be one item's
// data, each item is inserted alone, so that it fails alone.
func (s *Store) insertItems(ctx context.Context, conn *pgxpool.Conn, batch []*addRequest) []addResult {
	results, err := s.insertAll(ctx, conn, batch)
	if err == nil {
		return results
	}
	if len(batch) > 1 && isDataError(err) {
		results = make([]addResult, len(batch))
		for i := range batch {
			r, err := s.insertAll(ctx, conn, batch[i:i+1])
			if err != nil {
				r = failAll(1, translate("add item", err))
			}
			results[i] = r[0]
		}
		return results
	}
	return failAll(len(batch), translate("add item", err))
}

// isDataError reports whether err is PostgreSQL's refusal of a value
// (classes 22, data exception, and 23, integrity constraint violation).
func isDataError(err error) bool {
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	return ok && len(pgErr.Code) == 5 && (pgErr.Code[:2] == "22" || pgErr.Code[:2] == "23")
}

// insertAll runs addItemsSQL for batch on conn. An item left out (its
// creator is no user) gets an error with code Invalid.
func (s *Store) insertAll(ctx context.Context, conn *pgxpool.Conn, batch []*addRequest) ([]addResult, error) {
	names := make([]string, len(batch))
	folded := make([]string, len(batch))
	descs := make([]*string, len(batch))
	creators := make([]int64, len(batch))
	for i, req := range batch {
		names[i] = req.item.Name
		folded[i] = items.FoldString(req.item.Name)
		descs[i] = req.item.Description
		creators[i] = req.item.CreatedByID
	}
	rows, err := conn.Query(ctx, addItemsSQL, names, folded, descs, creators, s.itemsSeq)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	results := make([]addResult, len(batch))
	got := make([]bool, len(batch))
	for rows.Next() {
		var (
			n         int64
			id        int64
			createdAt time.Time
		)
		if err := rows.Scan(&n, &id, &createdAt); err != nil {
			return nil, err
		}
		i := n - 1
		if i < 0 || i >= int64(len(batch)) || got[i] {
			return nil, fmt.Errorf("the insertion returned row %d of %d twice or out of range", n, len(batch))
		}
		got[i] = true
		it := batch[i].item
		results[i].item = items.Item{
			ID: id, Name: it.Name, Description: it.Description,
			CreatedAt: createdAt.UTC(), CreatedByID: it.CreatedByID, Version: 1,
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i, ok := range got {
		if !ok {
			results[i].err = items.Errorf(items.Invalid, "no user with id %d", batch[i].item.CreatedByID)
		}
	}
	return results, nil
}
