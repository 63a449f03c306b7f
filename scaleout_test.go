package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/jackc/pgx/v5"

	"itemsapi/internal/testserver"
)

// pgSchema returns TEST_DATABASE_URL pointed at a new schema that is
// dropped when t ends. Without the variable it skips, except under CI.
func pgSchema(t *testing.T) string { return testserver.PostgresSchema(t) }

// startOn starts a server on the PostgreSQL database db, with the admin
// token bootstrapped.
func startOn(t *testing.T, db string, args ...string) *testserver.Server {
	t.Helper()
	return start(t, map[string]string{"BOOTSTRAP_ADMIN_TOKEN": adminToken}, append([]string{"--db", db}, args...)...)
}

// TestTwoProcessesOnePostgres runs two servers on one database, as two
// replicas behind a load balancer.
func TestTwoProcessesOnePostgres(t *testing.T) {
	db := pgSchema(t)
	a := startOn(t, db)
	b := startOn(t, db)

	t.Run("a token made on one works on the other", func(t *testing.T) {
		var made struct{ CreateToken string }
		a.GraphQL(t, adminToken, `mutation { createToken(user: "dora") }`, &made)
		var me struct{ Me struct{ Name string } }
		b.GraphQL(t, made.CreateToken, `{ me { name } }`, &me)
		if me.Me.Name != "dora" {
			t.Errorf("me on the other process = %q, want dora", me.Me.Name)
		}
	})

	t.Run("a subscriber on one gets every item added on the other", func(t *testing.T) {
		sub := subscribe(t, a.URL, adminToken)
		const n = 50
		start := time.Now()
		for i := range n {
			if _, err := addItem(t.Context(), b.URL, fmt.Sprintf("via b %d", i)); err != nil {
				t.Fatal(err)
			}
		}
		for i := range n {
			select {
			case name := <-sub:
				if want := fmt.Sprintf("via b %d", i); name != want {
					t.Fatalf("item %d received = %q, want %q", i, name, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("received %d of %d items within 10 s", i, n)
			}
		}
		t.Logf("%d items added on B reached a subscriber on A in %v", n, time.Since(start))
	})

	t.Run("500 concurrent addItem over both lose nothing", func(t *testing.T) {
		const n = 500
		ids := make(chan string, n)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32)
		for i := range n {
			target := a.URL
			if i%2 == 1 {
				target = b.URL
			}
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				id, err := addItem(t.Context(), target, fmt.Sprintf("concurrent %d", i))
				if err != nil {
					t.Errorf("addItem %d: %v", i, err)
					return
				}
				ids <- id
			})
		}
		wg.Wait()
		close(ids)
		seen := map[string]bool{}
		for id := range ids {
			if seen[id] {
				t.Errorf("id %s given twice", id)
			}
			seen[id] = true
		}
		var got struct{ Search struct{ TotalCount int } }
		a.GraphQL(t, "", `{ search(query: "concurrent") { totalCount } }`, &got)
		if len(seen) != n || got.Search.TotalCount != n {
			t.Errorf("%d distinct ids and %d rows, want %d of each", len(seen), got.Search.TotalCount, n)
		}
	})
}

// subscribe opens a graphql-transport-ws subscription to itemAdded and
// returns the names of the items it receives; the channel is closed when
// the socket ends.
func subscribe(t *testing.T, base, token string) <-chan string {
	t.Helper()
	ctx := t.Context()
	ws := testserver.DialWS(t, base, nil, map[string]string{"Authorization": "Bearer " + token})
	ws.Subscribe(t, "1", "subscription { itemAdded { id name } }", nil)
	names := make(chan string, 1024)
	go func() {
		defer close(names)
		for {
			m, err := ws.Read(ctx)
			if err != nil {
				return
			}
			if m.Type == "ping" { // the server's keep-alive, which a client answers
				if err := wsjson.Write(ctx, ws.Conn, testserver.Message{Type: "pong"}); err != nil {
					return
				}
			}
			if m.Type != "next" {
				continue
			}
			var p struct {
				Data struct{ ItemAdded struct{ Name string } }
			}
			_ = json.Unmarshal(m.Payload, &p)
			names <- p.Data.ItemAdded.Name
		}
	}()
	// The subscription is live once the server has registered it; adding
	// and seeing a marker item proves it without sleeping.
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		marker := fmt.Sprintf("marker %d", i)
		if _, err := addItem(ctx, base, marker); err != nil {
			t.Fatal(err)
		}
		select {
		case name := <-names:
			for ok := true; name != marker; name, ok = <-names {
				if !ok {
					t.Fatal("the subscription ended before it started")
				}
			}
			return names
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("the subscription did not start within 10 s")
		}
	}
}

