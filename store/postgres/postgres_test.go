package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"

	"itemsapi/internal/testserver"
	"itemsapi/items"
	"itemsapi/store/postgres"
	"itemsapi/store/storetest"
)

// The PostgreSQL tests' schemas and connections (see testserver): each
// test gets a schema of its own; without TEST_DATABASE_URL it skips, or
// fails under CI=true.
var (
	databaseURL = testserver.PostgresURL
	adminExec   = testserver.PostgresExec
	newSchema   = testserver.PostgresSchema
	withParams  = testserver.WithParams
	connect     = testserver.PostgresConn
)

// randomName returns prefix followed by random hexadecimal digits.
func randomName(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// recorder is a slog.Handler that keeps the records for a test to check.
type recorder struct {
	mu      *sync.Mutex
	records *[]slog.Record
	next    slog.Handler
}

func newRecorder(t testing.TB) *recorder {
	return &recorder{
		mu:      new(sync.Mutex),
		records: new([]slog.Record),
		next:    slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}),
	}
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(ctx context.Context, rec slog.Record) error {
	r.mu.Lock()
	*r.records = append(*r.records, rec.Clone())
	r.mu.Unlock()
	return r.next.Handle(ctx, rec)
}

func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &recorder{r.mu, r.records, r.next.WithAttrs(as)}
}

func (r *recorder) WithGroup(name string) slog.Handler {
	return &recorder{r.mu, r.records, r.next.WithGroup(name)}
}

// count returns how many records have that level and message.
func (r *recorder) count(level slog.Level, msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range *r.records {
		if rec.Level == level && rec.Message == msg {
			n++
		}
	}
	return n
}

// sum returns the sum of the integer attribute key of the records that have
// that level and message.
func (r *recorder) sum(level slog.Level, msg, key string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for _, rec := range *r.records {
		if rec.Level != level || rec.Message != msg {
			continue
		}
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				n += a.Value.Int64()
			}
			return true
		})
	}
	return n
}

// waitFor polls cond until it holds, failing t if it does not within
// storetest.Timeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(storetest.Timeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", storetest.Timeout, what)
		}
		<-tick.C
	}
}

// open opens a store on u, closed when t ends.
func open(t testing.TB, u string, log *slog.Logger) *postgres.Store {
	t.Helper()
	return openWith(t, postgres.Config{URL: u, MaxConns: 4}, log)
}

// twoProcesses opens two stores on one new schema, as two processes of
// the server would.
func twoProcesses(t testing.TB) (a, b *postgres.Store) {
	t.Helper()
	u := newSchema(t)
	return open(t, u, nil), open(t, u, nil)
}

// openWith opens a store with cfg, logging to log (nil: to the test's
// output), and closes it when the test ends.
func openWith(t testing.TB, cfg postgres.Config, log *slog.Logger) *postgres.Store {
	t.Helper()
	if log == nil {
		log = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	s, err := postgres.Open(t.Context(), cfg, log)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	databaseURL(t)
	storetest.Run(t, func(t *testing.T) items.Store {
		return open(t, newSchema(t), nil)
	})
}

// TestOpenConcurrently starts several processes' worth of stores on one new
// schema at once: each migration runs once.
func TestOpenConcurrently(t *testing.T) {
	t.Parallel()
	u := newSchema(t)
	const stores = 4
	errs := make([]error, stores)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), postgres.Config{URL: u, MaxConns: 2}, slog.New(slog.NewTextHandler(t.Output(), nil)))
			errs[i] = err
			if err == nil {
				s.Close()
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open() %d = %v", i, err)
		}
	}
	conn := connect(t, u)
	rows, err := conn.Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	if len(versions) == 0 || versions[0] != 1 || !slices.IsSorted(versions) || len(slices.Compact(slices.Clone(versions))) != len(versions) {
		t.Errorf("schema_migrations versions = %v, want 1, 2, … each once", versions)
	}
	var names []string
	rows, err = conn.Query(t.Context(), `SELECT name FROM items ORDER BY id`)
	if err == nil {
		names, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil || !slices.Equal(names, []string{"Apple", "Banana"}) {
		t.Errorf("items after concurrent Opens = %q, %v, want the demo items once", names, err)
	}
}

