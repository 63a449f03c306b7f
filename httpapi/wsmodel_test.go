package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"itemsapi/httpapi"
	"itemsapi/internal/testserver"
	"itemsapi/items"
	"itemsapi/metrics"
)

// newWSServer is newTestServerWith that also returns the handler, to see
// which websocket operations run, uses broker when it is not nil, and is
// measured by m when it is not nil. Access-log lines go to ts.logs.
func newWSServer(t testing.TB, cfg httpapi.Config, broker items.Broker, m *metrics.Metrics) (*testServer, *httpapi.Handler) {
	t.Helper()
	return newServer(t, cfg, func(ts *testServer, d *httpapi.Deps) {
		if broker != nil {
			d.Broker = broker
		}
		d.AccessLog, d.Metrics = ts.logs, m
	})
}

// waitRunning waits until the operations running on h's websockets are
// want (ids, sorted), and fails the test if they are not within 5 s.
func waitRunning(t testing.TB, h *httpapi.Handler, want []string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	var got []string
	if !testserver.Eventually(5*time.Second, func() bool {
		got = httpapi.RunningOps(h)
		if got == nil {
			got = []string{}
		}
		return slices.Equal(got, want)
	}) {
		t.Fatalf("operations running = %q, want %q", got, want)
	}
}

// waitGoroutines waits until the process runs at most n goroutines.
func waitGoroutines(t testing.TB, n int) {
	t.Helper()
	if !testserver.Eventually(10*time.Second, func() bool { return runtime.NumGoroutine() <= n }) {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines, want at most %d as before the socket opened:\n%s",
			runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
	}
}

// modelClient is a socket whose every message a goroutine reads, in
// order, into msgs; closed receives the close code.
type modelClient struct {
	conn   *websocket.Conn
	msgs   chan wsMessage
	closed chan websocket.StatusCode
}

func dialModel(t testing.TB, ts *testServer, subprotocol string) *modelClient {
	t.Helper()
	conn := testserver.Dial(t, ts.URL, subprotocol, nil)
	c := &modelClient{conn: conn, msgs: make(chan wsMessage, 4096), closed: make(chan websocket.StatusCode, 1)}
	go func() {
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				c.closed <- websocket.CloseStatus(err)
				close(c.msgs)
				return
			}
			var m wsMessage
			if json.Unmarshal(data, &m) != nil {
				m = wsMessage{Type: "not JSON: " + string(data)}
			}
			if m.Type != "ka" && m.Type != "ping" {
				c.msgs <- m
			}
		}
	}()
	return c
}

// wsModel is what the protocols say of one socket.
type wsModel struct {
	legacy      bool
	limit       int
	token       string // of connection_init
	initialised bool
	running     map[string]bool // subscriptions running
	silenced    map[string]bool // ids the client ended: nothing more may come for them
}

// step is one client message, with what the model says it does.
type step struct {
	send      string
	closeCode websocket.StatusCode // the socket closes with it
	want      []string             // messages ("type id") that must come
}

