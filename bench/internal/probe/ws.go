package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/coder/websocket"
)

// Subscriber opens a graphql-transport-ws socket to the GraphQL endpoint
// url (http://…/graphql), waits for its connection_ack, and starts n
// subscriptions to the subscription query on it, with ids 0 to n-1. It
// returns the socket without reading anything more from it: a client that
// never reads, whose server's writes back up.
func Subscriber(ctx context.Context, url string, n int, query string) (*websocket.Conn, error) {
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http"), &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return nil, err
	}
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"connection_init","payload":{}}`)); err != nil {
		c.CloseNow()
		return nil, err
	}
	if _, msg, err := c.Read(ctx); err != nil || !bytes.Contains(msg, []byte("connection_ack")) {
		c.CloseNow()
		return nil, fmt.Errorf("no connection_ack: %s %v", msg, err)
	}
	payload, err := json.Marshal(query)
	if err != nil {
		c.CloseNow()
		return nil, err
	}
	for i := range n {
		msg := `{"type":"subscribe","id":"` + strconv.Itoa(i) + `","payload":{"query":` + string(payload) + `}}`
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			c.CloseNow()
			return nil, err
		}
	}
	return c, nil
}
