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

// errListenerDown is the error of a Subscribe that waited too long for the
// listener to reconnect.
var errListenerDown = items.Errorf(items.Unavailable, "item notifications are not available at the moment: try again")

// pendingSub is a Subscribe that waits for the listener to publish the item
// with ID after before its subscriber joins the hub.
type pendingSub struct {
	ctx   context.Context // the subscription's
	after int64
	reply chan subResult // buffered: the listener never waits on it
}

type subResult struct {
	sub *items.Subscription
	err error
}

// Subscribe implements items.Broker. The subscription gets every item that
// any process sharing the database (this one included) commits after
// Subscribe returns, in ID order, which is also the order of the commits,
// each item once; it gets no item committed before Subscribe was called.
//
// How: one connection per Store, outside the pool, LISTENs on the items
// table's channel; AddItem notifies it in the transaction that inserts. The
// listener reads the items above the last one it published, in ID order,
// and publishes them to the Store's hub. Since insertions take a lock that
// makes IDs commit in order (see addItemSQL), "above the last one
// published" is exactly "not yet published": a notification is only a
// wake-up call, and a batch of them costs one query. Subscribe reads the
// newest ID committed and joins the hub right after the listener has
// published that item, under the lock that publishing holds, so a
// subscriber sees neither older items nor a gap.
//
// When the listening connection drops, the listener logs it once, at warn
// level, and reconnects with backoff; once it listens again it reads what
// was committed meanwhile, so subscribers miss nothing: they get those
// items late, in order. A subscriber that falls pubsub.DefaultBuffer items
// behind (for instance during the catch-up after a long outage) is dropped
// with an error with code Unavailable, as any slow subscriber is.
//
// Subscribe fails with an internal error when the database does not
// answer, and with code Unavailable when the store is closed or when the
// listener has not caught up within the store's timeouts; when ctx ends
// while it waits, it returns ctx's error.
func (s *Store) Subscribe(ctx context.Context) (*items.Subscription, error) {
	select {
	case <-s.done:
		return nil, errClosed
	default:
	}
	var newest int64
	bctx, cancel := s.bound(ctx)
	err := s.pool.QueryRow(bctx, `SELECT coalesce(max(id), 0) FROM items`).Scan(&newest)
	cancel()
	if err != nil {
		select {
		case <-s.done:
			return nil, errClosed
		default:
			return nil, translate("subscribe", err)
		}
	}

	s.mu.Lock()
	if s.delivered >= newest {
		defer s.mu.Unlock()
		return s.hub.Subscribe(ctx)
	}
	p := &pendingSub{ctx: ctx, after: newest, reply: make(chan subResult, 1)}
	s.pending = append(s.pending, p)
	s.mu.Unlock()

	timer := time.NewTimer(s.cfg.ConnectTimeout + s.cfg.StatementTimeout + maxBackoff)
	defer timer.Stop()
	var failure error
	select {
	case r := <-p.reply:
		return r.sub, r.err
	case <-ctx.Done():
		failure = ctx.Err()
	case <-timer.C:
		failure = errListenerDown
	case <-s.done:
		failure = errClosed
	}
	s.mu.Lock()
	for i, q := range s.pending {
		if q == p {
			s.pending = append(s.pending[:i], s.pending[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	// The listener may have added the subscriber meanwhile.
	select {
	case r := <-p.reply:
		return r.sub, r.err
	default:
		return nil, failure
	}
}

// publish hands it to the hub's subscribers, then lets in those waiting
// for it. Items come in ID order; publish ignores one it has seen.
func (s *Store) publish(it items.Item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if it.ID <= s.delivered {
		return
	}
	s.hub.Publish(it)
	s.delivered = it.ID
	if len(s.pending) == 0 {
		return
	}
	waiting := s.pending[:0]
	for _, p := range s.pending {
		if p.after > s.delivered {
			waiting = append(waiting, p)
			continue
		}
		sub, err := s.hub.Subscribe(p.ctx)
		p.reply <- subResult{sub, err}
	}
	clear(s.pending[len(waiting):])
	s.pending = waiting
}

// lastDelivered returns the ID of the last item published.
func (s *Store) lastDelivered() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delivered
}

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