// next picks a random message and applies it to the model.
func (m *wsModel) next(r *rand.Rand, n int) step {
	id := []string{"a", "b", "c"}[r.IntN(3)]
	start, stop, next := "subscribe", "complete", "next"
	if m.legacy {
		start, stop, next = "start", "stop", "data"
	}
	op := func(query string) string {
		p, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]any{"n": fmt.Sprint("item ", n)}})
		return fmt.Sprintf(`{"type":%q,"id":%q,"payload":%s}`, start, id, p)
	}
	k := r.IntN(100)
	if n == 0 && k >= 10 {
		k = 0 // most sockets start with connection_init
	}
	closes := k < 3 && m.initialised || k >= 3 && k < 5 && !m.legacy ||
		k >= 12 && k < 72 && m.running[id] && !m.legacy
	if closes && r.IntN(8) != 0 {
		k = 99 // mostly, keep the socket open: complete instead
	}
	switch {
	case k < 3: // init
		if m.initialised {
			return step{send: `{"type":"connection_init"}`, closeCode: 4429}
		}
		m.initialised = true
		return step{send: `{"type":"connection_init","payload":{"token":"` + m.token + `"}}`, want: []string{"connection_ack "}}
	case k < 5: // garbage
		if m.legacy {
			return step{send: `{"type":`, want: []string{"connection_error "}}
		}
		return step{send: `{"type":`, closeCode: 4400}
	case k < 12:
		if m.legacy {
			return step{send: `{"type":"ping"}`, want: []string{"connection_error "}}
		}
		return step{send: `{"type":"ping"}`, want: []string{"pong "}}
	case k < 55: // a subscription
		return m.start(id, op(`subscription { itemAdded { id name } }`), false, next)
	case k < 65: // a query
		return m.start(id, op(`{ item(id: "1") { name } }`), true, next)
	case k < 72: // a mutation, which each subscription sees
		s := m.start(id, op(`mutation($n: String!) { addItem(input: {name: $n}) { id } }`), true, next)
		if slices.Contains(s.want, "complete "+id) {
			for _, sub := range m.runningIDs() {
				s.want = append(s.want, next+" "+sub)
			}
		}
		return s
	default: // complete or stop
		s := step{send: fmt.Sprintf(`{"type":%q,"id":%q}`, stop, id)}
		if m.initialised && m.running[id] {
			delete(m.running, id)
			m.silenced[id] = true
			if m.legacy {
				s.want = []string{"complete " + id}
			}
		}
		return s
	}
}

func (m *wsModel) start(id, send string, single bool, next string) step {
	s := step{send: send}
	switch {
	case !m.initialised:
		s.closeCode = 4401
	case m.running[id] && !m.legacy:
		s.closeCode = 4409
	case m.running[id], len(m.running) >= m.limit:
		s.want = []string{"error " + id}
	case single:
		delete(m.silenced, id)
		s.want = []string{next + " " + id, "complete " + id}
	default:
		delete(m.silenced, id)
		m.running[id] = true
	}
	return s
}

