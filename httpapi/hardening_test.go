package httpapi_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"itemsapi/httpapi"
	"itemsapi/internal/testserver"
)

const demoQuery = `{ item(id: "1") { name } }`

// send makes a request with headers and returns the response with its
// body read.
func send(t *testing.T, method, url, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, b := roundTrip(t, http.DefaultClient, req)
	return resp, string(b)
}

// errorCode returns extensions.code of the first error of a body.
func errorCode(t *testing.T, body string) string {
	t.Helper()
	var r gqlResponse
	if err := json.Unmarshal([]byte(body), &r); err != nil || len(r.Errors) == 0 {
		t.Fatalf("body %s: want errors (%v)", body, err)
	}
	return r.Errors[0].Code()
}

func getQuery(base, query string) string {
	return base + "/graphql?query=" + url.QueryEscape(query)
}

func TestCORSClosedByDefault(t *testing.T) {
	ts := newTestServer(t)
	resp, _ := send(t, http.MethodOptions, ts.URL+"/graphql", "", map[string]string{
		"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
	})
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("preflight with no origins configured: Access-Control-Allow-Origin = %q, want none", got)
	}
}

func TestCORSListedOrigins(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.CORSOrigins = []string{"https://app.example.com", "https://*.example.org"}
	ts := newTestServerWith(t, cfg)

	preflight := func(origin string) *http.Response {
		resp, _ := send(t, http.MethodOptions, ts.URL+"/graphql", "", map[string]string{
			"Origin":                         origin,
			"Access-Control-Request-Method":  "POST",
			"Access-Control-Request-Headers": "authorization, content-type, apollo-require-preflight",
		})
		return resp
	}
	resp := preflight("https://app.example.com")
	if resp.StatusCode/100 != 2 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("preflight from a listed origin: %s, Allow-Origin %q", resp.Status, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	if h := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")); !strings.Contains(h, "authorization") {
		t.Errorf("Access-Control-Allow-Headers = %q, want authorization among them", h)
	}
	if resp.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Error("credentials are allowed, but they never travel in cookies")
	}
	if got := preflight("https://x.example.org").Header.Get("Access-Control-Allow-Origin"); got != "https://x.example.org" {
		t.Errorf("preflight from a wildcard origin: Allow-Origin %q", got)
	}
	if got := preflight("https://evil.example.net").Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("preflight from an unlisted origin: Allow-Origin %q, want none", got)
	}

	resp, body := send(t, http.MethodPost, ts.URL+"/graphql", `{"query":"`+strings.ReplaceAll(demoQuery, `"`, `\"`)+`"}`,
		map[string]string{"Origin": "https://app.example.com", "Content-Type": "application/json"})
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("POST from a listed origin: %s, Allow-Origin %q, body %s", resp.Status, resp.Header.Get("Access-Control-Allow-Origin"), body)
	}

	// The same list says which pages may open websockets.
	for origin, want := range map[string]int{"https://app.example.com": 0, "https://evil.example.net": http.StatusForbidden} {
		_, resp, err := ts.tryDialWS(t, "graphql-transport-ws", http.Header{"Origin": {origin}})
		switch {
		case want == 0 && err != nil:
			t.Errorf("websocket from %s: %v", origin, err)
		case want != 0 && (resp == nil || resp.StatusCode != want):
			t.Errorf("websocket from %s: %v, want %d", origin, resp, want)
		}
	}
}

