package testserver

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// Message is a message of the graphql-transport-ws protocol.
type Message struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// WS is a graphql-transport-ws client of a server's /graphql.
type WS struct {
	Conn *websocket.Conn
}

// TryDial opens a websocket on url/graphql (url is the server's
// http://host:port) with subprotocol and opts (nil for none), the
// handshake bounded by ctx; the socket is closed at the end of the test.
// When the server refuses, it returns the handshake's response.
func TryDial(t testing.TB, ctx context.Context, url, subprotocol string, opts *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	var o websocket.DialOptions
	if opts != nil {
		o = *opts
	}
	o.Subprotocols = []string{subprotocol}
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/graphql", &o)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { conn.CloseNow() })
	return conn, resp, nil
}

// Dial is TryDial under the test's context that fails the test when the
// socket does not open.
func Dial(t testing.TB, url, subprotocol string, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	conn, resp, err := TryDial(t, t.Context(), url, subprotocol, opts)
	if err != nil {
		t.Fatalf("dial %s: %v (response %v)", url, err, resp)
	}
	return conn
}

// DialWS opens a websocket on url/graphql with the graphql-transport-ws
// subprotocol and opts (nil for none), sends connection_init with
// payload (none when nil), and waits for connection_ack; it fails the
// test otherwise. The socket is closed at the end of the test.
func DialWS(t testing.TB, url string, opts *websocket.DialOptions, payload any) *WS {
	t.Helper()
	conn := Dial(t, url, "graphql-transport-ws", opts)
	w := &WS{Conn: conn}
	init := Message{Type: "connection_init"}
	if payload != nil {
		init.Payload, _ = json.Marshal(payload)
	}
	if err := wsjson.Write(t.Context(), conn, init); err != nil {
		t.Fatal(err)
	}
	if ack, err := w.Read(t.Context()); err != nil || ack.Type != "connection_ack" {
		t.Fatalf("connection_init answered %+v, %v", ack, err)
	}
	return w
}

// Subscribe starts operation id: query with vars (none when nil).
func (w *WS) Subscribe(t testing.TB, id, query string, vars map[string]any) {
	t.Helper()
	payload := map[string]any{"query": query}
	if vars != nil {
		payload["variables"] = vars
	}
	p, _ := json.Marshal(payload)
	if err := wsjson.Write(t.Context(), w.Conn, Message{Type: "subscribe", ID: id, Payload: p}); err != nil {
		t.Fatal(err)
	}
}

// Read reads the next message.
func (w *WS) Read(ctx context.Context) (Message, error) {
	var m Message
	err := wsjson.Read(ctx, w.Conn, &m)
	return m, err
}