func (m *wsModel) runningIDs() []string {
	ids := []string{}
	for id := range m.running {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// TestWebsocketModel sends random message sequences on both protocols
// and, after each message, checks the operations that run against a plain
// model of the protocol, the messages the client gets against what the
// model expects (nothing ever for an operation the client ended), and at
// the end that the goroutines are back to what they were before the
// socket opened.
func TestWebsocketModel(t *testing.T) {
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(proto, func(t *testing.T) {
			cfg := httpapi.DefaultConfig()
			cfg.MaxSubscriptionsPerSocket = 2
			ts, h := newWSServer(t, cfg, nil, nil)
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			r := rand.New(rand.NewPCG(seed, 1))
			baseline := runtime.NumGoroutine()
			for range 6 {
				runModelSocket(t, ts, h, proto, r, 150)
				waitRunning(t, h, nil)
				waitGoroutines(t, baseline)
			}
		})
	}
}

func runModelSocket(t *testing.T, ts *testServer, h *httpapi.Handler, proto string, r *rand.Rand, steps int) {
	m := &wsModel{legacy: proto == "graphql-ws", limit: 2, token: ts.adminToken, running: map[string]bool{}, silenced: map[string]bool{}}
	c := dialModel(t, ts, proto)
	defer c.conn.CloseNow()
	var history []string
	for n := range steps {
		s := m.next(r, n)
		history = append(history, s.send)
		if err := c.conn.Write(t.Context(), websocket.MessageText, []byte(s.send)); err != nil {
			t.Fatalf("write %s: %v", s.send, err)
		}
		if s.closeCode != 0 {
			select {
			case got := <-c.closed:
				if got != s.closeCode {
					t.Fatalf("after %q: close code %d, want %d", history, got, s.closeCode)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("after %q: the socket is open, want it closed with %d", history, s.closeCode)
			}
			t.Logf("socket closed with %d after %d messages", s.closeCode, n+1)
			return
		}
		// The first sync proves that the server has read the message, the
		// wait that every operation that ends by itself has ended (and
		// sent its messages), the second sync brings those messages.
		got := m.sync(t, c, 2*n)
		waitRunning(t, h, m.runningIDs())
		got = append(got, m.sync(t, c, 2*n+1)...)
		// An item reaches the subscriptions in its own time: wait for
		// what is still missing.
		for deadline := time.After(5 * time.Second); !containsAll(got, s.want); {
			select {
			case msg, ok := <-c.msgs:
				if !ok {
					t.Fatalf("after %q: the socket closed (%q so far)", history, got)
				}
				got = append(got, msg.Type+" "+msg.ID)
			case <-deadline:
				t.Fatalf("after %q: got %q, want %q among them within 5 s", history, got, s.want)
			}
		}
		for _, w := range s.want {
			if !slices.Contains(got, w) {
				t.Fatalf("after %q: got %q, want %s among them", history, got, w)
			}
		}
		for _, g := range got {
			typ, id, _ := strings.Cut(g, " ")
			if id != "" && m.silenced[id] && !slices.Contains(s.want, g) {
				t.Fatalf("after %q: got %s after the client ended %s", history, g, id)
			}
			if (typ == "next" || typ == "data") && !m.running[id] && !slices.Contains(s.want, g) {
				t.Fatalf("after %q: got %s for no running operation", history, g)
			}
		}
	}
	t.Logf("socket closed by the client after %d messages", steps)
	c.conn.Close(websocket.StatusNormalClosure, "")
}

// sync returns the messages that the server sent in answer to the
// messages so far: on graphql-transport-ws up to the pong of a ping, on
// the legacy protocol up to the end of a query with an id of its own.
func (m *wsModel) sync(t *testing.T, c *modelClient, n int) []string {
	t.Helper()
	id := fmt.Sprint("sync", n)
	var send, last string
	switch {
	case !m.legacy:
		send, last = fmt.Sprintf(`{"type":"ping","payload":{"n":%d}}`, n), "pong"
	case m.initialised:
		send, last = `{"type":"start","id":"`+id+`","payload":{"query":"{ __typename }"}}`, id
	default:
		// Before init, the legacy protocol answers nothing but init:
		// an unknown type gets a connection_error.
		send, last = `{"type":"sync"}`, "connection_error"
	}
	if err := c.conn.Write(t.Context(), websocket.MessageText, []byte(send)); err != nil {
		t.Fatal(err)
	}
	var got []string
	timeout := time.After(5 * time.Second)
	for {
		select {
		case msg, ok := <-c.msgs:
			if !ok {
				t.Fatalf("the socket closed during a sync (%q so far)", got)
			}
			switch {
			case msg.ID == id && (msg.Type == "complete" || msg.Type == "error"):
				return got
			case msg.ID == id:
			case msg.Type == last && last == "pong" && string(msg.Payload) == fmt.Sprintf(`{"n":%d}`, n):
				return got
			case msg.Type == last && last == "connection_error" && strings.Contains(string(msg.Payload), "type sync"):
				// The sync's own: another connection_error answers the
				// step's message.
				return got
			default:
				got = append(got, msg.Type+" "+msg.ID)
			}
		case <-timeout:
			t.Fatalf("no answer to the sync message %s within 5 s (%q so far)", send, got)
		}
	}
}

func containsAll(got, want []string) bool {
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}

// fanClient is a socket whose reader can pause, as a client that does not
// read, and records the item IDs each operation gets, in order.
type fanClient struct {
	conn   *websocket.Conn
	legacy bool

	mu     testserver.Watched // changed after each message
	got    map[string][]int64
	bad    []string // messages that no step may cause
	pongs  int
	paused bool
	resume chan struct{}
}

func dialFan(t *testing.T, ts *testServer, legacy bool) *fanClient {
	t.Helper()
	proto := "graphql-transport-ws"
	if legacy {
		proto = "graphql-ws"
	}
	c := &fanClient{conn: testserver.Dial(t, ts.URL, proto, nil), legacy: legacy, got: map[string][]int64{}}
	go c.read()
	c.send(t, `{"type":"connection_init"}`)
	return c
}

func (c *fanClient) read() {
	for {
		c.mu.Lock()
		for c.paused {
			resume := c.resume
			c.mu.Unlock()
			<-resume
			c.mu.Lock()
		}
		c.mu.Unlock()
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			return
		}
		var m struct {
			Type    string
			ID      string
			Payload struct {
				Data map[string]struct{ ID string }
			}
		}
		_ = json.Unmarshal(data, &m)
		c.mu.Lock()
		switch {
		case m.ID == "sync":
			if m.Type == "complete" {
				c.pongs++
			}
		case m.Type == "next" || m.Type == "data":
			id, err := strconv.ParseInt(m.Payload.Data["itemAdded"].ID, 10, 64)
			if err != nil {
				c.bad = append(c.bad, string(data))
			}
			c.got[m.ID] = append(c.got[m.ID], id)
		case m.Type == "pong":
			c.pongs++
		case m.Type == "connection_ack" || m.Type == "ka" || m.Type == "ping" || m.Type == "complete":
		default:
			c.bad = append(c.bad, string(data))
		}
		c.mu.Unlock()
		c.mu.Changed()
	}
}

func (c *fanClient) send(t *testing.T, msg string) {
	t.Helper()
	if err := c.conn.Write(t.Context(), websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// sync returns once the server has handled every message sent so far:
// on graphql-transport-ws a ping's pong, on the legacy protocol the
// complete of a query (pongs counts both).
func (c *fanClient) sync(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	pongs := c.pongs
	c.mu.Unlock()
	if c.legacy {
		c.send(t, `{"type":"start","id":"sync","payload":{"query":"{ __typename }"}}`)
	} else {
		c.send(t, `{"type":"ping"}`)
	}
	c.waitFor(t, func() bool { return c.pongs > pongs }, "an answer to the sync")
}

// waitFor waits until ok, called with c.mu held, holds.
func (c *fanClient) waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	if !c.mu.Wait(10*time.Second, ok) {
		t.Fatalf("no %s within 10 s", what)
	}
}

func (c *fanClient) pause(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case on && !c.paused:
		c.paused, c.resume = true, make(chan struct{})
	case !on && c.paused:
		c.paused = false
		close(c.resume)
	}
}

// fanSub is what the model knows of one subscription.
type fanSub struct {
	sock      int
	id        string
	from      int // it gets added[from:]
	completed bool
}

// TestSubscriptionGroupsModel runs random subscribers on a few sockets,
// on both protocols, over documents and variables that they share (so
// their subscriptions share groups): some subscribe from now, some resume
// with after: (from behind the group, reading the log by themselves until
// they catch up), some complete, sockets stop reading and read again, and
// items are added in bursts larger than a group's window (so that
// subscriptions fall out of it and catch up by themselves). After each
// step every subscription of a reading socket must have got exactly the
// items added after its start, each once, in order, and one of a socket
// that does not read a prefix of them; at the end, every group has ended
// and the goroutines are back to what they were.
func TestSubscriptionGroupsModel(t *testing.T) {
	ts, h := newWSServer(t, httpapi.DefaultConfig(), nil, nil)
	defer httpapi.SetFanoutWindow(h, 4)()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 2))
	baseline := runtime.NumGoroutine()

	var added []int64
	add := func(n int) {
		for range n {
			it, err := ts.store.AddItem(t.Context(), items.NewItem{Name: fmt.Sprint("item ", len(added))})
			if err != nil {
				t.Fatal(err)
			}
			added = append(added, it.ID)
		}
	}
	add(3) // items to resume after
	socks := make([]*fanClient, 4)
	for i := range socks {
		socks[i] = dialFan(t, ts, i%2 == 1)
	}
	var subs []*fanSub
	live := func(sock int) int {
		n := 0
		for _, s := range subs {
			if s.sock == sock && !s.completed {
				n++
			}
		}
		return n
	}
	docs := []string{
		`subscription { itemAdded { id } }`,
		`subscription($a: ID) { itemAdded(after: $a) { id name } }`,
	}
	var history []string
	check := func() {
		t.Helper()
		for _, s := range subs {
			c := socks[s.sock]
			want := added[s.from:]
			c.mu.Lock()
			paused := c.paused
			c.mu.Unlock()
			if !paused && !s.completed {
				c.waitFor(t, func() bool { return len(c.got[s.id]) >= len(want) }, "item for "+s.id)
			}
			c.mu.Lock()
			got := slices.Clone(c.got[s.id])
			bad := slices.Clone(c.bad)
			c.mu.Unlock()
			if len(bad) > 0 {
				t.Fatalf("after %q: socket %d got %q", history, s.sock, bad)
			}
			switch {
			case len(got) > len(want) || !slices.Equal(got, want[:len(got)]):
				t.Fatalf("after %q: subscription %s got %v, want %v (or a prefix of it)", history, s.id, got, want)
			case !paused && !s.completed && len(got) != len(want):
				t.Fatalf("after %q: subscription %s got %v, want %v", history, s.id, got, want)
			}
		}
	}
	for n := range 120 {
		k := r.IntN(100)
		switch {
		case k < 35:
			burst := 1 + r.IntN(12)
			history = append(history, fmt.Sprint("add ", burst))
			add(burst)
		case k < 70: // subscribe
			i := r.IntN(len(socks))
			c := socks[i]
			c.mu.Lock()
			paused := c.paused
			c.mu.Unlock()
			if paused || live(i) >= 8 {
				continue
			}
			s := &fanSub{sock: i, id: fmt.Sprint("s", n), from: len(added)}
			doc, vars := docs[r.IntN(2)], "null"
			if r.IntN(3) == 0 {
				// Resume after one of a few items, so that those
				// resuming share groups too.
				doc = docs[1]
				s.from = r.IntN(3)
				vars = fmt.Sprintf(`{"a":"%d"}`, added[s.from])
				s.from++
			}
			payload, _ := json.Marshal(map[string]any{"query": doc, "variables": json.RawMessage(vars)})
			typ := "subscribe"
			if c.legacy {
				typ = "start"
			}
			history = append(history, fmt.Sprintf("socket %d: %s %s %s", i, s.id, doc, vars))
			c.send(t, fmt.Sprintf(`{"type":%q,"id":%q,"payload":%s}`, typ, s.id, payload))
			c.sync(t) // it starts before the next item is added
			subs = append(subs, s)
		case k < 82: // complete
			if len(subs) == 0 {
				continue
			}
			s := subs[r.IntN(len(subs))]
			c := socks[s.sock]
			c.mu.Lock()
			paused := c.paused
			c.mu.Unlock()
			if s.completed || paused {
				continue
			}
			typ := "complete"
			if c.legacy {
				typ = "stop"
			}
			history = append(history, fmt.Sprintf("socket %d: %s %s", s.sock, typ, s.id))
			c.send(t, fmt.Sprintf(`{"type":%q,"id":%q}`, typ, s.id))
			c.sync(t)
			s.completed = true
		default: // a socket stops reading, or reads again
			i := r.IntN(len(socks))
			c := socks[i]
			c.mu.Lock()
			paused := c.paused
			c.mu.Unlock()
			history = append(history, fmt.Sprintf("socket %d: paused %v", i, !paused))
			c.pause(!paused)
		}
		check()
	}
	for _, c := range socks {
		c.pause(false)
	}
	check()
	t.Logf("%d subscriptions, %d items", len(subs), len(added))
	for _, c := range socks {
		c.conn.Close(websocket.StatusNormalClosure, "")
	}
	waitRunning(t, h, nil)
	for deadline := time.Now().Add(10 * time.Second); httpapi.FanoutGroups(h) != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d groups left after every socket closed", httpapi.FanoutGroups(h))
		}
	}
	waitGoroutines(t, baseline)
}

