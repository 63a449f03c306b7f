package postgres

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"itemsapi/items"
)

// How the log is followed.
const (
	// catchUpPage is how many events the follower reads at once.
	catchUpPage = 1000
	// stampBatch is how many events a stamping round stamps at most.
	stampBatch = 10_000
	// sweep is how often each process runs a stamping round and reads the
	// log without being woken: the bound on the delay of an event whose
	// wake-up was lost (its writer died between commit and wake-up, or a
	// notification went to a connection that was down).
	sweep = time.Second
	// idleCheck is how long the listener waits for a notification before it
	// checks that its connection still works: a connection that died
	// without a word (a network that drops packets) would otherwise go
	// unnoticed until TCP keepalives give up.
	idleCheck = 30 * time.Second
	// Reconnection attempts wait from minBackoff, doubling up to
	// maxBackoff, each wait drawn between half and all of that.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// stampLock is the first key of the advisory lock that a stamping round
// holds; the second is the items table's object ID, so that stores in
// other schemas stamp independently. Writers never take it.
const stampLock int32 = 0x7374616d // "stam"

// errClosed ends subscriptions asked of a store that is closing.
var errClosed = items.Errorf(items.Unavailable, "subscription ended: the server is shutting down")

// stampSQL gives positions to the events that have none, in seq order, up
// to $1 of them, numbering on from the newest position; when it gave any,
// it notifies channel $2 with payload $3, the stamping process's name. It returns how many it stamped and the
// newest position. It must run after the stamping lock is taken, in the
// same transaction, as a statement of its own: its snapshot is then taken
// after the previous round committed, so it sees that round's positions
// and numbers on from them, and it sees every event committed before it
// began. An event that commits while it runs is left for the next round.
const stampSQL = `
WITH todo AS (
	SELECT seq, row_number() OVER (ORDER BY seq) AS n
	FROM events WHERE pos IS NULL ORDER BY seq LIMIT $1
), base AS (
	SELECT coalesce(max(pos), 0) AS top FROM events WHERE pos IS NOT NULL
), stamped AS (
	UPDATE events e SET pos = base.top + todo.n
	FROM todo, base
	WHERE e.seq = todo.seq AND e.pos IS NULL
	RETURNING e.pos
), summary AS (
	SELECT count(*) AS n, coalesce(max(pos), (SELECT top FROM base)) AS top FROM stamped
)
SELECT n, top, CASE WHEN n > 0 THEN pg_notify($2, $3) END FROM summary`

// readSQL reads up to $2 events above position $1 with their items, in
// order. An addition without the item in the event (inserted by a server
// of the version before 0011, during an upgrade) takes it from items.
const readSQL = `
SELECT e.pos, e.kind, e.item_id, coalesce(e.version, i.version, 1), coalesce(e.name, i.name, ''),
	CASE WHEN e.name IS NULL THEN i.description ELSE e.description END,
	coalesce(e.created_at, i.created_at, 'epoch'), coalesce(e.created_by, i.created_by, 0), e.updated_at
FROM (SELECT * FROM events WHERE pos > $1 ORDER BY pos LIMIT $2) e
LEFT JOIN LATERAL (
	-- One look-up by ID per event that needs it (see logPlans): LIMIT
	-- keeps the planner from making this a join, which it did as a merge
	-- join that read the whole primary key.
	SELECT * FROM items WHERE id = e.item_id AND e.name IS NULL AND e.kind = 'item_added' LIMIT 1
) i ON true
ORDER BY e.pos`

// Subscribe implements items.Broker. The subscription gets the items that
// any process sharing the database (this one included) commits, in the
// order of the log, which is the same for every subscriber of every
// process, each item once: with afterItem = FromNow, those committed after
// Subscribe returns, and none committed before it was called; with
// afterItem > 0, those whose events follow that item's, read from the
// database first (0: every item).
//
// The log (see docs/log.md): AddItem inserts an item and its event, which
// has no position yet, in one statement, without a lock shared by writers.
// After commit, a stamping round, under an advisory lock that only
// stamping takes, numbers the committed events that have no position on
// from the newest position and notifies every process. So positions are
// given in an order in which they become visible: a reader that sees
// position P sees every position below it, and "the events above my
// position" is exactly "the events I have not read", which ordering by
// item ID is not once insertions commit independently.
//
// Each process follows the log with one goroutine that, when woken (by an
// AddItem of this process, by a notification that another process
// stamped, or every second), runs a stamping round and appends the events
// above the head of the process's log (pubsub.Log), in pages. A subscriber
// is a position in that log: it reads from memory, or from the database
// when it is behind, so a burst delays subscribers but drops none. A lost
// wake-up (a writer that died after its commit, a notification sent while
// the listening connection was down) delays events by a second at most,
// never loses them.
//
// afterItem > 0 that names no item: after the event of the greatest item
// ID below it; when it is above every item ID, from now, the items with a
// greater ID only (those with a smaller one that commit later are passed
// over).
//
// Subscribe fails with an internal error when the database does not
// answer, and with code Unavailable when the store is closed or shutting
// down.
func (s *Store) Subscribe(ctx context.Context, afterItem int64) (*items.Subscription, error) {
	return s.Follow(ctx, items.ItemAdded, afterItem)
}

// Follow implements items.Broker as Subscribe does; an update or deletion
// of afterItem is stamped first if it has no position yet.
func (s *Store) Follow(ctx context.Context, kind items.EventKind, afterItem int64) (*items.Subscription, error) {
	select {
	case <-s.done:
		return nil, errClosed
	default:
	}
	after, above, err := s.startAfterKind(ctx, kind, afterItem)
	if err != nil {
		select {
		case <-s.done:
			return nil, errClosed
		default:
			return nil, translate("subscribe", err)
		}
	}
	if above && kind == items.ItemAdded {
		return s.events.FollowAbove(ctx, after, afterItem)
	}
	return s.events.Follow(ctx, kind, after)
}

// startAfterKind returns the position that a subscription to the events of
// kind starts after: that of the oldest such event of afterItem (see
// items.Broker.Follow), else where startAfter says.
func (s *Store) startAfterKind(ctx context.Context, kind items.EventKind, afterItem int64) (pos int64, above bool, err error) {
	if kind == items.ItemAdded || afterItem <= 0 {
		return s.startAfter(ctx, afterItem)
	}
	pos, err = s.stamped(ctx, func(ctx context.Context) (pos *int64, err error) {
		err = s.pool.QueryRow(ctx, `SELECT pos FROM events WHERE item_id = $1 AND kind = $2
			ORDER BY seq LIMIT 1`, afterItem, kind.String()).Scan(&pos)
		return pos, err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return s.startAfter(ctx, afterItem)
	}
	return pos, false, err
}

// stamped returns the position of the event that look reads. When the
// event has none yet, a stamping round gives one to every event committed
// before it, and look reads again. look's errors are returned as they are.
func (s *Store) stamped(ctx context.Context, look func(context.Context) (*int64, error)) (int64, error) {
	for attempt := 0; ; attempt++ {
		bctx, cancel := s.bound(ctx)
		pos, err := look(bctx)
		cancel()
		switch {
		case err != nil:
			return 0, err
		case pos != nil:
			return *pos, nil
		case attempt > 0:
			return 0, errors.New("postgres: an event is still without a position after a stamping round")
		}
		if _, err := s.stampSince(ctx); err != nil {
			return 0, err
		}
	}
}

// startAfter returns the position that a subscription starts after, and
// whether afterItem is above every item ID: the position is then "now",
// and the items added later with an ID up to afterItem must not come.
func (s *Store) startAfter(ctx context.Context, afterItem int64) (pos int64, above bool, err error) {
	if afterItem == 0 {
		return 0, false, nil
	}
	if afterItem > 0 {
		pos, ok, err := s.positionOf(ctx, afterItem)
		if err != nil || ok {
			return pos, false, err
		}
	}
	// From now: a round that begins after this call stamps every event
	// committed before it, and the newest position it returns is above
	// them and below every event stamped later.
	now, err := s.stampSince(ctx)
	if err != nil || afterItem < 0 {
		return now, false, err
	}
	// An item above afterItem committed between the look-up and the
	// round would be at or below now, and missed: look again, now that
	// every event up to now is committed.
	pos, ok, err := s.positionOf(ctx, afterItem)
	if err != nil || ok {
		return pos, false, err
	}
	return now, true, nil
}

// positionOf returns the position of the event of the item with that ID,
// stamping it first if it has none yet; for an ID that names no item, that
// of the greatest item ID below it, or ok = false when it is above every
// item ID (of the items there, and of the additions logged, deleted items
// included).
func (s *Store) positionOf(ctx context.Context, id int64) (pos int64, ok bool, err error) {
	pos, err = s.stamped(ctx, func(ctx context.Context) (pos *int64, err error) {
		var itemID int64
		err = s.pool.QueryRow(ctx, `
			SELECT item_id, pos FROM events
			WHERE item_id <= $1 AND kind = 'item_added'
			ORDER BY item_id DESC LIMIT 1`, id).Scan(&itemID, &pos)
		if err != nil || itemID == id {
			return pos, err
		}
		var newest int64
		err = s.pool.QueryRow(ctx, `SELECT greatest(
			(SELECT coalesce(max(id), 0) FROM items),
			(SELECT coalesce(max(item_id), 0) FROM events))`).Scan(&newest)
		if err == nil && id > newest {
			err = errAboveAll
		}
		return pos, err
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, true, nil // every item is above id
	case errors.Is(err, errAboveAll):
		return 0, false, nil
	}
	return pos, err == nil, err
}

// errAboveAll is positionOf's look finding an ID above every item's.
var errAboveAll = errors.New("above every item ID")

// Shutdown lets each subscription deliver every item committed before it
// was called, by any process, then end with items.ErrGoingAway. It stamps
// and reads what the log has not appended yet first, for up to the
// store's timeouts.
func (s *Store) Shutdown() {
	ctx, cancel := s.bound(context.Background())
	defer cancel()
	top, err := s.stampSince(ctx)
	if err != nil {
		s.log.Warn("shutdown: could not stamp the last events; subscribers may miss the last items", "err", err)
	}
	for err == nil && s.events.Head() < top {
		var n int
		if n, err = s.catchUp(ctx); err == nil && n == 0 {
			err = errors.New("no event above the head")
		}
		if err != nil {
			s.log.Warn("shutdown: could not read the last events; subscribers may miss the last items", "err", err)
		}
	}
	s.events.Shutdown()
}

// stamp runs stamping rounds until no committed event lacks a position,
// and returns the newest position. Rounds of every process take turns.
func (s *Store) stamp(ctx context.Context) (int64, error) {
	for {
		n, top, err := s.stampRound(ctx)
		if err != nil || n < stampBatch {
			return top, err
		}
	}
}

// stampSince returns the newest position after stamping rounds that began
// after it was called, so that every event committed before the call has a
// position at or below it. Calls that come while such rounds run share the
// next ones: a thousand clients subscribing at once cost a few rounds, not
// a thousand.
func (s *Store) stampSince(ctx context.Context) (int64, error) {
	s.barrierMu.Lock()
	w := s.pending
	if w == nil {
		w = &stampWait{done: make(chan struct{})}
		s.pending = w
		if !s.stamping {
			s.stamping = true
			go s.stampPending()
		}
	}
	s.barrierMu.Unlock()
	select {
	case <-w.done:
		// The follower appends what these rounds stamped: the listener
		// ignores this process's own notifications.
		s.wakeStamper()
		return w.top, w.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// stampWait is the stamping that the callers of stampSince wait for.
type stampWait struct {
	done chan struct{} // closed once top and err are set
	top  int64
	err  error
}

// stampPending runs stamping rounds for the callers of stampSince while
// there are any: the calls that came before a round began wait for it,
// those that come during it for the next.
func (s *Store) stampPending() {
	for {
		s.barrierMu.Lock()
		w := s.pending
		s.pending = nil
		if w == nil {
			s.stamping = false
			s.barrierMu.Unlock()
			return
		}
		s.barrierMu.Unlock()
		ctx, cancel := s.bound(context.Background())
		w.top, w.err = s.stamp(ctx)
		cancel()
		close(w.done)
	}
}

// logPlans is the first statement of the transactions of stamping rounds
// and reads of the log: it sets, until commit, what makes their plans
// stay good as the events table grows. Without it, the statistics of a
// new events table (none at first, then a minute or more old) say that
// about one event lacks a position and that a third of the events are
// above any position, and the plans that are cheapest for that are
// quadratic or linear in the table: a nested loop that read every event
// to stamp once per event to stamp (measured: 0.7 s for 437 events, and
// rounds that timed out at a few thousand, at 4,000 additions a second),
// reads that scanned both tables. Those plans are then cached with the
// prepared statement for the life of the connection. With sequential
// scans and nested loops off, the plans left go through the indexes and
// cost what is stamped or read. JIT compilation goes off too: the penalty
// that turns a plan node off, where one must remain, would otherwise
// start it (most of a second per round).
const logPlans = `SELECT set_config('enable_seqscan', 'off', true), set_config('jit', 'off', true)`

// stampPlans is logPlans's settings with nested loops off too, for the
// statement of a stamping round that takes the lock.
const stampPlans = `set_config('enable_seqscan', 'off', true), set_config('enable_nestloop', 'off', true), set_config('jit', 'off', true)`

// stampRound runs one stamping round: the lock, then stampSQL, in one
// implicit transaction and one round trip. It returns how many events it
// stamped and the newest position. The lock statement sets logPlans's
// settings, and turns nested loops off (see logPlans).
func (s *Store) stampRound(ctx context.Context) (n int, top int64, err error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1::int4, $2::int4), `+stampPlans, stampLock, int32(s.itemsOID))
	b.Queue(stampSQL, stampBatch, s.channel, s.name)
	br := s.pool.SendBatch(ctx, b)
	if _, err = br.Exec(); err == nil {
		err = br.QueryRow().Scan(&n, &top, nil)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, 0, translate("stamp events", err)
	}
	return n, top, nil
}

// readEvents reads up to limit events above position after, in order: the
// pubsub.Reader of the log, for subscribers behind its memory.
func (s *Store) readEvents(ctx context.Context, after int64, limit int) ([]items.Event, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	b := &pgx.Batch{}
	b.Queue(logPlans)
	b.Queue(readSQL, after, limit)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return nil, translate("read events", err)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, translate("read events", err)
	}
	defer rows.Close()
	page := make([]items.Event, 0, min(limit, catchUpPage))
	for rows.Next() {
		var (
			e    items.Event
			it   = &e.Item
			kind string
		)
		if err := rows.Scan(&e.Pos, &kind, &it.ID, &it.Version, &it.Name, &it.Description, &it.CreatedAt, &it.CreatedByID, &it.UpdatedAt); err != nil {
			return nil, translate("read events", err)
		}
		e.Kind, _ = items.ParseEventKind(kind)
		if e.Kind == items.ItemDeleted {
			*it = items.Item{ID: it.ID}
		}
		it.CreatedAt = it.CreatedAt.UTC()
		if it.UpdatedAt != nil {
			t := it.UpdatedAt.UTC()
			it.UpdatedAt = &t
		}
		page = append(page, e)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("read events", err)
	}
	return page, nil
}

// catchUp appends to the log the events above its head, in pages, and
// returns how many.
func (s *Store) catchUp(ctx context.Context) (int, error) {
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	total := 0
	for {
		page, err := s.readEvents(ctx, s.events.Head(), catchUpPage)
		if err != nil {
			return total, err
		}
		s.events.Append(page...)
		total += len(page)
		if len(page) < catchUpPage {
			return total, nil
		}
	}
}

// advance runs a stamping round and appends what is new to the log.
func (s *Store) advance(ctx context.Context) (int, error) {
	if _, err := s.stamp(ctx); err != nil {
		return 0, err
	}
	return s.catchUp(ctx)
}

// wakeStamper asks the follower for a stamping round and a read; wake-ups
// that come while it works make one more round, not one each.
func (s *Store) wakeStamper() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// follow is the follower: it advances the log when woken and every
// s.cfg.sweep, until ctx ends; while the database fails it, it logs that
// once and tries again with backoff. It closes s.followed when it returns.
func (s *Store) follow(ctx context.Context) {
	defer close(s.followed)
	tick := time.NewTicker(s.cfg.sweep)
	defer tick.Stop()
	backoff := minBackoff
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-tick.C:
		}
		_, err := s.advance(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if !failing {
				s.log.Warn("event follower failed; retrying: items will be delivered late", "op", "follow", "err", err)
				failing = true
			}
			timer := time.NewTimer(backoff/2 + rand.N(backoff/2+1))
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
			backoff = min(2*backoff, maxBackoff)
			s.wakeStamper()
		case failing:
			s.log.Info("event follower recovered", "op", "follow")
			failing, backoff = false, minBackoff
		}
	}
}

// connectListener opens the listener's connection, LISTENs for stamping
// rounds and for revocations, and catches up with the revocations.
func (s *Store) connectListener(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.listenConfig)
	if err != nil {
		return nil, translate("connect the listener", err)
	}
	bctx, cancel := s.bound(ctx)
	defer cancel()
	for _, channel := range []string{s.channel, s.tokens.channel} {
		if _, err := conn.Exec(bctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
			closeConn(conn)
			return nil, translate("listen", err)
		}
	}
	if err := s.catchUpTokens(ctx, conn); err != nil {
		closeConn(conn)
		return nil, err
	}
	s.listenerPID.Store(conn.PgConn().PID())
	return conn, nil
}

// closeConn closes a connection that the listener is done with, without
// waiting long for a server that may be gone.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn.Close(ctx)
}

// listen is the listener: it wakes the follower at each notification that
// another round stamped events, until ctx ends, reconnecting whenever the
// connection fails. It closes s.done when it returns.
func (s *Store) listen(ctx context.Context, conn *pgx.Conn) {
	defer close(s.done)
	for {
		err := s.hear(ctx, conn)
		s.listenerPID.Store(0)
		closeConn(conn)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("listener lost its database connection; reconnecting: items added meanwhile will be delivered late, and revocations heard at the next poll",
			"op", "listen", "err", err)
		down, head := time.Now(), s.events.Head()
		conn = s.reconnect(ctx)
		if conn == nil {
			return
		}
		s.log.Info("listener reconnected", "op", "listen",
			"down_ms", time.Since(down).Milliseconds(), "caught_up", s.events.Head()-head)
	}
}

// hear wakes the follower at each notification of another process's
// stamping round, and records the revision of each revocation, until the
// connection fails or ctx ends. This process's own rounds are ignored:
// whoever ran the round wakes the follower if it needs to.
func (s *Store) hear(ctx context.Context, conn *pgx.Conn) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, s.cfg.idleCheck)
		n, err := conn.WaitForNotification(wctx)
		idle := wctx.Err() == context.DeadlineExceeded
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && idle:
			// A deadline leaves the connection usable: check it, with a
			// read of the revision.
			if err := s.catchUpTokens(ctx, conn); err != nil {
				return err
			}
		case err != nil:
			return err
		case n.Channel == s.tokens.channel:
			if err := s.heardRevision(n.Payload); err != nil {
				return err
			}
		case n.Payload != s.name:
			s.wakeStamper()
		}
	}
}

// reconnect connects the listener again, waiting longer after each failed
// attempt, and appends what was stamped while it was away. It returns the
// connection, or nil once ctx ends.
func (s *Store) reconnect(ctx context.Context) *pgx.Conn {
	backoff := minBackoff
	for attempt := 1; ; attempt++ {
		wait := backoff/2 + rand.N(backoff/2+1)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
		backoff = min(2*backoff, maxBackoff)

		conn, err := s.connectListener(ctx)
		if err == nil {
			// Listening now: whatever is stamped from here on is notified;
			// what was stamped before is read here.
			if _, err = s.advance(ctx); err == nil {
				return conn
			}
			s.listenerPID.Store(0)
			closeConn(conn)
		}
		if ctx.Err() != nil {
			return nil
		}
		s.log.Debug("listener could not reconnect", "op", "listen", "attempt", attempt, "err", err)
	}
}
