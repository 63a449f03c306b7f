package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"itemsapi/httpapi"
	"itemsapi/internal/testserver"
	"itemsapi/items"
	itemsmetrics "itemsapi/metrics"
)

// activeGauge reads itemsapi_subscriptions_active from reg.
func activeGauge(t testing.TB, reg prometheus.Gatherer) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "itemsapi_subscriptions_active" {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no itemsapi_subscriptions_active")
	return 0
}

// errorCodes decodes the extensions.code of each error of an error
// message.
func errorCodes(t testing.TB, m wsMessage) []string {
	t.Helper()
	var errs []gqlError
	if err := json.Unmarshal(m.Payload, &errs); err != nil {
		t.Fatalf("error payload %s: %v", m.Payload, err)
	}
	var codes []string
	for _, e := range errs {
		codes = append(codes, e.Code())
	}
	return codes
}

func TestWebsocketIDReuse(t *testing.T) {
	ts, h := newWSServer(t, httpapi.DefaultConfig(), nil, nil)
	add := func(name string) {
		ts.post(t, ts.userToken, `mutation($n: String!) { addItem(input: {name: $n}) { id } }`,
			map[string]any{"n": name}).decode(t, &struct{}{})
	}

	t.Run("a running id closes graphql-transport-ws with 4409", func(t *testing.T) {
		c := ts.dialWS(t, "graphql-transport-ws", nil)
		c.init("")
		c.send(subscribeMsg("a", itemAddedQuery))
		c.pingPong()
		waitRunning(t, h, []string{"a"})
		c.send(subscribeMsg("a", itemAddedQuery))
		if got := c.closeCode(); got != 4409 {
			t.Errorf("close code = %d, want 4409", got)
		}
		waitRunning(t, h, nil)
	})

	t.Run("an id completed and reused at once runs once", func(t *testing.T) {
		c := ts.dialWS(t, "graphql-transport-ws", nil)
		c.init("")
		for range 50 {
			c.send(subscribeMsg("a", itemAddedQuery))
			c.send(`{"type":"complete","id":"a"}`)
		}
		c.send(subscribeMsg("a", itemAddedQuery))
		c.pingPong()
		waitRunning(t, h, []string{"a"})
		add("once")
		if name := itemName(t, c.expect("next", "a")); name != "once" {
			t.Errorf("a got %s, want once", name)
		}
		c.pingPong() // no second next for a: one operation runs
		c.send(`{"type":"complete","id":"a"}`)
		c.pingPong()
		waitRunning(t, h, nil)
	})

	t.Run("a legacy start with a running id gets an error, and the operation goes on", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		ts, h := newWSServer(t, httpapi.DefaultConfig(), nil, itemsmetrics.New(reg))
		c := ts.dialWS(t, "graphql-ws", nil)
		c.init("")
		start := `{"type":"start","id":"1","payload":{"query":"subscription { itemAdded { id name } }"}}`
		c.send(start)
		for range 100 {
			c.send(start)
		}
		for range 100 {
			if codes := errorCodes(t, c.expect("error", "1")); len(codes) != 1 || codes[0] != "BAD_REQUEST" {
				t.Fatalf("codes = %q, want one BAD_REQUEST", codes)
			}
		}
		waitRunning(t, h, []string{"1"})
		if got := activeGauge(t, reg); got != 1 {
			t.Errorf("itemsapi_subscriptions_active = %v, want 1", got)
		}
		ts.post(t, ts.userToken, `mutation { addItem(input: {name: "legacy"}) { id } }`, nil).decode(t, &struct{}{})
		if name := itemName(t, c.expect("data", "1")); name != "legacy" {
			t.Errorf("1 got %s, want legacy", name)
		}
		c.send(`{"type":"stop","id":"1"}`)
		c.expect("complete", "1")
		waitRunning(t, h, nil)
		// The gauge drops when the goroutine has returned, just after it
		// leaves the running set.
		for deadline := time.Now().Add(5 * time.Second); activeGauge(t, reg) != 0; {
			if time.Now().After(deadline) {
				t.Fatalf("itemsapi_subscriptions_active = %v after stop, want 0", activeGauge(t, reg))
			}
			runtime.Gosched()
		}
	})
}