// TestScaleOutOrder runs two servers on one database with 64 concurrent
// writers over HTTP, spread over both, and a few writers that hold their
// transactions open for a while (as a slow process would), with websocket
// subscribers on both servers: every subscriber receives every
// acknowledged item exactly once, in one order that is the same for all,
// and each writer's items in the order it added them. Each HTTP writer
// adds 10 items; ITEMSAPI_SCALEOUT_FULL=1 makes it 500.
func TestScaleOutOrder(t *testing.T) {
	db := pgSchema(t)
	servers := []*testserver.Server{startOn(t, db), startOn(t, db)}
	each := 10
	if os.Getenv("ITEMSAPI_SCALEOUT_FULL") == "1" {
		each = 500
	}
	const writers, slowWriters, slowEach = 64, 4, 5

	type follower struct {
		mu    sync.Mutex
		names []string
		at    []time.Time // when each name was received
	}
	var followers []*follower
	for _, s := range servers {
		for range 2 {
			f := &follower{}
			names := subscribe(t, s.URL, adminToken)
			go func() {
				for name := range names {
					if strings.HasPrefix(name, "marker ") {
						continue
					}
					f.mu.Lock()
					f.names = append(f.names, name)
					f.at = append(f.at, time.Now())
					f.mu.Unlock()
				}
			}()
			followers = append(followers, f)
		}
	}

	acked := make([][]string, writers+slowWriters)
	var (
		ackMu sync.Mutex
		ackAt = map[string]time.Time{}
	)
	ack := func(w int, name string) {
		acked[w] = append(acked[w], name)
		ackMu.Lock()
		ackAt[name] = time.Now()
		ackMu.Unlock()
	}
	var wg sync.WaitGroup
	start := time.Now()
	for w := range writers {
		target := servers[w%len(servers)].URL
		wg.Go(func() {
			for i := range each {
				name := fmt.Sprintf("w%d-%d", w, i)
				if _, err := addItem(t.Context(), target, name); err != nil {
					t.Errorf("addItem(%s): %v", name, err)
					return
				}
				ack(w, name)
			}
		})
	}
	for w := writers; w < writers+slowWriters; w++ {
		conn := testserver.PostgresConn(t, db)
		wg.Go(func() {
			for i := range slowEach {
				name := fmt.Sprintf("w%d-%d", w, i)
				if err := slowAdd(t.Context(), conn, name, time.Duration(50+50*i)*time.Millisecond); err != nil {
					t.Errorf("slow add %s: %v", name, err)
					return
				}
				ack(w, name)
			}
		})
	}
	wg.Wait()
	total := 0
	for _, names := range acked {
		total += len(names)
	}
	t.Logf("%d items acknowledged in %v", total, time.Since(start))
	if t.Failed() {
		return
	}

	deadline := time.Now().Add(30*time.Second + time.Duration(total)*time.Millisecond)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i, f := range followers {
		for {
			f.mu.Lock()
			n := len(f.names)
			f.mu.Unlock()
			if n >= total {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("subscriber %d received %d of %d items", i, n, total)
			}
			<-tick.C
		}
	}
	t.Logf("every subscriber received them %v after the first addItem", time.Since(start))

	var (
		first []string
		late  []time.Duration // from acknowledgement to receipt
	)
	for i, f := range followers {
		f.mu.Lock()
		got := slices.Clone(f.names)
		for j, name := range got {
			// The slow writers wake no server: their items wait for a
			// server's next stamping round, or its sweep.
			if at, ok := ackAt[name]; ok && writerOf(name) < writers {
				late = append(late, max(f.at[j].Sub(at), 0))
			}
		}
		f.mu.Unlock()
		index := make(map[string]int, len(got))
		for j, name := range got {
			if k, dup := index[name]; dup {
				t.Errorf("subscriber %d: %s received twice, at %d and %d", i, name, k, j)
			}
			index[name] = j
		}
		for w, names := range acked {
			for j, name := range names {
				k, ok := index[name]
				switch {
				case !ok:
					t.Errorf("subscriber %d: acknowledged %s not received", i, name)
				case j > 0 && k < index[names[j-1]]:
					t.Errorf("subscriber %d: writer %d's %s received before %s", i, w, name, names[j-1])
				}
			}
		}
		if i == 0 {
			first = got
		} else if !slices.Equal(first, got) {
			t.Errorf("subscribers 0 and %d received different orders", i)
		}
	}
	slices.Sort(late)
	if len(late) > 0 {
		t.Logf("from acknowledgement to receipt, over HTTP: p50 %v, p99 %v, max %v (0 when received before the answer)",
			late[len(late)/2], late[len(late)*99/100], late[len(late)-1])
	}
}

