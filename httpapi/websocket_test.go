package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"itemsapi/httpapi"
	"itemsapi/internal/testserver"
	"itemsapi/items"
	"itemsapi/pubsub"
)

// newSubscriptionServer is newTestServer whose broker reports each new
// subscription on the returned channel: a websocket protocol has no
// message that says a subscription is live, and an item added before it
// is would not reach it.
func newSubscriptionServer(t testing.TB) (*testServer, <-chan struct{}) {
	t.Helper()
	return newSubscriptionServerWith(t, httpapi.DefaultConfig())
}

func newSubscriptionServerWith(t testing.TB, cfg httpapi.Config) (*testServer, <-chan struct{}) {
	t.Helper()
	subscribed := make(chan struct{}, 16)
	ts, _ := newServer(t, cfg, func(ts *testServer, d *httpapi.Deps) {
		d.Broker = &notifyingBroker{Broker: ts.mem, subscribed: subscribed}
	})
	return ts, subscribed
}

type notifyingBroker struct {
	items.Broker
	subscribed chan struct{}
}

func (b *notifyingBroker) Subscribe(ctx context.Context, afterItem int64) (*items.Subscription, error) {
	sub, err := b.Broker.Subscribe(ctx, afterItem)
	if err == nil {
		b.subscribed <- struct{}{}
	}
	return sub, err
}

// waitSubscribed waits for n new subscriptions.
func (b *notifyingBroker) Follow(ctx context.Context, kind items.EventKind, afterItem int64) (*items.Subscription, error) {
	sub, err := b.Broker.Follow(ctx, kind, afterItem)
	if err == nil {
		b.subscribed <- struct{}{}
	}
	return sub, err
}

func waitSubscribed(t testing.TB, subscribed <-chan struct{}, n int) {
	t.Helper()
	for range n {
		select {
		case <-subscribed:
		case <-time.After(10 * time.Second):
			t.Fatal("no subscription reached the broker within 10 s")
		}
	}
}

// wsMessage is a message of either websocket protocol.
type wsMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsClient is a raw websocket client that speaks the protocol by hand.
type wsClient struct {
	t    testing.TB
	ctx  context.Context
	conn *websocket.Conn
}

// dialWS opens a websocket on /graphql with subprotocol and header. The
// socket and every read are bounded by 10 s.
func (ts *testServer) dialWS(t testing.TB, subprotocol string, header http.Header) *wsClient {
	t.Helper()
	c, resp, err := ts.tryDialWS(t, subprotocol, header)
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, resp)
	}
	return c
}

func (ts *testServer) tryDialWS(t testing.TB, subprotocol string, header http.Header) (*wsClient, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	conn, resp, err := testserver.TryDial(t, ctx, ts.URL, subprotocol, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		return nil, resp, err
	}
	return &wsClient{t: t, ctx: ctx, conn: conn}, resp, nil
}

// send writes one text message.
func (c *wsClient) send(raw string) {
	c.t.Helper()
	if err := c.conn.Write(c.ctx, websocket.MessageText, []byte(raw)); err != nil {
		c.t.Fatalf("write %s: %v", raw, err)
	}
}

// read returns the next message, skipping legacy keep-alives.
func (c *wsClient) read() wsMessage {
	c.t.Helper()
	for {
		_, data, err := c.conn.Read(c.ctx)
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		var m wsMessage
		if err := json.Unmarshal(data, &m); err != nil {
			c.t.Fatalf("server message %s is not JSON: %v", data, err)
		}
		if m.Type != "ka" {
			return m
		}
	}
}

// expect reads the next message and checks its type and id.
func (c *wsClient) expect(typ, id string) wsMessage {
	c.t.Helper()
	m := c.read()
	if m.Type != typ || m.ID != id {
		c.t.Fatalf("got message %s %q %s, want %s %q", m.Type, m.ID, m.Payload, typ, id)
	}
	return m
}

// init sends connection_init with payload and waits for the ack.
func (c *wsClient) init(payload string) wsMessage {
	c.t.Helper()
	if payload == "" {
		c.send(`{"type":"connection_init"}`)
	} else {
		c.send(`{"type":"connection_init","payload":` + payload + `}`)
	}
	return c.expect("connection_ack", "")
}