// TestSubscriptionGroupsShareExecutions checks that the subscriptions of
// one document on many sockets cost one execution per item, and no
// goroutine each: createdBy loads users once per execution.
func TestSubscriptionGroupsShareExecutions(t *testing.T) {
	ts, h := newWSServer(t, httpapi.DefaultConfig(), nil, nil)
	const sockets, perSocket = 3, 6
	doc := `{"query":"subscription { itemAdded { id createdBy { name } } }"}`
	socks := make([]*fanClient, sockets)
	for i := range socks {
		socks[i] = dialFan(t, ts, false)
		socks[i].send(t, `{"type":"subscribe","id":"first","payload":`+doc+`}`)
		socks[i].sync(t)
	}
	waitRunning(t, h, slices.Repeat([]string{"first"}, sockets))
	// Pumps end once they have nothing to send: wait for the count to
	// settle before taking it.
	one := settledGoroutines()
	for _, c := range socks {
		for j := 1; j < perSocket; j++ {
			c.send(t, fmt.Sprintf(`{"type":"subscribe","id":"%d","payload":%s}`, j, doc))
		}
		c.sync(t)
	}
	if got := httpapi.FanoutGroups(h); got != 1 {
		t.Fatalf("%d groups, want 1: the subscriptions have one document", got)
	}
	waitGoroutines(t, one) // none more for the other subscriptions
	before := ts.counts.UserCalls.Load()
	const n = 5
	for i := range n {
		if _, err := ts.store.AddItem(t.Context(), items.NewItem{Name: fmt.Sprint("shared ", i), CreatedByID: 1}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range socks {
		c.waitFor(t, func() bool {
			for j := range perSocket {
				id := fmt.Sprint(j)
				if j == 0 {
					id = "first"
				}
				if len(c.got[id]) < n {
					return false
				}
			}
			return true
		}, "every item on every subscription")
	}
	if calls := ts.counts.UserCalls.Load() - before; calls != n {
		t.Errorf("%d calls of Users for %d items to %d subscriptions, want one per item", calls, n, sockets*perSocket)
	}
}

// settledGoroutines returns the goroutine count once it has not changed
// for 50 ms (at most 5 s).
func settledGoroutines() int {
	last, since := runtime.NumGoroutine(), time.Now()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && time.Since(since) < 50*time.Millisecond; {
		time.Sleep(5 * time.Millisecond)
		if n := runtime.NumGoroutine(); n != last {
			last, since = n, time.Now()
		}
	}
	return last
}

// TestSubscriptionGroupsClientThatDoesNotRead: a socket whose client
// reads nothing is disconnected once a write has waited for the write
// timeout, and its group's other subscriptions, on a socket that reads,
// get every item meanwhile.
func TestSubscriptionGroupsClientThatDoesNotRead(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.WebsocketWriteTimeout = 300 * time.Millisecond
	ts, h := newWSServer(t, cfg, nil, nil)
	baseline := runtime.NumGoroutine()
	doc := `{"query":"subscription { itemAdded { id description } }"}`
	stuck := dialFan(t, ts, false)
	other := dialFan(t, ts, false)
	for i := range 3 {
		stuck.send(t, fmt.Sprintf(`{"type":"subscribe","id":"%d","payload":%s}`, i, doc))
	}
	stuck.sync(t)
	stuck.pause(true)
	other.send(t, `{"type":"subscribe","id":"o","payload":`+doc+`}`)
	other.sync(t)
	desc := strings.Repeat("d", items.MaxDescriptionLength)
	const n = 3000 // 6 MB for each subscription: more than the buffers hold
	for i := range n {
		if _, err := ts.store.AddItem(t.Context(), items.NewItem{Name: fmt.Sprint("big ", i), Description: &desc}); err != nil {
			t.Fatal(err)
		}
	}
	other.waitFor(t, func() bool { return len(other.got["o"]) == n }, "every item on the socket that reads")
	waitRunning(t, h, []string{"o"}) // the stuck socket was closed
	other.conn.CloseNow()
	stuck.pause(false)
	stuck.conn.CloseNow()
	waitRunning(t, h, nil)
	waitGoroutines(t, baseline)
}

// TestWebsocketCorked checks that a websocket, on either protocol, writes
// through the corkConn that the record's writer hands the websocket
// library when it hijacks the connection, so that a pump's messages leave
// in few writes.
func TestWebsocketCorked(t *testing.T) {
	ts, h := newWSServer(t, httpapi.DefaultConfig(), nil, nil)
	for _, legacy := range []bool{false, true} {
		dialFan(t, ts, legacy).sync(t)
	}
	if open, corked := httpapi.CorkedSockets(h); open != 2 || corked != 2 {
		t.Errorf("%d open websockets, %d of them corked; want 2 and 2", open, corked)
	}
}