func TestCSRFPrevention(t *testing.T) {
	// Off by default: a GET with variables and no special header runs, as
	// the graphql-http audit expects.
	ts := newTestServer(t)
	if resp, body := send(t, http.MethodGet, getQuery(ts.URL, demoQuery), "", nil); resp.StatusCode != 200 {
		t.Fatalf("GET without CSRF prevention: %s %s", resp.Status, body)
	}

	cfg := httpapi.DefaultConfig()
	cfg.CSRFPrevention = true
	ts = newTestServerWith(t, cfg)
	post := `{"query":"{ item(id: \"1\") { name } }"}`
	tests := []struct {
		name, method, body string
		header             map[string]string
		want               int
	}{
		{"GET without headers", http.MethodGet, "", nil, http.StatusBadRequest},
		{"GET with apollo-require-preflight", http.MethodGet, "", map[string]string{"apollo-require-preflight": "true"}, 200},
		{"GET with x-apollo-operation-name", http.MethodGet, "", map[string]string{"x-apollo-operation-name": "Q"}, 200},
		{"GET with an empty header", http.MethodGet, "", map[string]string{"apollo-require-preflight": ""}, http.StatusBadRequest},
		{"GET with Content-Type: application/json", http.MethodGet, "", map[string]string{"Content-Type": "application/json"}, 200},
		{"POST application/json", http.MethodPost, post, map[string]string{"Content-Type": "application/json"}, 200},
		{"POST text/plain", http.MethodPost, post, map[string]string{"Content-Type": "text/plain; charset=utf-8"}, http.StatusBadRequest},
		{"POST form", http.MethodPost, post, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, http.StatusBadRequest},
		{"POST text/plain with the header", http.MethodPost, post,
			map[string]string{"Content-Type": "text/plain", "apollo-require-preflight": "1"}, http.StatusUnsupportedMediaType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := ts.URL + "/graphql"
			if tt.method == http.MethodGet {
				u = getQuery(ts.URL, demoQuery)
			}
			resp, body := send(t, tt.method, u, tt.body, tt.header)
			if resp.StatusCode != tt.want {
				t.Fatalf("%s, want %d: %s", resp.Status, tt.want, body)
			}
			if tt.want == http.StatusBadRequest {
				if code := errorCode(t, body); code != "BAD_REQUEST" || !strings.Contains(body, "Cross-Site Request Forgery") {
					t.Errorf("code %s, body %s: want BAD_REQUEST naming CSRF", code, body)
				}
			}
		})
	}
	// Websocket upgrades are left to the Origin check.
	c := ts.dialWS(t, "graphql-transport-ws", nil)
	c.init("")
}

func TestRateLimitOffByDefault(t *testing.T) {
	ts := newTestServer(t)
	for i := range 50 {
		if resp, body := send(t, http.MethodGet, getQuery(ts.URL, demoQuery), "", nil); resp.StatusCode != 200 {
			t.Fatalf("request %d: %s %s", i, resp.Status, body)
		}
	}
}

func TestRateLimitPerAddress(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.RateLimit = httpapi.RateLimit{Requests: 3, Window: time.Minute}
	ts := newTestServerWith(t, cfg)
	get := func(header map[string]string) (*http.Response, string) {
		return send(t, http.MethodGet, getQuery(ts.URL, demoQuery), "", header)
	}
	for i := range 3 {
		if resp, body := get(nil); resp.StatusCode != 200 {
			t.Fatalf("request %d: %s %s", i, resp.Status, body)
		}
	}
	resp, body := get(nil)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("4th request: %s %s, want 429", resp.Status, body)
	}
	if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q, want seconds", ra)
	}
	if code := errorCode(t, body); code != "BAD_REQUEST" || !strings.Contains(body, "rate limit") {
		t.Errorf("429 body %s: want BAD_REQUEST naming the rate limit", body)
	}
	// With no trusted proxy, X-Forwarded-For is the client's word and
	// buys no fresh budget.
	if resp, _ := get(map[string]string{"X-Forwarded-For": "203.0.113.9"}); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a spoofed X-Forwarded-For escaped the limit: %s", resp.Status)
	}
	// Probes and the playground are not GraphQL requests: the address
	// over its limit still gets them, as often as it asks.
	for _, path := range []string{"/healthz", "/readyz", "/"} {
		for range 5 {
			if resp, body := send(t, http.MethodGet, ts.URL+path, "", nil); resp.StatusCode != 200 {
				t.Fatalf("GET %s past the rate limit: %s %s, want 200", path, resp.Status, body)
			}
		}
	}
}

func TestRateLimitBehindTrustedProxy(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.RateLimit = httpapi.RateLimit{Requests: 2, Window: time.Minute, TrustedProxies: []string{"127.0.0.0/8", "::1/128"}}
	ts := newTestServerWith(t, cfg)
	from := func(addr, token string) int {
		h := map[string]string{"X-Forwarded-For": addr}
		if token != "" {
			h["Authorization"] = "Bearer " + token
		}
		resp, _ := send(t, http.MethodGet, getQuery(ts.URL, demoQuery), "", h)
		return resp.StatusCode
	}
	// Each client behind the proxy has a budget of its own.
	for _, addr := range []string{"198.51.100.1", "198.51.100.1", "198.51.100.2", "198.51.100.2"} {
		if got := from(addr, ""); got != 200 {
			t.Fatalf("request from %s: %d, want 200", addr, got)
		}
	}
	if got := from("198.51.100.1", ""); got != http.StatusTooManyRequests {
		t.Errorf("3rd request from 198.51.100.1: %d, want 429", got)
	}
	// A token's budget follows it from address to address.
	if got := from("198.51.100.3", ts.userToken); got != 200 {
		t.Fatalf("1st request with the token: %d", got)
	}
	if got := from("198.51.100.4", ts.userToken); got != 200 {
		t.Fatalf("2nd request with the token: %d", got)
	}
	if got := from("198.51.100.5", ts.userToken); got != http.StatusTooManyRequests {
		t.Errorf("3rd request with the token from a fresh address: %d, want 429", got)
	}
}