// closeCode reads until the server closes the socket and returns the close
// code; a socket that stays open fails the test when its deadline passes.
func (c *wsClient) closeCode() websocket.StatusCode {
	c.t.Helper()
	for {
		_, _, err := c.conn.Read(c.ctx)
		if err != nil {
			if c.ctx.Err() != nil {
				c.t.Fatalf("the socket is still open after 10 s")
			}
			return websocket.CloseStatus(err)
		}
	}
}

// pingPong proves that every message sent before it has been handled: the
// server answers messages in order.
func (c *wsClient) pingPong() {
	c.t.Helper()
	c.send(`{"type":"ping","payload":{"n":1}}`)
	m := c.expect("pong", "")
	if string(m.Payload) != `{"n":1}` {
		c.t.Errorf("pong payload = %s, want the ping's {\"n\":1}", m.Payload)
	}
}

// subscribeMsg is a subscribe message of graphql-transport-ws.
func subscribeMsg(id, query string) string {
	payload, _ := json.Marshal(map[string]any{"query": query})
	return fmt.Sprintf(`{"type":"subscribe","id":%q,"payload":%s}`, id, payload)
}

const itemAddedQuery = `subscription { itemAdded { id name } }`

// itemName decodes the name of an itemAdded event.
func itemName(t testing.TB, m wsMessage) string {
	t.Helper()
	var p struct {
		Data struct {
			ItemAdded struct{ Name string }
		}
		Errors []gqlError
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Errors) > 0 {
		t.Fatalf("itemAdded payload %s: %v %v", m.Payload, err, p.Errors)
	}
	return p.Data.ItemAdded.Name
}

func TestWebsocketSubscriptions(t *testing.T) {
	ts, subscribed := newSubscriptionServer(t)
	c := ts.dialWS(t, "graphql-transport-ws", nil)
	if ack := c.init(`{"Authorization":"Bearer ` + ts.userToken + `"}`); ack.Payload != nil {
		t.Errorf("connection_ack payload = %s, want none (the token is not echoed)", ack.Payload)
	}
	c.send(subscribeMsg("a", itemAddedQuery))
	c.send(subscribeMsg("b", itemAddedQuery))
	waitSubscribed(t, subscribed, 2)

	add := func(name string) {
		ts.post(t, ts.userToken, `mutation($n: String!) { addItem(input: {name: $n}) { id } }`,
			map[string]any{"n": name}).decode(t, &struct{}{})
	}
	add("one")
	add("two")
	got := map[string][]string{}
	for range 4 {
		m := c.read()
		if m.Type != "next" {
			t.Fatalf("got message %s %q %s, want next", m.Type, m.ID, m.Payload)
		}
		got[m.ID] = append(got[m.ID], itemName(t, m))
	}
	want := map[string][]string{"a": {"one", "two"}, "b": {"one", "two"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("items per subscription (-want +got):\n%s", diff)
	}

	// Once the client completes "a", the server sends nothing more for
	// it, not even its own complete.
	c.send(`{"type":"complete","id":"a"}`)
	c.pingPong()
	add("three")
	if m := c.expect("next", "b"); itemName(t, m) != "three" {
		t.Errorf("b got %s, want three", m.Payload)
	}
	c.pingPong()
}

func TestWebsocketAuth(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		name     string
		payload  string
		want     string
		wantCode string
	}{
		{"authorization", `{"Authorization":"Bearer ` + ts.userToken + `"}`, `{"me":{"name":"alice"}}`, ""},
		{"authorization in lower case", `{"authorization":"Bearer ` + ts.adminToken + `"}`, `{"me":{"name":"root"}}`, ""},
		{"token", `{"token":"` + ts.userToken + `"}`, `{"me":{"name":"alice"}}`, ""},
		{"no payload", ``, `null`, "UNAUTHENTICATED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ts.dialWS(t, "graphql-transport-ws", nil)
			c.init(tt.payload)
			c.send(subscribeMsg("1", `{ me { name } }`))
			var r gqlResponse
			if err := json.Unmarshal(c.expect("next", "1").Payload, &r); err != nil {
				t.Fatal(err)
			}
			r.check(t, tt.want, tt.wantCode)
			c.expect("complete", "1")
		})
	}
}

