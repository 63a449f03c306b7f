package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/jackc/pgx/v5"
)

// pgSchema returns TEST_DATABASE_URL pointed at a new schema that is
// dropped when t ends. Without the variable it skips, except under CI.
func pgSchema(t *testing.T) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_DATABASE_URL not set: CI must run the PostgreSQL tests")
		}
		t.Skip("TEST_DATABASE_URL not set: skipping PostgreSQL tests")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "scaleout_" + hex.EncodeToString(b)
	exec := func(ctx context.Context, sql string) {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(t.Context(), "CREATE SCHEMA "+schema)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestTwoProcessesOnePostgres runs two servers on one database, as two
// replicas behind a load balancer.
func TestTwoProcessesOnePostgres(t *testing.T) {
	db := pgSchema(t)
	env := map[string]string{"BOOTSTRAP_ADMIN_TOKEN": adminToken}
	a := start(t, env, "--db", db)
	b := start(t, env, "--db", db)

	t.Run("a token made on one works on the other", func(t *testing.T) {
		var made struct{ CreateToken string }
		a.graphql(t, adminToken, `mutation { createToken(user: "dora") }`, &made)
		var me struct{ Me struct{ Name string } }
		b.graphql(t, made.CreateToken, `{ me { name } }`, &me)
		if me.Me.Name != "dora" {
			t.Errorf("me on the other process = %q, want dora", me.Me.Name)
		}
	})

	t.Run("a subscriber on one gets every item added on the other", func(t *testing.T) {
		sub := subscribe(t, a.url, adminToken)
		const n = 50
		start := time.Now()
		for i := range n {
			if _, err := addItem(t.Context(), b.url, fmt.Sprintf("via b %d", i)); err != nil {
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
			target := a.url
			if i%2 == 1 {
				target = b.url
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
		a.graphql(t, "", `{ search(query: "concurrent") { totalCount } }`, &got)
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
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	type msg struct {
		Type    string          `json:"type"`
		ID      string          `json:"id,omitempty"`
		Payload json.RawMessage `json:"payload,omitempty"`
	}
	init, _ := json.Marshal(map[string]string{"Authorization": "Bearer " + token})
	if err := wsjson.Write(ctx, conn, msg{Type: "connection_init", Payload: init}); err != nil {
		t.Fatal(err)
	}
	var ack msg
	if err := wsjson.Read(ctx, conn, &ack); err != nil || ack.Type != "connection_ack" {
		t.Fatalf("connection_init answered %+v, %v", ack, err)
	}
	q, _ := json.Marshal(map[string]string{"query": "subscription { itemAdded { id name } }"})
	if err := wsjson.Write(ctx, conn, msg{Type: "subscribe", ID: "1", Payload: q}); err != nil {
		t.Fatal(err)
	}
	names := make(chan string, 1024)
	go func() {
		defer close(names)
		for {
			var m msg
			if err := wsjson.Read(ctx, conn, &m); err != nil {
				return
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
	env := map[string]string{"BOOTSTRAP_ADMIN_TOKEN": adminToken}
	servers := []*server{start(t, env, "--db", db), start(t, env, "--db", db)}
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
			names := subscribe(t, s.url, adminToken)
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
		target := servers[w%len(servers)].url
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
		wg.Go(func() {
			conn, err := pgx.Connect(t.Context(), db)
			if err != nil {
				t.Errorf("connect: %v", err)
				return
			}
			defer conn.Close(context.WithoutCancel(t.Context()))
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
	env := map[string]string{"BOOTSTRAP_ADMIN_TOKEN": adminToken}
	survivor := start(t, env, "--db", db)
	sub := subscribe(t, survivor.url, adminToken)

	bin := filepath.Join(t.TempDir(), "itemsapi")
	if out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(t.Context(), bin, "--addr", "127.0.0.1:0", "--db", db)
	cmd.Env = append(os.Environ(), "BOOTSTRAP_ADMIN_TOKEN="+adminToken)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var victim string
	select {
	case a := <-addr:
		victim = "http://" + a
	case <-time.After(15 * time.Second):
		t.Fatal("the server did not listen within 15 s")
	}
	waitHealthy(t, victim)

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
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	_ = cmd.Wait()

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
	if _, err := addItem(t.Context(), survivor.url, "last"); err != nil {
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