// writerOf returns the writer number w of a name "w<w>-<i>".
func writerOf(name string) int {
	var w, i int
	fmt.Sscanf(name, "w%d-%d", &w, &i)
	return w
}

// slowAdd adds an item in a transaction that stays open for hold after the
// insertion, as a slow process would; it inserts the item and its event as
// the PostgreSQL store does.
func slowAdd(ctx context.Context, conn *pgx.Conn, name string, hold time.Duration) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	_, err = tx.Exec(ctx, `
		WITH added AS (
			INSERT INTO items (name, name_folded, created_at) VALUES ($1, upper($1), clock_timestamp()) RETURNING id
		)
		INSERT INTO events (item_id) SELECT id FROM added`, name)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_sleep($1)`, hold.Seconds()); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// TestKillNineOnPostgres runs the real binary and an in-process server on
// one database, adds items through the binary and kills it with SIGKILL in
// the middle of the load: a subscriber of the other server receives every
// item the killed one acknowledged, once each. The items it committed but
// never stamped (it died between its commit and its stamping round) get
// their positions from the survivor's next round.
func TestKillNineOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary: skipped with -short")
	}
	db := pgSchema(t)
	survivor := startOn(t, db)
	sub := subscribe(t, survivor.URL, adminToken)

	bin := testserver.Build(t, ".")
	victimSrv := testserver.Exec(t, bin, []string{"BOOTSTRAP_ADMIN_TOKEN=" + adminToken}, "--db", db)
	victim := victimSrv.URL

	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		wg    sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	enough := make(chan struct{})
	var once sync.Once
	for c := range 16 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				name := fmt.Sprintf("client %d item %d", c, i)
				if _, err := addItem(ctx, victim, name); err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked[name] = true
				if len(acked) >= 400 {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		})
	}
	select {
	case <-enough:
	case <-ctx.Done():
		t.Fatal("fewer than 400 items were added in 30 s")
	}
	victimSrv.Kill(t)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	got := map[string]int{}
	timeout := time.After(15 * time.Second)
	for missing := len(acked); missing > 0; {
		select {
		case name, ok := <-sub:
			if !ok {
				t.Fatal("the subscription ended")
			}
			got[name]++
			if acked[name] && got[name] == 1 {
				missing--
			}
		case <-timeout:
			t.Fatalf("received %d of the %d acknowledged items within 15 s", len(acked)-missing, len(acked))
		}
	}
	// Whatever else comes, comes once: the survivor adds one more item,
	// which ends the stream to check.
	if _, err := addItem(t.Context(), survivor.URL, "last"); err != nil {
		t.Fatal(err)
	}
	for name := range sub {
		if name == "last" {
			break
		}
		got[name]++
	}
	for name, n := range got {
		if n > 1 {
			t.Errorf("%s received %d times", name, n)
		}
	}
	t.Logf("%d acknowledged items before kill -9, all received by the other server's subscriber; %d received in all", len(acked), len(got))
}

// TestShutdownClientsSurvive runs two servers A and B on one database,
// with writers adding items through both, and a websocket client
// subscribed to itemAdded on A. A shuts down as SIGTERM would: the client
// sees its socket close with 1001 only once it has received every item
// acknowledged before the shutdown began; it resumes on B with
// `itemAdded(after: <the last id it received>)` while the writers of A
// move to B, and in the end has received every committed item exactly
// once, in the order of the log, each writer's items in the order they
// were added. 8 writers add 200 items before the shutdown and 100 after
// the client resumed; ITEMSAPI_SCALEOUT_FULL=1 makes it 32, 5,000 and
// 2,000.
func TestShutdownClientsSurvive(t *testing.T) {
	db := pgSchema(t)
	a := startOn(t, db, "--shutdown-grace", "10s")
	b := startOn(t, db)
	writers, before, after := 8, 200, 100
	if os.Getenv("ITEMSAPI_SCALEOUT_FULL") == "1" {
		writers, before, after = 32, 5000, 2000
	}

	onA := followItems(t, a.URL, "", nil)
	onA.waitLive(t, a.URL)

	p := newWriterPool(writers)
	stop := make(chan struct{})
	stopWriters := sync.OnceFunc(func() { close(stop) })
	var wg sync.WaitGroup
	defer func() { stopWriters(); wg.Wait() }() // no writer outlives the test
	for w := range writers {
		first, other := a.URL, b.URL
		if w%2 == 1 {
			first, other = b.URL, a.URL
		}
		wg.Go(func() { p.write(t, w, first, other, a.URL, stop) })
	}
	p.waitAcked(t, before)

	required, began := p.beginShutdown()
	a.Stop(t) // fails the test unless run returns within 15 s
	if !onA.mu.Wait(5*time.Second, func() bool { return onA.ended }) {
		t.Fatal("the socket on A was still open 5 s after A's run returned")
	}
	gotA := onA.events()
	if onA.status != websocket.StatusGoingAway {
		t.Errorf("the socket on A closed with %d (%v), want 1001 (going away)", onA.status, onA.endErr)
	}
	if others := onA.otherMessages(); len(others) > 0 {
		t.Errorf("on A, messages other than next: %q", others)
	}
	received := map[string]bool{}
	for _, e := range gotA {
		received[e.Name] = true
	}
	var missing []string
	for _, name := range required {
		if !received[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		t.Errorf("the socket on A closed before %d of the %d items acknowledged before the shutdown were sent, such as %q",
			len(missing), len(required), missing[:min(len(missing), 5)])
	}
	if strings.Contains(a.Logs.String(), "still busy when the shutdown grace ran out") {
		t.Errorf("A needed its whole shutdown grace for a client that reads:\n%s", a.Logs)
	}
	t.Logf("A closed the socket with %d, %v after its shutdown began, having sent %d items (%d acknowledged before it began)",
		onA.status, onA.endedAt.Sub(began), len(gotA), len(required))
	if len(gotA) == 0 {
		t.Fatal("nothing received on A: no id to resume after")
	}

	last := gotA[len(gotA)-1].ID
	onB := followItems(t, b.URL, last, nil)
	p.waitAcked(t, p.count()+after)
	stopWriters()
	wg.Wait()
	// Every item committed before "end" was added comes before it in the
	// log, those of requests A cut at shutdown included.
	if _, err := addItem(t.Context(), b.URL, "end"); err != nil {
		t.Fatal(err)
	}
	if !onB.mu.Wait(30*time.Second, func() bool { return onB.has("end") }) {
		t.Fatalf("the client resumed on B after %s did not receive the last item within 30 s", last)
	}
	gotB := onB.events()
	if others := onB.otherMessages(); len(others) > 0 {
		t.Errorf("on B, messages other than next: %q", others)
	}

	// What the log holds: every item's position.
	pos := logPositions(t, db)
	all := append(slices.Clone(gotA), gotB...)
	index := map[string]int{}
	prev := int64(0)
	for i, e := range all {
		if j, dup := index[e.Name]; dup {
			t.Errorf("%s (id %s) received twice, at %d and %d (%d on A)", e.Name, e.ID, j, i, len(gotA))
			continue
		}
		index[e.Name] = i
		switch p, ok := pos[e.Name]; {
		case !ok:
			t.Errorf("%s received, but it has no position in the log", e.Name)
		case p <= prev:
			t.Errorf("%s (position %d) received after position %d: not the log's order", e.Name, p, prev)
		default:
			prev = p
		}
	}
	committed := 0
	for name := range pos {
		if writerItem(name) {
			committed++
			if _, ok := index[name]; !ok {
				t.Errorf("%s is in the log but was never received", name)
			}
		}
	}
	acked := 0
	for w, names := range p.acked {
		for j, name := range names {
			acked++
			k, ok := index[name]
			switch {
			case !ok:
				t.Errorf("acknowledged %s never received", name)
			case j > 0 && k < index[names[j-1]]:
				t.Errorf("writer %d's %s received before %s", w, name, names[j-1])
			}
		}
	}
	t.Logf("%d items acknowledged (%d committed, %d requests refused by A at shutdown), received %d on A then %d on B after id %s",
		acked, committed, p.refused(), len(gotA), len(gotB), last)
}

// TestShutdownGraceRunsOut: a subscriber that stops reading holds A's
// drain up; at --shutdown-grace (1 s) A closes its socket with 1001
// anyway and run returns, rather than waiting for the client. The client
// is stalled past the grace, then reads again, as a slow client would,
// and finds the socket closed with 1001.
func TestShutdownGraceRunsOut(t *testing.T) {
	db := pgSchema(t)
	const grace = time.Second
	a := startOn(t, db, "--shutdown-grace", grace.String())

	// A receive buffer of a fixed size (the kernel would grow it for a
	// client that reads): the server's writes block after a few hundred
	// kilobytes, and the client catches up in milliseconds once it reads.
	dialer := &net.Dialer{}
	fixed := &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(64 << 10)
			}
			return c, err
		},
	}}}
	f := followItems(t, a.URL, "", fixed)
	f.waitLive(t, a.URL)
	f.pause()

	// Far more than the kernel's buffers hold: about 800 KB of events.
	const n = 400
	description := strings.Repeat("x", 1900)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				if err := addDescribed(t.Context(), a.URL, fmt.Sprintf("w%d-%d", w, i), description); err != nil {
					t.Errorf("addItem: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	began := time.Now()
	// The client stalls until the grace has run out, then reads again
	// within the second A gives a client to answer its close: a client
	// that never reads again cannot receive a close frame at all. (A timer,
	// not a wait: the stall is what the test is about.)
	resume := time.AfterFunc(grace+400*time.Millisecond, f.resume)
	defer resume.Stop()
	a.Stop(t)
	returned := time.Since(began)
	if returned < grace || returned > grace+5*time.Second {
		t.Errorf("run returned %v after the shutdown began, want about the grace (%v) and a second for the close handshake", returned, grace)
	}
	if !strings.Contains(a.Logs.String(), "still busy when the shutdown grace ran out") {
		t.Errorf("A drained before its grace ran out: the stalled client did not hold it up (test broken?)\n%s", a.Logs)
	}
	if !f.mu.Wait(10*time.Second, func() bool { return f.ended }) {
		t.Fatal("the stalled socket was still open 10 s after A's shutdown")
	}
	if f.status != websocket.StatusGoingAway {
		t.Errorf("the stalled socket closed with %d (%v) after %d items, want 1001 (going away)", f.status, f.endErr, len(f.events()))
	}
	if at := f.endedAt.Sub(began); at < grace {
		t.Errorf("the stalled socket closed %v after the shutdown began, before the grace (%v)", at, grace)
	}
	t.Logf("run returned %v after the shutdown began; the stalled client read %d of %d items, then the close %d",
		returned, len(f.events()), n, f.status)
}

// addDescribed adds an item with a description as the admin.
func addDescribed(ctx context.Context, url, name, description string) error {
	return changeItem(ctx, url, `mutation($n: String!, $d: String) { addItem(input: {name: $n, description: $d}) { id } }`,
		map[string]any{"n": name, "d": description})
}

// itemEvent is an item as a subscriber receives it.
type itemEvent struct{ ID, Name string }

// itemFollower is a graphql-transport-ws client of one itemAdded
// subscription: it records the items it receives until its socket ends.
type itemFollower struct {
	gate   sync.Mutex // held while the client does not read
	paused bool       // guarded by gate's holder: the test goroutine

	mu      testserver.Watched
	got     []itemEvent
	others  []string // messages other than next
	ended   bool
	status  websocket.StatusCode // how the socket ended
	endErr  error
	endedAt time.Time
}

// followItems subscribes to itemAdded on base, after the item with that
// id unless after is empty, over a socket dialed with opts.
func followItems(t *testing.T, base, after string, opts *websocket.DialOptions) *itemFollower {
	t.Helper()
	ws := testserver.DialWS(t, base, opts, map[string]string{"Authorization": "Bearer " + adminToken})
	if after == "" {
		ws.Subscribe(t, "1", "subscription { itemAdded { id name description } }", nil)
	} else {
		ws.Subscribe(t, "1", "subscription($after: ID) { itemAdded(after: $after) { id name description } }", map[string]any{"after": after})
	}
	conn := ws.Conn

	f := &itemFollower{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			f.gate.Lock()
			f.gate.Unlock() //nolint:staticcheck // waits while the test holds the gate
			_, data, err := conn.Read(context.Background())
			f.mu.Lock()
			if err != nil {
				f.ended, f.status, f.endedAt = true, websocket.CloseStatus(err), time.Now()
				f.endErr = err
			} else {
				var m struct {
					Type    string
					Payload struct {
						Data struct{ ItemAdded itemEvent }
					}
				}
				if json.Unmarshal(data, &m) == nil && m.Type == "next" && m.Payload.Data.ItemAdded.ID != "" {
					f.got = append(f.got, m.Payload.Data.ItemAdded)
				} else {
					f.others = append(f.others, string(data))
				}
			}
			f.mu.Unlock()
			f.mu.Changed()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		f.resume()
		conn.CloseNow()
		<-done
	})
	return f
}

// waitLive adds marker items through base until the subscription
// receives one: from then on it receives every item added.
func (f *itemFollower) waitLive(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		marker := fmt.Sprintf("marker %d", i)
		if _, err := addItem(t.Context(), base, marker); err != nil {
			t.Fatal(err)
		}
		var ended bool
		if f.mu.Wait(200*time.Millisecond, func() bool { ended = f.ended; return ended || f.has(marker) }) {
			if ended { // the reader has returned: f is still
				t.Fatalf("the subscription ended before it started: %d (%v) %q", f.status, f.endErr, f.others)
			}
			return
		}
	}
	t.Fatal("the subscription did not start within 10 s")
}

// has reports whether an item named name was received. f.mu is held.
func (f *itemFollower) has(name string) bool {
	return slices.ContainsFunc(f.got, func(e itemEvent) bool { return e.Name == name })
}

// events returns the items received so far.
func (f *itemFollower) events() []itemEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

// otherMessages returns the messages received other than next.
func (f *itemFollower) otherMessages() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.others)
}

// pause makes the client stop reading, after the read under way if any.
func (f *itemFollower) pause() {
	if !f.paused {
		f.gate.Lock()
		f.paused = true
	}
}

// resume makes the client read again.
func (f *itemFollower) resume() {
	if f.paused {
		f.paused = false
		f.gate.Unlock()
	}
}

// writerPool is writers adding items "w<w>-<i>" until stopped, each
// through one server; a writer whose server refuses once its shutdown
// has begun moves to the other, as a client behind a load balancer
// would.
type writerPool struct {
	mu       testserver.Watched
	acked    [][]string // per writer, in the order they were acknowledged
	total    int
	shutting bool
	cut      int // requests that failed on the server shutting down
}

func newWriterPool(writers int) *writerPool {
	return &writerPool{acked: make([][]string, writers)}
}

// write runs writer w through first, then other once first (if it is the
// one that shuts down) refuses, until stop is closed.
func (p *writerPool) write(t *testing.T, w int, first, other, shutsDown string, stop <-chan struct{}) {
	target := first
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		name := fmt.Sprintf("w%d-%d", w, i)
		_, err := addItem(t.Context(), target, name)
		p.mu.Lock()
		switch {
		case err == nil:
			p.acked[w] = append(p.acked[w], name)
			p.total++
		case target == shutsDown && p.shutting:
			p.cut++
			target = other // a new name next: this one may have been committed
		default:
			p.mu.Unlock()
			t.Errorf("addItem(%s) on %s: %v", name, target, err)
			return
		}
		p.mu.Unlock()
		p.mu.Changed()
	}
}

// waitAcked waits until n items are acknowledged.
func (p *writerPool) waitAcked(t *testing.T, n int) {
	t.Helper()
	if !p.mu.Wait(30*time.Second+time.Duration(n)*10*time.Millisecond, func() bool { return p.total >= n }) {
		t.Fatalf("%d of %d items acknowledged in time", p.count(), n)
	}
}

func (p *writerPool) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total
}

func (p *writerPool) refused() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

// beginShutdown marks the moment a shutdown begins and returns the items
// acknowledged before it.
func (p *writerPool) beginShutdown() ([]string, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.shutting = true
	var names []string
	for _, acked := range p.acked {
		names = append(names, acked...)
	}
	return names, time.Now()
}

// writerItem reports whether name is a writer's item, "w<w>-<i>".
func writerItem(name string) bool {
	var w, i int
	n, _ := fmt.Sscanf(name, "w%d-%d", &w, &i)
	return n == 2 && name == fmt.Sprintf("w%d-%d", w, i)
}

// logPositions returns the position in the log of every item's event
// that has one, by item name.
func logPositions(t *testing.T, db string) map[string]int64 {
	t.Helper()
	conn := testserver.PostgresConn(t, db)
	rows, _ := conn.Query(t.Context(), `SELECT i.name, e.pos FROM items i JOIN events e ON e.item_id = i.id WHERE e.pos IS NOT NULL`)
	pos := map[string]int64{}
	var (
		name string
		p    int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&name, &p}, func() error {
		pos[name] = p
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return pos
}