func TestWebsocketProtocolViolations(t *testing.T) {
	ts := newTestServer(t)
	const (
		badRequest        = 4400
		unauthorized      = 4401
		subscriberExists  = 4409
		tooManyInitialise = 4429
	)
	tests := []struct {
		name     string
		acked    bool // connection_init is sent and acknowledged first
		send     []string
		wantCode websocket.StatusCode
	}{
		{"init payload a string", false, []string{`{"type":"connection_init","payload":"x"}`}, badRequest},
		{"init payload an array", false, []string{`{"type":"connection_init","payload":[]}`}, badRequest},
		{"init payload a number", false, []string{`{"type":"connection_init","payload":1}`}, badRequest},
		{"not JSON before init", false, []string{`{"type":`}, badRequest},
		{"not JSON", true, []string{`hello`}, badRequest},
		{"JSON array", true, []string{`[]`}, badRequest},
		{"no type before init", false, []string{`{"payload":{}}`}, badRequest},
		{"no type", true, []string{`{"id":"1"}`}, badRequest},
		{"type not a string", true, []string{`{"type":7}`}, badRequest},
		{"unknown type", true, []string{`{"type":"start","id":"1","payload":{"query":"{ me { id } }"}}`}, badRequest},
		{"server type from the client", true, []string{`{"type":"next","id":"1","payload":{}}`}, badRequest},
		{"ping payload not an object", true, []string{`{"type":"ping","payload":"x"}`}, badRequest},
		{"subscribe without id", true, []string{`{"type":"subscribe","payload":{"query":"{ me { id } }"}}`}, badRequest},
		{"subscribe with empty id", true, []string{`{"type":"subscribe","id":"","payload":{"query":"{ me { id } }"}}`}, badRequest},
		{"subscribe with numeric id", true, []string{`{"type":"subscribe","id":1,"payload":{"query":"{ me { id } }"}}`}, badRequest},
		{"subscribe without payload", true, []string{`{"type":"subscribe","id":"1"}`}, badRequest},
		{"subscribe without query", true, []string{`{"type":"subscribe","id":"1","payload":{}}`}, badRequest},
		{"subscribe with variables not an object", true, []string{`{"type":"subscribe","id":"1","payload":{"query":"{ me { id } }","variables":[]}}`}, badRequest},
		{"complete without id", true, []string{`{"type":"complete"}`}, badRequest},
		{"subscribe before init", false, []string{subscribeMsg("1", itemAddedQuery)}, unauthorized},
		{"second init", true, []string{`{"type":"connection_init"}`}, tooManyInitialise},
		{"subscribe with a running id", true, []string{subscribeMsg("1", itemAddedQuery), subscribeMsg("1", itemAddedQuery)}, subscriberExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ts.dialWS(t, "graphql-transport-ws", nil)
			if tt.acked {
				c.init("")
			}
			for _, m := range tt.send {
				c.send(m)
			}
			if got := c.closeCode(); got != tt.wantCode {
				t.Errorf("close code = %d, want %d", got, tt.wantCode)
			}
		})
	}
}

func TestWebsocketBeforeInit(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dialWS(t, "graphql-transport-ws", nil)
	c.send(`{"type":"pong"}`)                 // unsolicited: ignored
	c.send(`{"type":"complete","id":"none"}`) // unknown operation: ignored
	c.pingPong()
	c.init("")
	c.pingPong()
}

func TestWebsocketInitTimeout(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.WebsocketInitTimeout = 50 * time.Millisecond
	ts := newTestServerWith(t, cfg)
	for _, sub := range []string{"graphql-transport-ws", "graphql-ws"} {
		c := ts.dialWS(t, sub, nil)
		if got := c.closeCode(); got != 4408 {
			t.Errorf("%s: close code without connection_init = %d, want 4408", sub, got)
		}
	}
}

