package testserver

import (
	"context"
	"encoding/json"
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

// DialWS opens a websocket on url/graphql with the graphql-transport-ws
// subprotocol and opts (nil for none), sends connection_init with
// payload (none when nil), and waits for connection_ack; it fails the
// test otherwise. The socket is closed at the end of the test.
func DialWS(t testing.TB, url string, opts *websocket.DialOptions, payload any) *WS {
	t.Helper()
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	opts.Subprotocols = []string{"graphql-transport-ws"}
	conn, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(url, "http")+"/graphql", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
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
