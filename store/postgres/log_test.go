package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"itemsapi/items"
	"itemsapi/store/postgres"
	"itemsapi/store/storetest"
)

// txRecord is one transaction of TestStampingRandom: when it began and
// when its commit returned, on the test's logical clock, and the items it
// inserted.
type txRecord struct {
	begin, end int64
	committed  bool
	ids        []int64
}

// TestStampingRandom runs random interleavings of concurrent writing
// transactions (some slow, sleeping inside the transaction; some rolled
// back), stamping rounds of two stores, and readers that follow the log by
// position, and checks the properties subscribers rely on:
//   - a reader never sees a gap: the positions it reads above its head
//     start right above it and have none missing, so "above my position"
//     is "what I have not read";
//   - a stamping round returns only once every event committed before it
//     was called has a position at or below the position it returns;
//   - a transaction that committed before another began has its events at
//     lower positions;
//   - in the end every committed event has exactly one position, a rolled
//     back one none, and every reader read the whole log.
//
// ITEMSAPI_STAMP_SEED replays a seed; ITEMSAPI_STAMP_TXS sets how many
// transactions each writer runs.
func TestStampingRandom(t *testing.T) {
	t.Parallel()
	u := newSchema(t)
	a, b := open(t, u, nil), open(t, u, nil)
	stampers := []interface {
		Stamp(context.Context) (int64, error)
	}{a, b}
	ctx := t.Context()
	pool, err := pgxpool.New(ctx, withParams(t, u, "pool_max_conns", "24"))
	if err != nil {
		t.Fatalf("pool: %v", err)
	}
	t.Cleanup(pool.Close)

	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ITEMSAPI_STAMP_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	txs := 25
	if s := os.Getenv("ITEMSAPI_STAMP_TXS"); s != "" {
		txs, _ = strconv.Atoi(s)
	}
	t.Logf("seed %d (ITEMSAPI_STAMP_SEED replays it)", seed)
	const writers, readers = 12, 3

	var (
		clock   atomic.Int64
		mu      sync.Mutex
		records []*txRecord
	)
	committedBefore := func(c int64) []int64 { // items of transactions whose commit returned before c
		mu.Lock()
		defer mu.Unlock()
		var ids []int64
		for _, r := range records {
			if r.committed && r.end < c {
				ids = append(ids, r.ids...)
			}
		}
		return ids
	}

	writing, cancelWriting := context.WithCancel(ctx)
	defer cancelWriting()
	var wg, bg sync.WaitGroup
	for w := range writers {
		rng := rand.New(rand.NewPCG(seed, uint64(w)))
		wg.Go(func() {
			for i := range txs {
				r := &txRecord{begin: clock.Add(1)}
				tx, err := pool.Begin(ctx)
				if err != nil {
					t.Errorf("begin: %v", err)
					return
				}
				for j := range 1 + rng.IntN(3) {
					var id int64
					name := fmt.Sprintf("w%d t%d i%d", w, i, j)
					if err := tx.QueryRow(ctx, unannouncedSQL, name, name).Scan(&id); err != nil {
						t.Errorf("insert: %v", err)
						tx.Rollback(ctx)
						return
					}
					r.ids = append(r.ids, id)
					if rng.IntN(4) == 0 { // slow: hold the transaction open
						if _, err := tx.Exec(ctx, `SELECT pg_sleep($1)`, float64(rng.IntN(60))/1000); err != nil {
							t.Errorf("sleep: %v", err)
						}
					}
				}
				if rng.IntN(5) == 0 {
					err = tx.Rollback(ctx)
				} else {
					err = tx.Commit(ctx)
					r.committed = err == nil
				}
				if err != nil {
					t.Errorf("end transaction: %v", err)
				}
				r.end = clock.Add(1)
				mu.Lock()
				records = append(records, r)
				mu.Unlock()
			}
		})
	}
	// Stamping rounds of both stores, at random moments; after each, every
	// event committed before the call has a position.
	for i := range 2 {
		rng := rand.New(rand.NewPCG(seed, 100+uint64(i)))
		bg.Go(func() {
			for writing.Err() == nil {
				c := clock.Add(1)
				top, err := stampers[rng.IntN(2)].Stamp(ctx)
				if err != nil {
					t.Errorf("Stamp() = %v", err)
					return
				}
				checkStamped(t, pool, committedBefore(c), top)
			}
		})
	}
	// Readers follow the log by position, as the follower does.
	logs := make([][]int64, readers)
	for r := range readers {
		bg.Go(func() { logs[r] = follow(t, writing, pool) })
	}
	wg.Wait()
	cancelWriting()
	bg.Wait()
	if t.Failed() {
		return
	}

	top, err := a.Stamp(ctx)
	if err != nil {
		t.Fatalf("Stamp() = %v", err)
	}
	pos := map[int64]int64{} // item → position
	rows, err := pool.Query(ctx, `SELECT item_id, pos FROM events WHERE item_id > 2`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var p *int64
		if err := rows.Scan(&id, &p); err != nil {
			t.Fatal(err)
		}
		if p == nil {
			t.Errorf("item %d: no position after a final stamping round", id)
			continue
		}
		if _, dup := pos[id]; dup {
			t.Errorf("item %d has two events", id)
		}
		pos[id] = *p
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	committed, rolledBack := 0, 0
	for _, r := range records {
		for _, id := range r.ids {
			_, ok := pos[id]
			switch {
			case r.committed && !ok:
				t.Errorf("item %d committed, has no event", id)
			case !r.committed && ok:
				t.Errorf("item %d rolled back, has an event at %d", id, pos[id])
			}
		}
		if r.committed {
			committed += len(r.ids)
		} else {
			rolledBack += len(r.ids)
		}
	}
	if got, want := top, int64(committed+2); got != want {
		t.Errorf("newest position %d, want %d: the demo items' and one per committed item, without gaps", got, want)
	}
	// Causality: a transaction that committed before another began is
	// before it in the log.
	violations := 0
	for _, x := range records {
		for _, y := range records {
			if !x.committed || !y.committed || x.end >= y.begin || violations > 10 {
				continue
			}
			for _, i := range x.ids {
				for _, j := range y.ids {
					if pos[i] >= pos[j] {
						violations++
						t.Errorf("item %d committed before item %d was inserted, but is at position %d ≥ %d", i, j, pos[i], pos[j])
					}
				}
			}
		}
	}
	// Every reader read the whole log, in position order.
	for r, got := range logs {
		rest := follow(t, nil, pool, got...)
		if int64(len(rest)) != top {
			t.Errorf("reader %d: %d positions after catching up, want %d", r, len(rest), top)
		}
	}
	t.Logf("%d transactions: %d items committed, %d rolled back; %d positions", len(records), committed, rolledBack, top)
}

// checkStamped checks that each item of ids has a position at or below top.
func checkStamped(t *testing.T, pool *pgxpool.Pool, ids []int64, top int64) {
	t.Helper()
	if len(ids) == 0 {
		return
	}
	var unstamped, above int
	err := pool.QueryRow(context.Background(), `
		SELECT count(*) FILTER (WHERE pos IS NULL), count(*) FILTER (WHERE pos > $2)
		FROM events WHERE item_id = ANY($1)`, ids, top).Scan(&unstamped, &above)
	if err != nil {
		t.Errorf("check stamped: %v", err)
		return
	}
	if unstamped > 0 || above > 0 {
		t.Errorf("after a stamping round that returned %d: of %d items committed before it began, %d have no position and %d one above it", top, len(ids), unstamped, above)
	}
}

// follow reads the log by position from the end of read until ctx ends
// (nil: until it reads nothing new), failing t at a gap, and returns every
// position read.
func follow(t *testing.T, ctx context.Context, pool *pgxpool.Pool, read ...int64) []int64 {
	t.Helper()
	for {
		head := int64(0)
		if len(read) > 0 {
			head = read[len(read)-1]
		}
		rows, err := pool.Query(context.Background(), `SELECT pos FROM events WHERE pos > $1 ORDER BY pos LIMIT 500`, head)
		if err != nil {
			t.Errorf("read: %v", err)
			return read
		}
		page, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			t.Errorf("read: %v", err)
			return read
		}
		for _, p := range page {
			if p != head+1 {
				t.Errorf("read position %d after %d: a reader above %d would have missed %d", p, head, head, head+1)
				return read
			}
			read = append(read, p)
			head = p
		}
		if len(page) == 0 && (ctx == nil || ctx.Err() != nil) {
			return read
		}
	}
}