// TestNewerSchema checks that a binary leaves alone a database that a newer
// one has migrated.
func TestNewerSchema(t *testing.T) {
	t.Parallel()
	u := newSchema(t)
	open(t, u, nil).Close()
	conn := connect(t, u)
	if _, err := conn.Exec(t.Context(), `INSERT INTO schema_migrations (version) VALUES (999)`); err != nil {
		t.Fatalf("pretend a newer migration: %v", err)
	}
	s, err := postgres.Open(t.Context(), postgres.Config{URL: u}, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err == nil {
		s.Close()
		t.Fatalf("Open() of a schema at version 999 = nil error, want ErrNewerSchema")
	}
	if !errors.Is(err, postgres.ErrNewerSchema) {
		t.Errorf("Open() of a schema at version 999 = %v, want ErrNewerSchema", err)
	}
	t.Logf("Open() = %v", err)
}

// TestCrossStoreDelivery runs two stores on one schema, as two server
// processes would: a subscriber of one gets what the other adds.
func TestCrossStoreDelivery(t *testing.T) {
	t.Parallel()
	a, b := twoProcesses(t)
	sub := storetest.Subscribe(t, a, items.FromNow)
	subB := storetest.Subscribe(t, b, items.FromNow)
	const writers, each = 4, 50
	added := storetest.AddConcurrently(t, b, writers, each)
	if t.Failed() {
		return
	}
	got := storetest.Receive(t, sub, writers*each)

	byID := make(map[int64]items.Item, len(got))
	for _, it := range got {
		byID[it.ID] = it
	}
	for w, its := range added {
		for _, want := range its {
			if diff := cmp.Diff(want, byID[want.ID]); diff != "" {
				t.Errorf("item %d of writer %d (-added +received):\n%s", want.ID, w, diff)
			}
		}
	}
	storetest.CheckEachInOrder(t, got, added)
	// A subscriber of the writing process reads the same order.
	if diff := cmp.Diff(storetest.IDs(got), storetest.IDs(storetest.Receive(t, subB, len(got)))); diff != "" {
		t.Errorf("the subscribers of the two stores read different orders (-a +b):\n%s", diff)
	}
	// And nothing came twice: the next item is the next one added.
	last := storetest.AddItems(t, a, "last")[0]
	if next := storetest.Receive(t, sub, 1)[0]; next.ID != last.ID {
		t.Errorf("after %d items, received %v, want %v", len(got), next, last)
	}
}

// TestListenerReconnect kills the listener's connection while another
// process adds items: the listener reconnects, logs the loss once, and
// delivers what was added meanwhile.
func TestListenerReconnect(t *testing.T) {
	t.Parallel()
	u := newSchema(t)
	rec := newRecorder(t)
	s := open(t, u, slog.New(rec))
	other := open(t, u, nil)
	sub := storetest.Subscribe(t, s, items.FromNow)
	want := storetest.AddItems(t, s, "before")
	got := storetest.Receive(t, sub, 1)

	for round := range 2 {
		pid := s.ListenerPID()
		if pid == 0 {
			t.Fatalf("round %d: ListenerPID() = 0 before the kill", round)
		}
		adminExec(t, t.Context(), fmt.Sprintf("SELECT pg_terminate_backend(%d)", pid))
		// The listener waits 50 ms at least before it reconnects: these
		// commit meanwhile, in the other process, whose notification s
		// does not hear; it catches up with them.
		waitFor(t, "the listener to notice", func() bool { return s.ListenerPID() == 0 })
		want = append(want, storetest.AddItems(t, other, fmt.Sprintf("during %d.1", round), fmt.Sprintf("during %d.2", round))...)
		got = append(got, storetest.Receive(t, sub, 2)...)
		waitFor(t, "the listener to reconnect", func() bool { return s.ListenerPID() != 0 })
		// And these once it is back.
		want = append(want, storetest.AddItems(t, other, fmt.Sprintf("after %d", round))...)
		got = append(got, storetest.Receive(t, sub, 1)...)
		if now := s.ListenerPID(); now == pid || now == 0 {
			t.Errorf("round %d: ListenerPID() = %d after reconnecting, want a new backend's (was %d)", round, now, pid)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("received items mismatch (-added +received):\n%s", diff)
	}
	if n := rec.sum(slog.LevelInfo, "listener reconnected", "caught_up"); n == 0 {
		t.Errorf("the listener caught up with no item after reconnecting, want the items added while it was away")
	}
	const lost, back = "listener lost its database connection; reconnecting: items added meanwhile will be delivered late, and revocations heard at the next poll", "listener reconnected"
	if n := rec.count(slog.LevelWarn, lost); n != 2 {
		t.Errorf("logged %d warnings %q for 2 lost connections, want 2", n, lost)
	}
	if n := rec.count(slog.LevelInfo, back); n != 2 {
		t.Errorf("logged %q %d times, want 2", back, n)
	}
}

// TestSweep commits an item and its event the way AddItem does, but wakes
// nobody, as a writer that died between its commit and its wake-up: the
// follower's sweep stamps and delivers it.
func TestSweep(t *testing.T) {
	t.Parallel()
	u := newSchema(t)
	cfg := postgres.WithSweep(postgres.Config{URL: u}, 20*time.Millisecond)
	s := openWith(t, cfg, nil)
	sub := storetest.Subscribe(t, s, items.FromNow)
	conn := connect(t, u)
	id := insertUnannounced(t, conn, "unannounced")
	want, err := s.Item(t.Context(), id)
	if err != nil {
		t.Fatalf("Item(%d) = %v", id, err)
	}
	if diff := cmp.Diff([]items.Item{want}, storetest.Receive(t, sub, 1)); diff != "" {
		t.Errorf("received items mismatch (-added +received):\n%s", diff)
	}
}

// insertUnannounced commits an item and its unstamped event on conn, as
// AddItem does, and returns the item's ID; it wakes no follower.
func insertUnannounced(t testing.TB, conn *pgx.Conn, name string) int64 {
	t.Helper()
	var id int64
	err := conn.QueryRow(t.Context(), unannouncedSQL, name, items.FoldString(name)).Scan(&id)
	if err != nil {
		t.Fatalf("insert: %v", err)
	}
	return id
}

// unannouncedSQL is AddItem's insertion, without a creator.
const unannouncedSQL = `
WITH added AS (
	INSERT INTO items (name, name_folded, created_at) VALUES ($1, $2, clock_timestamp()) RETURNING id
), event AS (
	INSERT INTO events (item_id) SELECT id FROM added
)
SELECT id FROM added`

// TestRecovers kills every connection of a store, as a database restart
// would: Ping fails or succeeds but never hangs, and once it succeeds again
// the store works and delivers as before.
func TestRecovers(t *testing.T) {
	t.Parallel()
	u := newSchema(t)
	app := randomName("itemsapi_test_")
	u = withParams(t, u, "application_name", app)
	s := open(t, u, nil)
	storetest.AddItems(t, s, "warm up")
	adminExec(t, t.Context(), fmt.Sprintf(
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '%s'", app))
	waitFor(t, "Ping to succeed", func() bool { return s.Ping(t.Context()) == nil })
	var sub *items.Subscription
	waitFor(t, "Subscribe to succeed", func() bool {
		var err error
		sub, err = s.Subscribe(t.Context(), items.FromNow)
		return err == nil
	})
	var want []items.Item
	waitFor(t, "AddItem to succeed", func() bool {
		it, err := s.AddItem(t.Context(), items.NewItem{Name: "after the restart"})
		if err == nil {
			want = append(want, it)
		}
		return err == nil
	})
	if diff := cmp.Diff(want, storetest.Receive(t, sub, 1)); diff != "" {
		t.Errorf("received items mismatch (-added +received):\n%s", diff)
	}
}

// TestInvalidText checks that text PostgreSQL refuses is the client's
// error, never an internal one.
func TestInvalidText(t *testing.T) {
	t.Parallel()
	s := open(t, newSchema(t), nil)
	ctx := t.Context()
	_, hash := items.NewToken()
	for _, bad := range []string{"nul\x00inside", "\x00", "invalid \xff utf-8", "cut \xc3"} {
		calls := map[string]func() error{
			"Items": func() error {
				_, err := s.Items(ctx, items.ItemQuery{Search: bad, Limit: 10})
				return err
			},
			"CountItems": func() error { _, err := s.CountItems(ctx, bad); return err },
			"AddItem name": func() error {
				_, err := s.AddItem(ctx, items.NewItem{Name: bad})
				return err
			},
			"AddItem description": func() error {
				_, err := s.AddItem(ctx, items.NewItem{Name: "ok", Description: &bad})
				return err
			},
			"AddToken": func() error { _, err := s.AddToken(ctx, bad, items.RoleUser, hash); return err },
		}
		for name, call := range calls {
			if err := call(); items.ErrorCode(err) != items.Invalid {
				t.Errorf("%s(%q) = %v (code %q), want code %q", name, bad, err, items.ErrorCode(err), items.Invalid)
			}
		}
	}
	if n, err := s.CountItems(ctx, ""); err != nil || n != len(items.DemoItems) {
		t.Errorf(`CountItems("") = %d, %v, want %d: nothing invalid stored`, n, err, len(items.DemoItems))
	}
}

// TestSearchThroughIndex runs searches with the planner made to use the
// trigram index, so that its answers are checked too, not only those of a
// scan.
func TestSearchThroughIndex(t *testing.T) {
	t.Parallel()
	u := withParams(t, newSchema(t), "enable_seqscan", "off", "enable_indexscan", "off")
	s := open(t, u, nil)
	ctx := t.Context()
	// With scans off, a bitmap scan of an order index for id > 0 is as
	// cheap as one of the trigram index on a few rows: drop them, so that
	// the searches go through the trigram index.
	if _, err := connect(t, u).Exec(ctx, `DROP INDEX items_changed, items_name_c`); err != nil {
		t.Fatalf("DROP INDEX: %v", err)
	}
	names := []string{
		"100% juice", "100 juice", "x_yz", "xayz", `back\slash`, "backslash",
		"Grüne Äpfel", "GRÜNE ÄPFEL", "grune apfel", "ΣΊΣΥΦΟΣ", "straße", "kiwi",
	}
	storetest.AddItems(t, s, names...)
	all := append([]string{"Apple", "Banana"}, names...)
	for _, q := range []string{"100%", "0% j", "x_y", "_yz", `k\s`, `ck\sl`, "äpfel", "ÄPFEL", "pfel", "σίσυφος", "STRAẞE", "\u212Aiwi", "juice", "zzzz", "%%%"} {
		var want []string
		for _, n := range all {
			if strings.Contains(items.FoldString(n), items.FoldString(q)) {
				want = append(want, n)
			}
		}
		got, err := s.Items(ctx, items.ItemQuery{Search: q, Limit: items.MaxPageSize + 1})
		if err != nil {
			t.Errorf("Items(Search %q) = %v", q, err)
			continue
		}
		if diff := cmp.Diff(want, storetest.Names(got), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Items(Search %q) mismatch (-want +got):\n%s", q, diff)
		}
		if n, err := s.CountItems(ctx, q); err != nil || n != len(want) {
			t.Errorf("CountItems(%q) = %d, %v, want %d", q, n, err, len(want))
		}
	}

	conn := connect(t, u)
	if _, err := conn.Exec(ctx, `ANALYZE items`); err != nil {
		t.Fatalf("ANALYZE: %v", err)
	}
	rows, err := conn.Query(ctx, `EXPLAIN SELECT id FROM items WHERE name_folded LIKE '%JUICE%' ESCAPE '\' AND id > 0 ORDER BY id LIMIT 21`)
	if err != nil {
		t.Fatalf("EXPLAIN: %v", err)
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("EXPLAIN: %v", err)
	}
	if !strings.Contains(strings.Join(plan, "\n"), "items_name_folded_trgm") {
		t.Errorf("the search does not use the trigram index even when scans are off:\n%s", strings.Join(plan, "\n"))
	}
}

// TestStatementTimeout holds a lock that every statement of the store
// waits for: the store answers with an error within its statement timeout
// instead of hanging, and works again once the lock is gone.
func TestStatementTimeout(t *testing.T) {
	t.Parallel()
	u := newSchema(t)
	ctx := t.Context()
	s, err := postgres.Open(ctx, postgres.Config{URL: u, StatementTimeout: 200 * time.Millisecond}, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { s.Close() })

	conn := connect(t, u)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE items IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatalf("lock items: %v", err)
	}
	start := time.Now()
	_, addErr := s.AddItem(ctx, items.NewItem{Name: "blocked"})
	_, readErr := s.Item(ctx, 1)
	elapsed := time.Since(start)
	for name, err := range map[string]error{"AddItem": addErr, "Item": readErr} {
		if items.ErrorCode(err) != items.Internal {
			t.Errorf("%s() under a lock = %v, want an internal error", name, err)
		}
	}
	if elapsed > 3*time.Second {
		t.Errorf("two calls under a lock took %v, want about twice the 200ms statement timeout", elapsed)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if _, err := s.AddItem(ctx, items.NewItem{Name: "free"}); err != nil {
		t.Errorf("AddItem() after the lock = %v", err)
	}
}

// TestOpenFailures needs no database: Open fails, quickly, without quoting
// the password.
func TestOpenFailures(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, url string }{
		{"unreachable", "postgres://alice:s3cr3t-pw@127.0.0.1:1/test?sslmode=disable"},
		{"malformed", "postgres://alice:s3cr3t-pw@127.0.0.1:notaport/test"},
		{"unknown parameter value", "postgres://alice:s3cr3t-pw@127.0.0.1:1/test?sslmode=sometimes"},
	}
	for _, tt := range tests {
		start := time.Now()
		s, err := postgres.Open(t.Context(), postgres.Config{URL: tt.url, ConnectTimeout: time.Second}, slog.New(slog.NewTextHandler(t.Output(), nil)))
		if err == nil {
			s.Close()
			t.Errorf("%s: Open(%q) = nil error", tt.name, tt.url)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t-pw") {
			t.Errorf("%s: Open() = %q, which quotes the password", tt.name, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: Open() took %v", tt.name, d)
		}
	}
}

// collector follows a store's items from now on, as a client would: when
// its subscription ends (the database went away), it subscribes again
// after the last item it received, until the test ends.
type collector struct {
	mu  sync.Mutex
	got []items.Item
}

func collect(t *testing.T, s *postgres.Store) *collector {
	t.Helper()
	c := &collector{}
	sub := storetest.Subscribe(t, s, items.FromNow)
	go func() {
		for {
			for it := range sub.C {
				c.mu.Lock()
				c.got = append(c.got, it)
				c.mu.Unlock()
			}
			if t.Context().Err() != nil {
				return
			}
			c.mu.Lock()
			last := int64(0)
			if len(c.got) > 0 {
				last = c.got[len(c.got)-1].ID
			}
			c.mu.Unlock()
			retry := time.NewTicker(20 * time.Millisecond)
			var err error
			for sub, err = s.Subscribe(t.Context(), last); err != nil; sub, err = s.Subscribe(t.Context(), last) {
				select {
				case <-t.Context().Done():
					retry.Stop()
					return
				case <-retry.C:
				}
			}
			retry.Stop()
		}
	}()
	return c
}

// items returns what c has received so far.
func (c *collector) items() []items.Item {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

// has reports whether c has received every item of ids.
func (c *collector) has(ids map[int64]bool) bool {
	got := c.items()
	if len(got) < len(ids) {
		return false
	}
	n := 0
	for _, it := range got {
		if ids[it.ID] {
			n++
		}
	}
	return n >= len(ids)
}

// loadAndCheck adds items from writers goroutines spread over stores (each
// until stop is closed, or each items of them when stop is nil, pacing
// each at most one per every, when positive) while disrupt runs, then
// checks that every collector received every acknowledged item exactly
// once, in one order that is the same for all, keeping each writer's
// order. Items whose addition failed may be there or not (a commit whose
// answer was lost), but then in every collector alike.
func loadAndCheck(t *testing.T, stores []*postgres.Store, cols []*collector, writers, each int, every time.Duration, stop <-chan struct{}) {
	t.Helper()
	acked := make([][]int64, writers)
	var wg sync.WaitGroup
	for w := range writers {
		s := stores[w%len(stores)]
		wg.Go(func() {
			var tick <-chan time.Time
			if every > 0 {
				ticker := time.NewTicker(every)
				defer ticker.Stop()
				tick = ticker.C
			}
			for i := 0; ; i++ {
				if stop == nil && i == each {
					return
				}
				if tick != nil {
					<-tick
				}
				select {
				case <-stop:
					return
				default:
				}
				it, err := s.AddItem(t.Context(), items.NewItem{Name: fmt.Sprintf("w%d-%d", w, i)})
				if err == nil {
					acked[w] = append(acked[w], it.ID)
				}
			}
		})
	}
	wg.Wait()
	want := map[int64]bool{}
	for _, ids := range acked {
		for _, id := range ids {
			want[id] = true
		}
	}
	for i, c := range cols {
		waitFor(t, fmt.Sprintf("collector %d to receive the %d acknowledged items", i, len(want)), func() bool { return c.has(want) })
	}
	first := storeIDs(cols[0].items())
	for i, c := range cols {
		got := storeIDs(c.items())
		seen := map[int64]int{}
		for j, id := range got {
			if k, dup := seen[id]; dup {
				t.Errorf("collector %d: item %d received twice, at %d and %d", i, id, k, j)
			}
			seen[id] = j
		}
		for w, ids := range acked {
			for j := 1; j < len(ids); j++ {
				if seen[ids[j]] < seen[ids[j-1]] {
					t.Errorf("collector %d: writer %d's item %d before its item %d", i, w, ids[j], ids[j-1])
				}
			}
		}
		// Collectors may still be receiving unacknowledged items: compare
		// what they all have.
		n := min(len(got), len(first))
		if diff := cmp.Diff(first[:n], got[:n]); diff != "" {
			t.Errorf("collectors 0 and %d received different orders (-0 +%d):\n%s", i, i, diff)
		}
	}
	t.Logf("%d items acknowledged, %d received by each of %d collectors", len(want), len(first), len(cols))
}

func storeIDs(its []items.Item) []int64 {
	ids := make([]int64, len(its))
	for i, it := range its {
		ids[i] = it.ID
	}
	return ids
}

// TestListenerKillUnderLoad cuts the listeners' connections again and
// again while two stores on one schema add items from many goroutines:
// every subscriber of both still receives every acknowledged item once, in
// one order.
func TestListenerKillUnderLoad(t *testing.T) {
	t.Parallel()
	a, b := twoProcesses(t)
	cols := []*collector{collect(t, a), collect(t, a), collect(t, b), collect(t, b)}

	stop := make(chan struct{})
	kills := make(chan int)
	go func() {
		n := 0
		defer func() { kills <- n }()
		testserver.Ticks(stop, 10*time.Millisecond, func() bool {
			for _, s := range []*postgres.Store{a, b} {
				if pid := s.ListenerPID(); pid != 0 {
					adminExec(t, t.Context(), fmt.Sprintf("SELECT pg_terminate_backend(%d)", pid))
					n++
				}
			}
			return true
		})
	}()
	const writers, each = 16, 40
	// Writers on b mostly: a's subscribers hear of them only through its
	// listener (or its sweep).
	loadAndCheck(t, []*postgres.Store{b, b, b, a}, cols, writers, each, 0, nil)
	close(stop)
	if n := <-kills; n < 2 {
		t.Errorf("killed the listeners %d times during the load, want several", n)
	} else {
		t.Logf("killed the listeners %d times", n)
	}
}

// TestPostgresRestart restarts the PostgreSQL server while two stores add
// about 500 items a second: every subscriber (resubscribing after its last
// item when its subscription ends, as a client does) receives every
// acknowledged item once, in one order. It restarts the server that
// TEST_DATABASE_URL names, which other tests may be using: it runs only
// with ITEMSAPI_PG_RESTART=1 (.ci/run sets it), and needs pg_ctlcluster.
func TestPostgresRestart(t *testing.T) {
	if os.Getenv("ITEMSAPI_PG_RESTART") != "1" {
		testserver.Skip(t, "PostgreSQL restart", "it restarts PostgreSQL: set ITEMSAPI_PG_RESTART=1 to run it (.ci/run does, alone)")
	}
	a, b := twoProcesses(t)
	cols := []*collector{collect(t, a), collect(t, b)}
	stop := make(chan struct{})
	restarted := make(chan error, 1)
	go func() {
		defer close(stop)
		// Load before, during and after the restart.
		select {
		case <-time.After(time.Second):
		case <-t.Context().Done():
			return
		}
		restarted <- restartPostgres(t)
		waitFor(t, "the stores to answer again", func() bool { return a.Ping(t.Context()) == nil && b.Ping(t.Context()) == nil })
		select {
		case <-time.After(time.Second):
		case <-t.Context().Done():
		}
	}()
	// 10 writers, one item each 20 ms: 500 a second.
	loadAndCheck(t, []*postgres.Store{a, b}, cols, 10, 0, 20*time.Millisecond, stop)
	if err := <-restarted; err != nil {
		t.Fatalf("restart PostgreSQL: %v", err)
	}
}

// restartPostgres restarts the local cluster with pg_ctlcluster.
func restartPostgres(t *testing.T) error {
	versions, err := os.ReadDir("/etc/postgresql")
	if err != nil || len(versions) != 1 {
		return fmt.Errorf("want one version under /etc/postgresql: %v", err)
	}
	out, err := exec.CommandContext(t.Context(), "pg_ctlcluster", "--skip-systemctl-redirect",
		versions[0].Name(), "main", "restart").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Logf("PostgreSQL restarted")
	return nil
}
