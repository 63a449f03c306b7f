package postgres

import (
	"context"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"itemsapi/items"
)

// How the listener behaves.
const (
	// catchUpPage is how many items the listener reads at once.
	catchUpPage = 1000
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

// errClosed ends subscriptions asked of a store that is closing.
var errClosed = items.Errorf(items.Unavailable, "subscription ended: the server is shutting down")

// Subscribe implements items.Broker. The subscription gets the items that
// any process sharing the database (this one included) commits, in ID
// order, which is also the order of the commits, each item once: with
// afterItem = FromNow those committed after Subscribe returns, else those
// above afterItem, read from the database first.
//
// How: one connection per Store, outside the pool, LISTENs on the items
// table's channel; AddItem notifies it in the transaction that inserts. The
// listener reads the items above the newest it has appended to the Store's
// log, in ID order, and appends them. Since insertions take a lock that
// makes IDs commit in order (see addItemSQL), "above the newest appended"
// is exactly "not yet appended": a notification is only a wake-up call,
// and a batch of them costs one query. A subscriber is a position in that
// log: it reads the items above its position from the log's memory, or
// from the database when it is behind it, so a catch-up burst after an
// outage delays subscribers but drops none.
//
// When the listening connection drops, the listener logs it once, at warn
// level, and reconnects with backoff; once it listens again it reads what
// was committed meanwhile, so subscribers miss nothing: they get those
// items late, in order.
//
// Subscribe fails with an internal error when the database does not
// answer, and with code Unavailable when the store is closed or shutting
// down.
func (s *Store) Subscribe(ctx context.Context, afterItem int64) (*items.Subscription, error) {
	select {
	case <-s.done:
		return nil, errClosed
	default:
	}
	after := afterItem
	if after < 0 {
		bctx, cancel := s.bound(ctx)
		err := s.pool.QueryRow(bctx, `SELECT coalesce(max(id), 0) FROM items`).Scan(&after)
		cancel()
		if err != nil {
			select {
			case <-s.done:
				return nil, errClosed
			default:
				return nil, translate("subscribe", err)
			}
		}
	}
	return s.events.Subscribe(ctx, after)
}

// Shutdown lets each subscription deliver every item committed before it
// was called, by any process, then end with items.ErrGoingAway. It reads
// what the listener has not appended yet first, for up to the store's
// timeouts.
func (s *Store) Shutdown() {
	ctx, cancel := s.bound(context.Background())
	defer cancel()
	var newest int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM items`).Scan(&newest); err != nil {
		s.log.Warn("shutdown: could not read the newest item; subscribers may miss the last ones", "err", err)
	}
	for head := s.events.Head(); head < newest; head = s.events.Head() {
		page, err := s.readEvents(ctx, head, catchUpPage)
		if err != nil || len(page) == 0 {
			s.log.Warn("shutdown: could not read the last items; subscribers may miss them", "err", err)
			break
		}
		s.events.Append(page...)
	}
	s.events.Shutdown()
}

// readEvents reads the log from the database for a subscriber behind the
// log's memory: an item's event is at the position of its ID.
func (s *Store) readEvents(ctx context.Context, after int64, limit int) ([]items.Event, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT `+itemColumns+` FROM items WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, translate("read events", err)
	}
	page, err := scanItems(rows, limit)
	if err != nil {
		return nil, translate("read events", err)
	}
	events := make([]items.Event, len(page))
	for i, it := range page {
		events[i] = items.Event{Pos: it.ID, Item: it}
	}
	return events, nil
}

// publish appends it to the log. Items come in ID order; the log ignores
// one it has seen.
func (s *Store) publish(it items.Item) {
	s.events.Append(items.Event{Pos: it.ID, Item: it})
}

// lastDelivered returns the ID of the last item published.
func (s *Store) lastDelivered() int64 { return s.events.Head() }

// connectListener opens the listener's connection and LISTENs.
func (s *Store) connectListener(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.listenConfig)
	if err != nil {
		return nil, translate("connect the listener", err)
	}
	bctx, cancel := s.bound(ctx)
	defer cancel()
	if _, err := conn.Exec(bctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		closeConn(conn)
		return nil, translate("listen", err)
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

// listen is the listener: it publishes what conn hears until ctx ends,
// reconnecting whenever the connection fails. It closes s.done when it
// returns.
func (s *Store) listen(ctx context.Context, conn *pgx.Conn) {
	defer close(s.done)
	for {
		err := s.follow(ctx, conn)
		s.listenerPID.Store(0)
		closeConn(conn)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("item listener lost its database connection; reconnecting: items added meanwhile will be delivered late",
			"op", "listen", "err", err)
		down := time.Now()
		var caught int
		conn, caught = s.reconnect(ctx)
		if conn == nil {
			return
		}
		s.log.Info("item listener reconnected", "op", "listen",
			"down_ms", time.Since(down).Milliseconds(), "caught_up", caught)
	}
}

// follow publishes the items that notifications announce, until the
// connection fails or ctx ends.
func (s *Store) follow(ctx context.Context, conn *pgx.Conn) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, s.cfg.idleCheck)
		n, err := conn.WaitForNotification(wctx)
		idle := wctx.Err() == context.DeadlineExceeded
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && idle:
			// A deadline leaves the connection usable. Checking it with a
			// query also publishes anything a lost notification announced.
		case err != nil:
			return err
		default:
			if id, err := strconv.ParseInt(n.Payload, 10, 64); err == nil && id <= s.lastDelivered() {
				continue // published with an earlier batch
			}
		}
		if _, err := s.catchUp(ctx, conn); err != nil {
			return err
		}
	}
}

// catchUp publishes the items committed above the last one published, in
// ID order, and returns how many.
func (s *Store) catchUp(ctx context.Context, conn *pgx.Conn) (int, error) {
	total := 0
	for {
		bctx, cancel := s.bound(ctx)
		rows, err := conn.Query(bctx,
			`SELECT `+itemColumns+` FROM items WHERE id > $1 ORDER BY id LIMIT $2`,
			s.lastDelivered(), catchUpPage)
		if err != nil {
			cancel()
			return total, err
		}
		page, err := scanItems(rows, 0) // usually one item or a few
		cancel()
		if err != nil {
			return total, err
		}
		for _, it := range page {
			s.publish(it)
		}
		total += len(page)
		if len(page) < catchUpPage {
			return total, nil
		}
	}
}

// reconnect connects the listener again, waiting longer after each failed
// attempt, and publishes what was committed while it was away. It returns
// the connection and how many items it caught up with, or nil once ctx
// ends.
func (s *Store) reconnect(ctx context.Context) (*pgx.Conn, int) {
	backoff := minBackoff
	for attempt := 1; ; attempt++ {
		wait := backoff/2 + rand.N(backoff/2+1)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, 0
		case <-timer.C:
		}
		backoff = min(2*backoff, maxBackoff)

		conn, err := s.connectListener(ctx)
		if err == nil {
			var n int
			if n, err = s.catchUp(ctx, conn); err == nil {
				return conn, n
			}
			s.listenerPID.Store(0)
			closeConn(conn)
		}
		if ctx.Err() != nil {
			return nil, 0
		}
		s.log.Debug("item listener could not reconnect", "op", "listen", "attempt", attempt, "err", err)
	}
}
