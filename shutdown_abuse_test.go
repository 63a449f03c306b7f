package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestShutdownWithClientsThatNeverRead opens subscriptions whose clients
// never read, on every transport (graphql-sse, multipart/mixed, both
// websocket protocols), fills their connections with items, then shuts
// the server down: run must return within --shutdown-grace and the time
// the websockets' close handshakes are given (a second), whatever the
// clients do.
func TestShutdownWithClientsThatNeverRead(t *testing.T) {
	const grace = time.Second
	s := start(t, map[string]string{"BOOTSTRAP_ADMIN_TOKEN": adminToken}, "--db", "memory", "--shutdown-grace", grace.String())
	addr := strings.TrimPrefix(s.URL, "http://")
	sub := `{"query":"subscription { itemAdded { id name description } }"}`
	requests := map[string]string{
		"graphql-sse": "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n" +
			fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(sub), sub),
		"multipart": "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAccept: multipart/mixed;boundary=graphql;subscriptionSpec=1.0\r\n" +
			fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(sub), sub),
	}
	wsFrames := map[string][]string{
		"graphql-transport-ws": {`{"type":"connection_init"}`, `{"type":"subscribe","id":"1","payload":` + sub + `}`},
		"graphql-ws":           {`{"type":"connection_init"}`, `{"type":"start","id":"1","payload":` + sub + `}`},
	}
	var conns []net.Conn
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.(*net.TCPConn).SetReadBuffer(4 << 10)
		conns = append(conns, c)
		t.Cleanup(func() { c.Close() })
		return c
	}
	for name, req := range requests {
		for range 5 {
			c := dial()
			if _, err := c.Write([]byte(req)); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
	for proto, frames := range wsFrames {
		for range 5 {
			c := dial()
			key := "dGhlIHNhbXBsZSBub25jZQ=="
			fmt.Fprintf(c, "GET /graphql HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n", key, proto)
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("%s upgrade: %v %v", proto, resp, err)
			}
			for _, f := range frames {
				if _, err := c.Write(maskedFrame([]byte(f))); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// Wait until every subscription runs, then fill the connections.
	a := newAbuser(t, s.URL)
	a.waitActive(t, float64(len(conns)))
	desc := strings.Repeat("d", 2000)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 100 {
				var got struct{ AddItem struct{ ID string } }
				body, _ := json.Marshal(map[string]any{"query": `mutation($n: String!, $d: String) { addItem(input: {name: $n, description: $d}) { id } }`,
					"variables": map[string]any{"n": fmt.Sprintf("w%d-%d", w, i), "d": desc}})
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/graphql", strings.NewReader(string(body)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+adminToken)
				resp, err := a.client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_ = json.NewDecoder(resp.Body).Decode(&struct{ Data *struct{ AddItem any } }{Data: &struct{ AddItem any }{AddItem: &got.AddItem}})
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	began := time.Now()
	s.Stop(t) // fails the test unless run returns nil within 15 s
	took := time.Since(began)
	t.Logf("run returned in %v with %d clients that never read", took.Round(time.Millisecond), len(conns))
	if bound := grace + 2*time.Second; took > bound {
		t.Errorf("run returned %v after shutdown began, past grace %v + the close handshakes' second", took, grace)
	}
}

// maskedFrame is a client's websocket text frame holding payload.
func maskedFrame(payload []byte) []byte {
	f := []byte{0x81}
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n < 1<<16:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	default:
		f = append(f, 0x80|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	mask := []byte{1, 2, 3, 4}
	f = append(f, mask...)
	for i, b := range payload {
		f = append(f, b^mask[i%4])
	}
	return f
}