// TestSubscribeBoundary subscribes from now, again and again, while
// writers add items and leave them unstamped (as a writer that died after
// its commit would), so that only the subscriptions stamp: a subscriber never receives an item whose addition
// returned before Subscribe was called, and receives every item whose
// addition began after Subscribe returned. A subscription after an
// unstamped item starts right after it.
func TestSubscribeBoundary(t *testing.T) {
	t.Parallel()
	u := newSchema(t)
	// No sweep during the test: only writers and subscribers stamp.
	s := openWith(t, postgres.WithSweep(postgres.Config{URL: u, MaxConns: 8}, time.Hour), slog.New(slog.DiscardHandler))
	conn := connect(t, u)

	// Resuming after an unstamped item.
	first := insertUnannounced(t, conn, "unstamped 1")
	second := insertUnannounced(t, conn, "unstamped 2")
	sub := storetest.Subscribe(t, s, first)
	if got := storetest.IDs(storetest.Receive(t, sub, 1)); got[0] != second {
		t.Errorf("Subscribe(after unstamped %d) received %v first, want %d", first, got, second)
	}

	type added struct {
		id         int64
		begin, end int64
	}
	var (
		clock atomic.Int64
		mu    sync.Mutex
		log   []added
	)
	writing, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for w := range 4 {
		c := connect(t, u)
		wg.Go(func() {
			for i := 0; writing.Err() == nil; i++ {
				a := added{begin: clock.Add(1)}
				a.id = insertUnannounced(t, c, fmt.Sprintf("w%d-%d", w, i))
				a.end = clock.Add(1)
				mu.Lock()
				log = append(log, a)
				mu.Unlock()
			}
		})
	}
	type subscriber struct {
		sub           *items.Subscription
		called, ended int64
	}
	var subs []subscriber
	for i := range 20 {
		// Committed, and unstamped unless a round has just run.
		a := added{begin: clock.Add(1), id: insertUnannounced(t, conn, fmt.Sprintf("before %d", i))}
		a.end = clock.Add(1)
		mu.Lock()
		log = append(log, a)
		mu.Unlock()
		called := clock.Add(1)
		sub := storetest.Subscribe(t, s, items.FromNow)
		subs = append(subs, subscriber{sub, called, clock.Add(1)})
	}
	stop()
	wg.Wait()
	if t.Failed() {
		return
	}
	// The last item, added after every Subscribe returned, ends each
	// subscriber's stream.
	last := storetest.AddItems(t, s, "last")[0]
	for i, sub := range subs {
		got := map[int64]bool{}
		for it := range sub.sub.C {
			got[it.ID] = true
			if it.ID == last.ID {
				break
			}
		}
		for _, a := range log {
			switch {
			case a.end < sub.called && got[a.id]:
				t.Errorf("subscriber %d received item %d, added before it subscribed", i, a.id)
			case a.begin > sub.ended && !got[a.id]:
				t.Errorf("subscriber %d missed item %d, added after it subscribed", i, a.id)
			}
		}
	}
	t.Logf("%d items added around %d subscriptions", len(log), len(subs))
}

// TestShutdownDeliversUnstamped commits items that nobody has stamped or
// announced (as another process that died after its commits would leave
// them) just before Shutdown: the subscribers still get them, then
// ErrGoingAway.
func TestShutdownDeliversUnstamped(t *testing.T) {
	t.Parallel()
	u := newSchema(t)
	s := openWith(t, postgres.WithSweep(postgres.Config{URL: u, MaxConns: 4}, time.Hour), slog.New(slog.DiscardHandler))
	sub := storetest.Subscribe(t, s, items.FromNow)
	conn := connect(t, u)
	var want []int64
	for i := range 3 {
		want = append(want, insertUnannounced(t, conn, fmt.Sprintf("unannounced %d", i)))
	}
	s.Shutdown()
	got, err := storetest.WaitEnd(t, sub)
	if diff := cmp.Diff(want, storetest.IDs(got)); diff != "" {
		t.Errorf("received before the end (-committed +received):\n%s", diff)
	}
	if !errors.Is(err, items.ErrGoingAway) {
		t.Errorf("Err() = %v, want items.ErrGoingAway", err)
	}
}
