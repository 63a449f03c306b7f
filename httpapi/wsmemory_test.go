package httpapi_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"itemsapi/httpapi"
	"itemsapi/internal/testserver"
	"itemsapi/items"
	itemsmetrics "itemsapi/metrics"
)

// blockedFootprint is what the process holds, after a collection: the
// live heap, the part of it the collector scans, the goroutines' stacks it
// scans, the objects of the heap (each one the collector marks), and the
// goroutines.
type blockedFootprint struct {
	heap, scanHeap, scanStack, objects uint64
	goroutines                         int
}

func measureFootprint() blockedFootprint {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/scan/heap:bytes"},
		{Name: "/gc/scan/stack:bytes"},
		{Name: "/gc/heap/objects:objects"},
	}
	metrics.Read(s)
	return blockedFootprint{
		heap: s[0].Value.Uint64(), scanHeap: s[1].Value.Uint64(), scanStack: s[2].Value.Uint64(),
		objects:    s[3].Value.Uint64(),
		goroutines: runtime.NumGoroutine(),
	}
}

// blockedSockets and blockedSubs are how many sockets, each with how many
// subscriptions, TestWebsocketBlockedFootprint holds blocked.
const (
	blockedSockets = 100
	blockedSubs    = 20
)

// Bounds of TestWebsocketBlockedFootprint, per socket of blockedSubs
// subscriptions whose client reads nothing and whose writes are blocked.
// The collector scans what holds pointers at each cycle, so that what a
// blocked socket keeps costs the writers CPU as long as it is open
// (bench/subload); buffers of bytes it does not scan, but they take the
// room of the heap under the soft memory limit, and make cycles come more
// often. The test's own client sockets (a coder/websocket connection each,
// and its buffers) count too.
// The collector marks each object at every cycle: a parked subscription
// keeps what its end needs in its operation rather than in closures (its
// count in the metrics, its document, its access-log line), and a blocked
// socket of 20 holds about 365 objects, its client's side included,
// rather than 470.
const (
	blockedHeapPerSocket    = 64 << 10
	blockedScanPerSocket    = 38 << 10
	blockedObjectsPerSocket = 400
)