func TestWebsocketRateLimit(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.RateLimit = httpapi.RateLimit{Requests: 3, Window: time.Minute, TrustedProxies: []string{"127.0.0.1/32"}}
	ts, _ := newWSServer(t, cfg, nil, nil)
	from := func(addr string) http.Header { return http.Header{"X-Forwarded-For": {addr}} }
	query := func(c *wsClient, id string) wsMessage {
		c.send(subscribeMsg(id, `{ item(id: "1") { name } }`))
		return c.read()
	}
	wantRefused := func(t *testing.T, m wsMessage, id string) {
		t.Helper()
		if m.Type != "error" || m.ID != id {
			t.Fatalf("got %s %q %s, want the error of %s", m.Type, m.ID, m.Payload, id)
		}
		var errs []gqlError
		_ = json.Unmarshal(m.Payload, &errs)
		if len(errs) != 1 || errs[0].Code() != "BAD_REQUEST" || !strings.Contains(errs[0].Message, "rate limit") {
			t.Errorf("errors = %+v, want one BAD_REQUEST about the rate limit", errs)
		}
	}

	t.Run("per client address", func(t *testing.T) {
		// The upgrade is the address's first request of 3.
		c := ts.dialWS(t, "graphql-transport-ws", from("10.0.0.1"))
		c.init("")
		for _, id := range []string{"1", "2"} {
			if m := query(c, id); m.Type != "next" {
				t.Fatalf("operation %s: %s %s, want next", id, m.Type, m.Payload)
			}
			c.expect("complete", id)
		}
		wantRefused(t, query(c, "3"), "3")
		c.pingPong() // the socket stays open
		// Another address has its own budget.
		other := ts.dialWS(t, "graphql-transport-ws", from("10.0.0.2"))
		other.init("")
		if m := query(other, "1"); m.Type != "next" {
			t.Fatalf("from another address: %s %s, want next", m.Type, m.Payload)
		}
	})

	t.Run("per token", func(t *testing.T) {
		payload := `{"token":"` + ts.userToken + `"}`
		c := ts.dialWS(t, "graphql-transport-ws", from("10.0.1.1"))
		c.init(payload)
		for _, id := range []string{"1", "2"} {
			query(c, id)
			c.expect("complete", id)
		}
		// A fresh address, the same token: the token's third request
		// passes, its fourth does not.
		c2 := ts.dialWS(t, "graphql-transport-ws", from("10.0.1.2"))
		c2.init(payload)
		if m := query(c2, "1"); m.Type != "next" {
			t.Fatalf("third request of the token: %s %s, want next", m.Type, m.Payload)
		}
		c2.expect("complete", "1")
		wantRefused(t, query(c2, "2"), "2")
		// Over HTTP, the same budget.
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/graphql",
			strings.NewReader(`{"query":"{ __typename }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+ts.userToken)
		req.Header.Set("X-Forwarded-For", "10.0.1.3")
		if r := ts.do(t, req); r.Status != http.StatusTooManyRequests {
			t.Errorf("HTTP request with the token = %d, want 429", r.Status)
		}
	})

	t.Run("legacy protocol", func(t *testing.T) {
		c := ts.dialWS(t, "graphql-ws", from("10.0.2.1"))
		c.init("")
		for _, id := range []string{"1", "2"} {
			c.send(`{"type":"start","id":"` + id + `","payload":{"query":"{ __typename }"}}`)
			c.expect("data", id)
			c.expect("complete", id)
		}
		c.send(`{"type":"start","id":"3","payload":{"query":"{ __typename }"}}`)
		wantRefused(t, c.read(), "3")
	})
}

// counter reads the counter name{labels} from reg (labels as "k=v,k=v"
// in the order of the metric's labels).
func counter(t testing.TB, reg prometheus.Gatherer, name, labels string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var kv []string
			for _, l := range m.GetLabel() {
				kv = append(kv, l.GetName()+"="+l.GetValue())
			}
			if strings.Join(kv, ",") == labels {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestWebsocketAccessLog: each operation over a websocket gets the access
// line of an HTTP request, and the GraphQL metrics.
func TestWebsocketAccessLog(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.MaxSubscriptionsPerSocket = 1
	reg := prometheus.NewRegistry()
	ts, h := newWSServer(t, cfg, nil, itemsmetrics.New(reg))
	c := ts.dialWS(t, "graphql-transport-ws", http.Header{"X-Request-Id": {"sock-7"}})
	c.init("")
	c.send(subscribeMsg("q", `query Fruit { item(id: "1") { name } }`))
	c.expect("next", "q")
	c.expect("complete", "q")
	c.send(subscribeMsg("s", `subscription Feed { itemAdded { id } }`))
	c.send(subscribeMsg("x", `{ item(id: "2") { name } }`)) // over the limit of 1
	c.expect("error", "x")
	c.send(`{"type":"complete","id":"s"}`)
	c.pingPong()
	waitRunning(t, h, nil)
	c.send(subscribeMsg("v", `{ nope }`))
	c.expect("error", "v")
	c.pingPong()

	want := []string{
		`req_id=sock-7.1 method=WS path=/graphql op=Fruit status=200 `,
		`req_id=sock-7.2 method=WS path=/graphql op=Feed status=499 `,
		`req_id=sock-7.3 method=WS path=/graphql op="" status=503 `,
		`req_id=sock-7.4 method=WS path=/graphql op="" status=400 `,
	}
	for _, w := range want {
		if !testserver.Eventually(5*time.Second, func() bool { return strings.Contains(ts.logs.String(), w) }) {
			t.Fatalf("no access-log line with %q in:\n%s", w, ts.logs)
		}
	}
	if !regexp.MustCompile(`req_id=sock-7.2 method=WS path=/graphql op=Feed status=499 dur_ms=[0-9.]+\n`).MatchString(ts.logs.String()) {
		t.Errorf("the line of sock-7.2 has no duration:\n%s", ts.logs)
	}
	for _, tt := range []struct {
		name, labels string
		want         float64
	}{
		{"itemsapi_graphql_requests_total", "operation=Fruit,type=query", 1},
		{"itemsapi_graphql_requests_total", "operation=Feed,type=subscription", 1},
		{"itemsapi_graphql_errors_total", "code=GRAPHQL_VALIDATION_FAILED", 1},
	} {
		if got := counter(t, reg, tt.name, tt.labels); got != tt.want {
			t.Errorf("%s{%s} = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
}

// endingBroker is a broker whose subscriptions deliver nothing and end,
// with err, when end is closed.
type endingBroker struct {
	end chan struct{}
	err error
}

func (b *endingBroker) Follow(ctx context.Context, _ items.EventKind, after int64) (*items.Subscription, error) {
	return b.Subscribe(ctx, after)
}

func (b *endingBroker) Subscribe(ctx context.Context, _ int64) (*items.Subscription, error) {
	c := make(chan items.Item)
	var ended atomic.Bool
	go func() {
		defer close(c)
		select {
		case <-b.end:
			ended.Store(true)
			items.EndSubscription(ctx, b.err)
		case <-ctx.Done():
		}
	}()
	return &items.Subscription{C: c, Err: func() error {
		if ended.Load() {
			return b.err
		}
		return nil
	}}, nil
}

func TestWebsocketSubscriptionEnds(t *testing.T) {
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(proto+": an error of the stream ends it with an error message", func(t *testing.T) {
			b := &endingBroker{end: make(chan struct{}), err: items.Errorf(items.Unavailable, "the store went away")}
			ts, h := newWSServer(t, httpapi.DefaultConfig(), b, nil)
			c := ts.dialWS(t, proto, nil)
			c.init("")
			c.send(`{"type":"` + map[bool]string{true: "start", false: "subscribe"}[proto == "graphql-ws"] +
				`","id":"s","payload":{"query":"subscription { itemAdded { id } }"}}`)
			waitRunning(t, h, []string{"s"})
			close(b.end)
			m := c.expect("error", "s")
			var errs []gqlError
			_ = json.Unmarshal(m.Payload, &errs)
			if len(errs) != 1 || errs[0].Code() != "SERVICE_UNAVAILABLE" || errs[0].Message != "the store went away" {
				t.Errorf("errors = %+v, want the stream's", errs)
			}
			waitRunning(t, h, nil)
		})
	}
}