func TestWebsocketErrorEndsOperation(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dialWS(t, "graphql-transport-ws", nil)
	c.init("")
	c.send(subscribeMsg("1", `subscription { nope }`))
	var errs []gqlError
	if err := json.Unmarshal(c.expect("error", "1").Payload, &errs); err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 || errs[0].Code() != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("errors = %+v, want one GRAPHQL_VALIDATION_FAILED", errs)
	}
	c.pingPong() // no complete before the pong: error ends the operation
	c.send(subscribeMsg("1", `{ item(id: "1") { name } }`))
	if m := c.expect("next", "1"); string(m.Payload) != `{"data":{"item":{"name":"Apple"}}}` {
		t.Errorf("query over the socket = %s", m.Payload)
	}
	c.expect("complete", "1")
}

func TestWebsocketLegacyProtocol(t *testing.T) {
	ts, subscribed := newSubscriptionServer(t)
	c := ts.dialWS(t, "graphql-ws", nil)
	c.send(`{"type":"connection_init","payload":{"token":"` + ts.userToken + `"}}`)
	c.expect("connection_ack", "")
	c.send(`{"type":"start","id":"1","payload":{"query":"subscription { itemAdded { id name } }"}}`)
	waitSubscribed(t, subscribed, 1)
	c.send(`{"type":"start","id":"2","payload":{"query":"{ me { name } }"}}`)
	if m := c.expect("data", "2"); string(m.Payload) != `{"data":{"me":{"name":"alice"}}}` {
		t.Errorf("me = %s", m.Payload)
	}
	c.expect("complete", "2")
	ts.post(t, ts.userToken, `mutation { addItem(input: {name: "legacy"}) { id } }`, nil).decode(t, &struct{}{})
	if name := itemName(t, c.expect("data", "1")); name != "legacy" {
		t.Errorf("itemAdded = %s, want legacy", name)
	}
	c.send(`{"type":"stop","id":"1"}`)
	c.expect("complete", "1")

	t.Run("init payload not an object", func(t *testing.T) {
		c := ts.dialWS(t, "graphql-ws", nil)
		c.send(`{"type":"connection_init","payload":"x"}`)
		if got := c.closeCode(); got != 4400 {
			t.Errorf("close code = %d, want 4400", got)
		}
	})
}

func TestWebsocketOrigin(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.WebsocketOrigins = []string{"app.example.com", "https://*.example.org"}
	ts := newTestServerWith(t, cfg)
	tests := []struct {
		origin string
		want   bool
	}{
		{"", true},
		{ts.URL, true}, // the server's own
		{"https://app.example.com", true},
		{"http://APP.example.com", true},
		{"https://x.example.org", true},
		{"http://x.example.org", false},
		{"https://evil.example.net", false},
		{"null", false},
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			c, resp, err := ts.tryDialWS(t, "graphql-transport-ws", h)
			if !tt.want {
				if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
					t.Fatalf("dial from %q: %v, response %v; want 403", tt.origin, err, resp)
				}
				return
			}
			if err != nil {
				t.Fatalf("dial from %q: %v", tt.origin, err)
			}
			c.init("")
		})
	}
}

func TestWebsocketKeepAlive(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.KeepAlive = 250 * time.Millisecond
	ts := newTestServerWith(t, cfg)

	t.Run("a client that answers pings stays", func(t *testing.T) {
		c := ts.dialWS(t, "graphql-transport-ws", nil)
		c.init("")
		for range 5 { // 1.25 s: the deadline of 500 ms passes twice over
			c.expect("ping", "")
			c.send(`{"type":"pong"}`)
		}
		c.send(subscribeMsg("1", `{ item(id: "2") { name } }`))
		for {
			m := c.read()
			if m.Type == "ping" {
				c.send(`{"type":"pong"}`)
				continue
			}
			if m.Type != "next" || string(m.Payload) != `{"data":{"item":{"name":"Banana"}}}` {
				t.Fatalf("got %s %s, want the item", m.Type, m.Payload)
			}
			break
		}
	})
	t.Run("a client that does not is closed", func(t *testing.T) {
		c := ts.dialWS(t, "graphql-transport-ws", nil)
		c.init("")
		c.closeCode() // fails the test if the socket stays open
	})
}