// TestWebsocketBlockedFootprint opens sockets with subscriptions whose
// client never reads, adds items until every socket's writes are blocked,
// and measures what the process holds for them: the heap, and the part of
// it (and of the stacks) the collector scans at every cycle, against the
// bounds above. Run with -v to see the figures.
func TestWebsocketBlockedFootprint(t *testing.T) {
	if testing.Short() {
		t.Skip("hundreds of sockets: not with -short")
	}
	if raceEnabled {
		t.Skip("the race detector's shadow memory counts in the heap")
	}
	cfg := httpapi.DefaultConfig()
	cfg.WebsocketWriteTimeout = time.Minute
	cfg.MaxSharePerAddress = 1
	// With metrics, as the server runs: they count each operation.
	ts, h := newWSServer(t, cfg, nil, itemsmetrics.New(prometheus.NewRegistry()))
	// The server's sockets get the small send buffer that the real
	// server gives them (ConnContext), so that their writes block soon.
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnContext = httpapi.ConnContext
	srv.Start()
	t.Cleanup(srv.Close)

	before := measureFootprint()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/graphql"
	conns := make([]*websocket.Conn, blockedSockets)
	for i := range conns {
		c, _, err := websocket.Dial(t.Context(), url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		conns[i] = c
		write := func(msg string) {
			if err := c.Write(t.Context(), websocket.MessageText, []byte(msg)); err != nil {
				t.Fatal(err)
			}
		}
		write(`{"type":"connection_init"}`)
		if _, msg, err := c.Read(t.Context()); err != nil || !strings.Contains(string(msg), "connection_ack") {
			t.Fatalf("no connection_ack: %s %v", msg, err)
		}
		for j := range blockedSubs {
			write(fmt.Sprintf(`{"type":"subscribe","id":"%d","payload":{"query":"subscription { itemAdded { id name description createdAt } }"}}`, j))
		}
	}
	if !testserver.Eventually(10*time.Second, func() bool { return len(httpapi.RunningOps(h)) == blockedSockets*blockedSubs }) {
		t.Fatalf("%d subscriptions running, want %d", len(httpapi.RunningOps(h)), blockedSockets*blockedSubs)
	}
	// Items as bench/subload adds them: 1,000 are 20 × 150 KB of
	// messages for each socket, far more than its send buffer and its
	// client's receive buffer hold.
	for i := range 1000 {
		if _, err := ts.store.AddItem(context.Background(), items.NewItem{Name: fmt.Sprint("load ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if !testserver.Eventually(20*time.Second, func() bool { return httpapi.BlockedSockets(h) == blockedSockets }) {
		t.Fatalf("%d sockets blocked in a write, want %d", httpapi.BlockedSockets(h), blockedSockets)
	}
	settledGoroutines()
	after := measureFootprint()
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / blockedSockets }
	heap, scanHeap, scanStack := per(after.heap, before.heap), per(after.scanHeap, before.scanHeap), per(after.scanStack, before.scanStack)
	objects := per(after.objects, before.objects)
	t.Logf("per socket of %d blocked subscriptions: heap %.1f KiB, scanned heap %.1f KiB, scanned stacks %.1f KiB, %.0f objects, %.1f goroutines",
		blockedSubs, heap/1024, scanHeap/1024, scanStack/1024, objects, float64(after.goroutines-before.goroutines)/blockedSockets)
	if heap > blockedHeapPerSocket {
		t.Errorf("a blocked socket holds %.1f KiB of heap, over the bound of %d KiB", heap/1024, blockedHeapPerSocket>>10)
	}
	if scan := scanHeap + scanStack; scan > blockedScanPerSocket {
		t.Errorf("the collector scans %.1f KiB for each blocked socket, over the bound of %d KiB", scan/1024, blockedScanPerSocket>>10)
	}
	if objects > blockedObjectsPerSocket {
		t.Errorf("the collector marks %.0f objects for each blocked socket, over the bound of %d", objects, blockedObjectsPerSocket)
	}
	for _, c := range conns {
		c.CloseNow()
	}
	waitRunning(t, h, nil)
}

// TestWebsocketKeepAliveWaitsForRoom: the keep-alive of a socket whose
// writes wait for its client waits for the socket's pump, not on a
// goroutine of its own, and reaches the client, after what came before
// it, once the client reads.
func TestWebsocketKeepAliveWaitsForRoom(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.WebsocketWriteTimeout = time.Minute
	cfg.KeepAlive = 20 * time.Millisecond
	ts, h := newWSServer(t, cfg, nil, nil)
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnContext = httpapi.ConnContext
	srv.Start()
	t.Cleanup(srv.Close)

	// The legacy protocol: its keep-alives need no answer.
	c, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(-1)
	for _, msg := range []string{`{"type":"connection_init"}`,
		`{"type":"start","id":"1","payload":{"query":"subscription { itemAdded { id name } }"}}`} {
		if err := c.Write(t.Context(), websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	if !testserver.Eventually(10*time.Second, func() bool { return len(httpapi.RunningOps(h)) == 1 }) {
		t.Fatal("the subscription does not run")
	}
	const n = 20000 // 1.2 MB of messages: more than the buffers hold
	for i := range n {
		if _, err := ts.store.AddItem(context.Background(), items.NewItem{Name: fmt.Sprint("load ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if !testserver.Eventually(20*time.Second, func() bool { return httpapi.BlockedSockets(h) == 1 }) {
		t.Fatal("the socket's writes do not wait for its client")
	}
	before := settledGoroutines()
	if !testserver.Eventually(10*time.Second, func() bool { return httpapi.KeepAlivesOwed(h) == 1 }) {
		t.Fatal("no keep-alive waits for the pump")
	}
	if after := settledGoroutines(); after > before {
		t.Errorf("%d goroutines once a keep-alive waits, %d before: it should wait on none of its own", after, before)
	}
	// The client reads: every item, and a keep-alive after the first
	// items that were waiting.
	got, kas := 0, 0
	for got < n || kas == 0 {
		_, msg, err := c.Read(t.Context())
		if err != nil {
			t.Fatalf("after %d items and %d keep-alives: %v", got, kas, err)
		}
		switch {
		case strings.Contains(string(msg), `"type":"data"`):
			got++
		case string(msg) == `{"type":"ka"}`:
			kas++
		}
	}
}

// TestWebsocketSmallMessagesSmallReads checks that a small message costs
// the server a buffer of about its size: each used to take a whole read
// chunk of 32 KiB, so that a client sending pings, or subscribe and
// complete in turn, made the server allocate (and clear) 32 KiB a message.
func TestWebsocketSmallMessagesSmallReads(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates for itself")
	}
	ts, _ := newWSServer(t, httpapi.DefaultConfig(), nil, nil)
	c := testserver.Dial(t, ts.URL, "graphql-transport-ws", nil)
	ctx := t.Context()
	exchange := func(msg, want string) {
		t.Helper()
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := c.Read(ctx); err != nil || !strings.Contains(string(got), want) {
			t.Fatalf("got %s, %v; want %s", got, err, want)
		}
	}
	exchange(`{"type":"connection_init"}`, "connection_ack")
	const pings = 2000
	exchange(`{"type":"ping"}`, "pong") // the first of each path warms up
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range pings {
		exchange(`{"type":"ping"}`, "pong")
	}
	runtime.ReadMemStats(&after)
	// Both ends are in this process: the client's write and read of each
	// exchange count too.
	if perPing := (after.TotalAlloc - before.TotalAlloc) / pings; perPing > 8<<10 {
		t.Errorf("a ping and its pong allocated %d bytes, want at most 8 KiB", perPing)
	}
}