func TestWebsocketConnectionLimit(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.MaxWebsockets = 2
	cfg.MaxSharePerAddress = 0 // the server's bound, from one address
	ts := newTestServerWith(t, cfg)
	first := ts.dialWS(t, "graphql-transport-ws", nil)
	first.init("")
	ts.dialWS(t, "graphql-transport-ws", nil).init("")
	_, resp, err := ts.tryDialWS(t, "graphql-transport-ws", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("3rd websocket: %v, response %v; want 503 with Retry-After", err, resp)
	}
	// Once a socket closes, its place is free again.
	first.conn.CloseNow()
	if !testserver.Eventually(5*time.Second, func() bool {
		var c *wsClient
		if c, _, err = ts.tryDialWS(t, "graphql-transport-ws", nil); err == nil {
			c.init("")
		}
		return err == nil
	}) {
		t.Fatalf("no websocket place freed within 5 s of a close: %v", err)
	}
}

func TestWebsocketSubscriptionLimit(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.MaxSubscriptionsPerSocket = 2
	ts, subscribed := newSubscriptionServerWith(t, cfg)
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(proto, func(t *testing.T) {
			c := ts.dialWS(t, proto, nil)
			start := "subscribe"
			if proto == "graphql-ws" {
				start = "start"
			}
			c.send(`{"type":"connection_init"}`)
			c.expect("connection_ack", "")
			sub := func(id string) {
				c.send(`{"type":"` + start + `","id":"` + id + `","payload":{"query":"subscription { itemAdded { id } }"}}`)
			}
			sub("1")
			sub("2")
			waitSubscribed(t, subscribed, 2)
			sub("3")
			var errs []gqlError
			if err := json.Unmarshal(c.expect("error", "3").Payload, &errs); err != nil {
				t.Fatal(err)
			}
			if len(errs) != 1 || errs[0].Code() != "BAD_REQUEST" || !strings.Contains(errs[0].Message, "2 operations") {
				t.Errorf("errors = %+v, want one BAD_REQUEST naming the limit of 2", errs)
			}
			// Ending one makes room for another.
			stop := `{"type":"complete","id":"1"}`
			if proto == "graphql-ws" {
				stop = `{"type":"stop","id":"1"}`
			}
			c.send(stop)
			if proto == "graphql-ws" {
				c.expect("complete", "1")
			}
			sub("4")
			waitSubscribed(t, subscribed, 1)
			ts.post(t, ts.userToken, `mutation { addItem(input: {name: "x"}) { id } }`, nil)
			got := map[string]bool{}
			for len(got) < 2 {
				m := c.read()
				if m.Type != "next" && m.Type != "data" {
					t.Fatalf("got %s %s %s, want an item for 2 and 4", m.Type, m.ID, m.Payload)
				}
				got[m.ID] = true
			}
			if !got["2"] || !got["4"] {
				t.Errorf("items reached %v, want 2 and 4", got)
			}
		})
	}
}

// TestSlowBodyTimesOut: a client that sends its headers and then trickles
// its body loses the connection once the read timeout passes, rather than
// holding it for as long as it likes.
func TestSlowBodyTimesOut(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.ReadTimeout = 300 * time.Millisecond
	ts := newTestServerWith(t, cfg)
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = io.WriteString(conn, "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"query\":")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("answer to a body cut short: %s, want 400", resp.Status)
		}
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server still held the connection after %v", time.Since(start))
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the connection was held %v, want about the read timeout", d)
	}
}

func TestRequestIDs(t *testing.T) {
	ts := newTestServer(t)
	get := func(id string) string {
		h := map[string]string{}
		if id != "" {
			h["X-Request-Id"] = id
		}
		resp, _ := send(t, http.MethodGet, ts.URL+"/healthz", "", h)
		return resp.Header.Get("X-Request-Id")
	}
	if got := get("client-id_1.2"); got != "client-id_1.2" {
		t.Errorf("a well-formed client ID came back as %q", got)
	}
	a, b := get(""), get("bad id level=ERROR")
	if a == "" || b == "" || a == b || strings.ContainsAny(b, " =") {
		t.Errorf("new IDs %q and %q: want two distinct IDs, neither the client's malformed one", a, b)
	}
	if !strings.Contains(ts.logs.String(), "req_id="+a) {
		t.Errorf("the log has no line with req_id=%s:\n%s", a, ts.logs.String())
	}
}