func TestWebsocketShutdown(t *testing.T) {
	subscribe := func(c *wsClient, id string) {
		c.send(subscribeMsg(id, itemAddedQuery))
	}

	t.Run("sockets close with 1001 once their operations end", func(t *testing.T) {
		b := &endingBroker{end: make(chan struct{}), err: items.ErrGoingAway}
		ts, h := newWSServer(t, httpapi.DefaultConfig(), b, nil)
		busy := ts.dialWS(t, "graphql-transport-ws", nil)
		busy.init("")
		subscribe(busy, "1")
		subscribe(busy, "2")
		legacy := ts.dialWS(t, "graphql-ws", nil)
		legacy.init("")
		legacy.send(`{"type":"start","id":"3","payload":{"query":"subscription { itemAdded { id } }"}}`)
		idle := ts.dialWS(t, "graphql-transport-ws", nil)
		idle.init("")
		waitRunning(t, h, []string{"1", "2", "3"})
		baseline := runtime.NumGoroutine()

		done := make(chan error, 1)
		go func() { done <- h.Shutdown(context.Background()) }()
		if got := idle.closeCode(); got != websocket.StatusGoingAway {
			t.Errorf("idle socket: close code %d, want 1001", got)
		}
		_, resp, err := ts.tryDialWS(t, "graphql-transport-ws", nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("upgrade during shutdown: %v, %v; want 503", err, resp)
		}
		busy.pingPong() // still open: its operations run
		busy.send(subscribeMsg("4", `{ __typename }`))
		if codes := errorCodes(t, busy.expect("error", "4")); len(codes) != 1 || codes[0] != "SERVICE_UNAVAILABLE" {
			t.Errorf("a new operation during shutdown: %q, want SERVICE_UNAVAILABLE", codes)
		}
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned %v with operations running", err)
		default:
		}
		close(b.end) // the broker ends every stream with ErrGoingAway
		for _, c := range []*wsClient{busy, legacy} {
			// Nothing for the operations (no error, no complete): the
			// close comes next.
			if got := c.closeCode(); got != websocket.StatusGoingAway {
				t.Errorf("close code %d, want 1001", got)
			}
		}
		if err := <-done; err != nil {
			t.Errorf("Shutdown = %v, want nil", err)
		}
		waitGoroutines(t, baseline)
	})

	t.Run("the broker is told to end its streams", func(t *testing.T) {
		// The memory store's broker has a Shutdown method.
		ts, h := newWSServer(t, httpapi.DefaultConfig(), nil, nil)
		c := ts.dialWS(t, "graphql-transport-ws", nil)
		c.init("")
		subscribe(c, "1")
		waitRunning(t, h, []string{"1"})
		done := make(chan error, 1)
		go func() { done <- h.Shutdown(context.Background()) }()
		if got := c.closeCode(); got != websocket.StatusGoingAway {
			t.Errorf("close code %d, want 1001", got)
		}
		if err := <-done; err != nil {
			t.Errorf("Shutdown = %v, want nil", err)
		}
	})

	t.Run("and when the grace runs out", func(t *testing.T) {
		never := &endingBroker{end: make(chan struct{}), err: items.ErrGoingAway} // no Shutdown method
		ts, h := newWSServer(t, httpapi.DefaultConfig(), never, nil)
		c := ts.dialWS(t, "graphql-transport-ws", nil)
		c.init("")
		subscribe(c, "1")
		waitRunning(t, h, []string{"1"})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := h.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown = %v, want context.DeadlineExceeded", err)
		}
		if got := c.closeCode(); got != websocket.StatusGoingAway {
			t.Errorf("close code %d, want 1001", got)
		}
		waitRunning(t, h, nil)
	})
}