// droppingBroker delivers one item to each subscriber and then drops it,
// as the hub drops a subscriber that fell behind.
type droppingBroker struct{}

func (droppingBroker) Subscribe(ctx context.Context, _ int64) (*items.Subscription, error) {
	c := make(chan items.Item, 1)
	c <- items.Item{ID: 7, Name: "seven", CreatedAt: time.Now()}
	items.EndSubscription(ctx, pubsub.ErrTooSlow)
	close(c)
	return &items.Subscription{C: c, Err: func() error { return pubsub.ErrTooSlow }}, nil
}

func (b droppingBroker) Follow(ctx context.Context, _ items.EventKind, after int64) (*items.Subscription, error) {
	return b.Subscribe(ctx, after)
}

func TestWebsocketDroppedSubscriberIsTold(t *testing.T) {
	ts, _ := newServer(t, httpapi.DefaultConfig(), func(ts *testServer, d *httpapi.Deps) {
		d.Store, d.Broker = ts.mem, droppingBroker{}
	})

	c := ts.dialWS(t, "graphql-transport-ws", nil)
	c.init("")
	c.send(subscribeMsg("s", itemAddedQuery))
	if m := c.expect("next", "s"); itemName(t, m) != "seven" {
		t.Errorf("first message = %s, want the item seven", m.Payload)
	}
	var errs []gqlError
	if err := json.Unmarshal(c.expect("error", "s").Payload, &errs); err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "fell more than") {
		t.Errorf("errors = %+v, want one saying the subscriber fell behind", errs)
	}
	c.pingPong() // the connection stays usable
}

// TestWebsocketTokenLifecycle: a connection_init with a token that is
// unknown, revoked or expired is refused with 4403, and an open socket
// whose token is revoked is closed with 4403 within a second.
func TestWebsocketTokenLifecycle(t *testing.T) {
	ts := newTestServer(t)
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(proto+" unknown", func(t *testing.T) {
			c := ts.dialWS(t, proto, nil)
			c.send(`{"type":"connection_init","payload":{"token":"itm_nope"}}`)
			if got := c.closeCode(); got != 4403 {
				t.Errorf("close code = %d, want 4403", got)
			}
		})
	}

	token, hash := items.NewToken()
	if _, err := ts.store.AddToken(t.Context(), "carol", items.RoleUser, hash); err != nil {
		t.Fatal(err)
	}
	c := ts.dialWS(t, "graphql-transport-ws", nil)
	c.init(`{"token":"` + token + `"}`)
	c.pingPong()
	ts.revokeCloses(t, c, hash)

	again := ts.dialWS(t, "graphql-transport-ws", nil)
	again.send(`{"type":"connection_init","payload":{"token":"` + token + `"}}`)
	if got := again.closeCode(); got != 4403 {
		t.Errorf("close code of a revoked token's init = %d, want 4403", got)
	}
}

// TestWebsocketInvalidUTF8: a message that is not valid UTF-8 closes the
// socket with 1007 (RFC 6455), on both protocols, before or after the
// connection is acknowledged; nothing of it is stored.
func TestWebsocketInvalidUTF8(t *testing.T) {
	ts := newTestServer(t)
	before := count(t, ts.store)
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		for _, acked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s acked=%v", proto, acked), func(t *testing.T) {
				c := ts.dialWS(t, proto, nil)
				if acked {
					c.init(`{"token":"` + ts.userToken + `"}`)
				}
				msg := `{"id":"1","type":"subscribe","payload":{"query":"mutation { addItem(input: {name: \"bad` + "\xff" + `name\"}) { id } }"}}`
				if proto == "graphql-ws" {
					msg = strings.Replace(msg, `"subscribe"`, `"start"`, 1)
				}
				if !acked {
					msg = "{\"type\":\"connection_init\",\"payload\":{\"x\":\"\xff\"}}"
				}
				if err := c.conn.Write(c.ctx, websocket.MessageText, []byte(msg)); err != nil {
					t.Fatal(err)
				}
				if got := c.closeCode(); got != websocket.StatusInvalidFramePayloadData {
					t.Errorf("close code = %d, want 1007", got)
				}
			})
		}
	}
	if after := count(t, ts.store); after != before {
		t.Errorf("items %d, then %d: a message that is not UTF-8 added one", before, after)
	}
}

