package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
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