// floodBroker is a broker whose subscriptions send large items as fast
// as they are taken, counting them.
type floodBroker struct{ sent atomic.Int64 }

func (b *floodBroker) Follow(ctx context.Context, _ items.EventKind, after int64) (*items.Subscription, error) {
	return b.Subscribe(ctx, after)
}

func (b *floodBroker) Subscribe(ctx context.Context, _ int64) (*items.Subscription, error) {
	c := make(chan items.Item)
	desc := strings.Repeat("x", 64<<10)
	go func() {
		defer close(c)
		for i := int64(1); ; i++ {
			select {
			case c <- items.Item{ID: i, Name: "flood", Description: &desc, CreatedAt: time.Now()}:
				b.sent.Add(1)
			case <-ctx.Done():
				return
			}
		}
	}()
	return &items.Subscription{C: c, Err: func() error { return nil }}, nil
}

// TestWebsocketClientThatDoesNotRead: a client that never reads holds at
// most a message per operation in the server while the network's buffers
// fill, does not slow other sockets, and is disconnected once a write has
// waited for the write timeout.
func TestWebsocketClientThatDoesNotRead(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.WebsocketWriteTimeout = 300 * time.Millisecond
	b := &floodBroker{}
	ts, h := newWSServer(t, cfg, b, nil)
	baseline := runtime.NumGoroutine()

	stuck := ts.dialWS(t, "graphql-transport-ws", nil)
	stuck.init("")
	for i := range 3 {
		stuck.send(subscribeMsg(fmt.Sprint(i), `subscription { itemAdded { id description } }`))
	}
	// Meanwhile another socket is served as usual.
	other := ts.dialWS(t, "graphql-transport-ws", nil)
	other.init("")
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 20 {
			other.pingPong()
		}
	})
	wg.Wait()
	waitRunning(t, h, nil) // the stuck socket was closed, its operations ended
	sent := b.sent.Load()
	t.Logf("%d items of 64 KiB sent before the socket was closed", sent)
	if sent > 2000 { // ~128 MiB: far more than a socket's buffers hold
		t.Errorf("%d items were taken from the broker for a client that reads nothing", sent)
	}
	other.pingPong()
	other.conn.CloseNow()
	stuck.conn.CloseNow()
	waitGoroutines(t, baseline)
}

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
	// A subscription that ended, or items that never come, fail the test
	// with what came instead of waiting for the keep-alives forever.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	got, kas := 0, 0
	for got < n || kas == 0 {
		_, msg, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("after %d items and %d keep-alives: %v", got, kas, err)
		}
		switch {
		case strings.Contains(string(msg), `"type":"data"`):
			got++
		case string(msg) == `{"type":"ka"}`:
			kas++
		case string(msg) == `{"type":"connection_ack"}`:
		default:
			t.Fatalf("after %d items and %d keep-alives: %s", got, kas, msg)
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