// revokeCloses revokes the token of hash and checks that the server closes
// c with 4403 within a second.
func (ts *testServer) revokeCloses(t *testing.T, c *wsClient, hash items.TokenHash) {
	t.Helper()
	tok, _, err := ts.store.TokenByHash(t.Context(), hash)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.store.RevokeToken(t.Context(), tok.ID, false); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	if got := c.closeCode(); got != 4403 {
		t.Errorf("close code after revocation = %d, want 4403", got)
	}
	if d := time.Since(revoked); d > 1500*time.Millisecond {
		t.Errorf("closed %v after the revocation, want within a second", d)
	}
}

// TestWebsocketHeaderTokenLifecycle: a token sent in the upgrade request's
// headers, with none in connection_init, is held to the same rules as one
// in the payload: refused with 4403 when unknown, revoked or expired, and
// the socket closed with 4403 within a second of its revocation; until
// then it is the caller.
func TestWebsocketHeaderTokenLifecycle(t *testing.T) {
	ts := newTestServer(t)
	header := func(name, value string) http.Header { return http.Header{name: {value}} }
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		for _, h := range []http.Header{header("Authorization", "Bearer itm_nope"), header("Token", "itm_nope")} {
			t.Run(proto+" unknown", func(t *testing.T) {
				c := ts.dialWS(t, proto, h)
				c.send(`{"type":"connection_init"}`)
				if got := c.closeCode(); got != 4403 {
					t.Errorf("close code = %d, want 4403", got)
				}
			})
		}
	}

	token, hash := items.NewToken()
	if _, err := ts.store.AddToken(t.Context(), "carol", items.RoleAdmin, hash); err != nil {
		t.Fatal(err)
	}
	c := ts.dialWS(t, "graphql-transport-ws", header("Authorization", "Bearer "+token))
	c.init("")
	c.send(subscribeMsg("1", `{ me { name } }`))
	var r gqlResponse
	if err := json.Unmarshal(c.expect("next", "1").Payload, &r); err != nil {
		t.Fatal(err)
	}
	r.check(t, `{"me":{"name":"carol"}}`, "")
	c.expect("complete", "1")
	ts.revokeCloses(t, c, hash)

	again := ts.dialWS(t, "graphql-ws", header("Token", token))
	again.send(`{"type":"connection_init"}`)
	if got := again.closeCode(); got != 4403 {
		t.Errorf("close code of a revoked header token's init = %d, want 4403", got)
	}
}

// TestWebsocketsChanged: Deps.WebsocketsChanged is told how many
// websockets are open as each opens and closes (the server sizes the
// collector's soft memory limit by it).
func TestWebsocketsChanged(t *testing.T) {
	var mu sync.Mutex
	var told []int
	ts, _ := newServer(t, httpapi.DefaultConfig(), func(_ *testServer, d *httpapi.Deps) {
		d.WebsocketsChanged = func(open int) {
			mu.Lock()
			told = append(told, open)
			mu.Unlock()
		}
	})
	got := func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(told)
	}
	a := testserver.Dial(t, ts.URL, "graphql-transport-ws", nil)
	b := testserver.Dial(t, ts.URL, "graphql-transport-ws", nil)
	if !testserver.Eventually(5*time.Second, func() bool { return len(got()) == 2 }) || !slices.Equal(got(), []int{1, 2}) {
		t.Fatalf("two sockets opened: told %v, want [1 2]", got())
	}
	a.CloseNow()
	b.CloseNow()
	if !testserver.Eventually(5*time.Second, func() bool { return len(got()) == 4 }) || !slices.Equal(got(), []int{1, 2, 1, 0}) {
		t.Fatalf("both closed: told %v, want [1 2 1 0]", got())
	}
}
