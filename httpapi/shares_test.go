package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"itemsapi/httpapi"
	"itemsapi/store/memory"
	"itemsapi/store/storetest"
)

// shareConfig is a server whose bounds are shared by client addresses
// that the tests name in X-Forwarded-For, from 127.0.0.1, a trusted
// proxy.
func shareConfig() httpapi.Config {
	cfg := httpapi.DefaultConfig()
	cfg.MaxSharePerAddress = 0.5
	cfg.RateLimit.TrustedProxies = []string{"127.0.0.0/8", "::1/128"}
	return cfg
}

// TestWebsocketSharePerAddress: one address opens as many websockets as
// it may, half of the server's 4; its next is refused with a 503 that
// names the share, while another address still opens its own, and the
// first may open one again once one of its sockets has closed.
func TestWebsocketSharePerAddress(t *testing.T) {
	cfg := shareConfig()
	cfg.MaxWebsockets = 4
	ts := newTestServerWith(t, cfg)
	from := func(addr string) http.Header { return http.Header{"X-Forwarded-For": {addr}} }
	var mine []*wsClient
	for range 2 {
		c := ts.dialWS(t, "graphql-transport-ws", from("198.51.100.1"))
		c.init("")
		mine = append(mine, c)
	}
	_, resp, err := ts.tryDialWS(t, "graphql-transport-ws", from("198.51.100.1"))
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("3rd websocket of one address: %v, response %v; want 503 with Retry-After", err, resp)
	}
	if body, _ := io.ReadAll(resp.Body); !strings.Contains(string(body), "this client address has the most websockets it may hold open (2, its share of the server's 4)") {
		t.Errorf("503 body %s: want the address's share named", body)
	}
	// Refused again: logged once.
	if _, _, err := ts.tryDialWS(t, "graphql-transport-ws", from("198.51.100.1")); err == nil {
		t.Fatal("4th websocket of one address opened")
	}
	if logs := ts.logs.String(); strings.Count(logs, "holds its share") != 1 || !strings.Contains(logs, "addr=198.51.100.1 limit=websockets share=2 bound=4") {
		t.Errorf("logs, after 2 refusals of one address: want one warning naming it\n%s", logs)
	}
	// An IPv6 client is its /64: another address in it has no share of
	// its own.
	ts.dialWS(t, "graphql-transport-ws", from("2001:db8::1")).init("")
	ts.dialWS(t, "graphql-transport-ws", from("2001:db8::2")).init("")
	if _, resp, err := ts.tryDialWS(t, "graphql-transport-ws", from("2001:db8::3")); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("3rd websocket of one /64: %v, response %v; want 503", err, resp)
	}
	// The server's bound is reached too now (4 open): a fresh address
	// is refused by the server's bound, named as such.
	_, resp, err = ts.tryDialWS(t, "graphql-transport-ws", from("198.51.100.2"))
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("5th websocket: %v, response %v; want 503", err, resp)
	}
	if body, _ := io.ReadAll(resp.Body); !strings.Contains(string(body), "the server has the most websockets") {
		t.Errorf("503 body %s: want the server's bound named", body)
	}
	// A socket of the first address closes: it may open one again.
	mine[0].conn.CloseNow()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, _, err := ts.tryDialWS(t, "graphql-transport-ws", from("198.51.100.1"))
		if err == nil {
			c.init("")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the address could not open a socket again after one closed: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStreamSharePerAddress: the same for HTTP streams; another address
// is still served while one holds its share.
func TestStreamSharePerAddress(t *testing.T) {
	cfg := shareConfig()
	cfg.MaxStreams = 4
	ts := newStreamServer(t, cfg)
	open := func(addr string) *http.Response {
		return ts.request(t, http.MethodPost, "/graphql", gqlBody(itemAddedAfter2, nil),
			map[string]string{"Accept": acceptSSE, "X-Forwarded-For": addr})
	}
	for range 2 {
		resp := open("198.51.100.1")
		newSSEReader(t, resp)
		t.Cleanup(func() { resp.Body.Close() })
	}
	resp := open("198.51.100.1")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(string(body), "this client address has the most streams it may hold open (2, its share of the server's 4)") {
		t.Fatalf("3rd stream of one address: %d %s, want 503 with Retry-After naming the share", resp.StatusCode, body)
	}
	other := open("198.51.100.2")
	newSSEReader(t, other)
	other.Body.Close()
}

// TestReplayRatePerAddress: an address that resumes many subscriptions
// from the first item at once reads the store within its budget of
// --replay-rate items per second, each replay slowed but complete and in
// order, while another address's replay is served from its own budget at
// once; over websockets, and over event streams, whose subscriptions
// follow the log with goroutines of their own.
func TestReplayRatePerAddress(t *testing.T) {
	const (
		added = 3000 // beyond the log's memory (1,024 events): replays read the store
		rate  = 2000
		subs  = 3
		total = added + 2 // the demo items
	)
	tests := []struct {
		name string
		// start serves cfg, and returns the server's store and the
		// function that resumes n subscriptions after item 1 from addr
		// and returns how long it took for every item to arrive on
		// each, in order.
		start func(t *testing.T, cfg httpapi.Config) (*memory.Store, func(addr string, n int) time.Duration)
	}{
		{"websocket", func(t *testing.T, cfg httpapi.Config) (*memory.Store, func(string, int) time.Duration) {
			ts := newTestServerWith(t, cfg)
			return ts.mem, func(addr string, n int) time.Duration { return replayWS(t, ts, addr, n, total) }
		}},
		{"event streams", func(t *testing.T, cfg httpapi.Config) (*memory.Store, func(string, int) time.Duration) {
			ts := newStreamServer(t, cfg)
			return ts.mem, func(addr string, n int) time.Duration { return replaySSE(t, ts, addr, n, total) }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := shareConfig()
			cfg.ReplayRate = rate
			mem, replay := tt.start(t, cfg)
			storetest.AddNumbered(t, mem, added)
			// The store's page reads: each replay reads every item below
			// the log's memory from the store.
			fromStore := total - 1024 - 1
			minimum := time.Duration(float64(subs*fromStore-rate) / rate * float64(time.Second))
			var hostile time.Duration
			done := make(chan struct{})
			go func() {
				defer close(done)
				hostile = replay("198.51.100.1", subs)
			}()
			// Another address resumes meanwhile: within its own burst, at once.
			other := replay("198.51.100.2", 1)
			<-done
			t.Logf("%d replays of %d items (%d from the store) from one address: %v (bound: at least %v); one from another address: %v",
				subs, total-1, fromStore, hostile, minimum, other)
			if hostile < minimum*9/10 {
				t.Errorf("%d replays from one address took %v: faster than %d items/s from the store allow (%v)", subs, hostile, rate, minimum)
			}
			if other >= minimum {
				t.Errorf("a replay from another address took %v: slowed by the first address's budget (it needs none of it past its burst)", other)
			}
		})
	}
}

// replayWS subscribes n times after item 1 on one socket from addr, and
// returns how long it took for items 2 to total to arrive on each, in
// order.
func replayWS(t *testing.T, ts *testServer, addr string, n, total int) time.Duration {
	c := ts.dialWS(t, "graphql-transport-ws", http.Header{"X-Forwarded-For": {addr}})
	c.init("")
	start := time.Now()
	for i := range n {
		c.send(fmt.Sprintf(`{"id":"s%d","type":"subscribe","payload":{"query":"subscription { itemAdded(after: \"1\") { id } }"}}`, i))
	}
	next := make([]int, n)
	for i := range next {
		next[i] = 2
	}
	for left := n * (total - 1); left > 0; left-- {
		m := c.read()
		var p struct {
			Data struct{ ItemAdded struct{ ID string } }
		}
		var i int
		if _, err := fmt.Sscanf(m.ID, "s%d", &i); err != nil || m.Type != "next" || json.Unmarshal(m.Payload, &p) != nil || i >= n {
			t.Fatalf("%s: message %s %s %s, want the next item", addr, m.Type, m.ID, m.Payload)
		}
		if want := fmt.Sprint(next[i]); p.Data.ItemAdded.ID != want {
			t.Fatalf("%s: subscription %s got item %s, want %s", addr, m.ID, p.Data.ItemAdded.ID, want)
		}
		next[i]++
	}
	return time.Since(start)
}

// replaySSE opens n event streams after item 1 from addr, and returns how
// long it took for items 2 to total to arrive on each, in order.
func replaySSE(t *testing.T, ts *streamServer, addr string, n, total int) time.Duration {
	const after1 = `subscription { itemAdded(after: "1") { id } }`
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(after1, nil), map[string]string{"Accept": acceptSSE, "X-Forwarded-For": addr})
		r := newSSEReader(t, resp)
		wg.Go(func() {
			for want := 2; want <= total; want++ {
				ev, ok := r.next()
				if !ok || ev.name != "next" || ev.data != fmt.Sprintf(`{"data":{"itemAdded":{"id":"%d"}}}`, want) {
					t.Errorf("%s: event %+v (stream open: %v), want item %d", addr, ev, ok, want)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}
