package main

import (
	"itemsapi/internal/heap"
	"itemsapi/internal/testserver"

	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// startAbused starts a real server in this process, over SQLite in a
// temporary directory, with the admin token adminToken and args, and
// returns its abuser; with -short it skips the test for why, unless why
// is empty.
func startAbused(t *testing.T, why string, args ...string) *abuser {
	t.Helper()
	if why != "" && testing.Short() {
		t.Skip(why)
	}
	db := "sqlite:" + filepath.Join(t.TempDir(), "items.db")
	s := start(t, map[string]string{"BOOTSTRAP_ADMIN_TOKEN": adminToken}, append([]string{"--db", db}, args...)...)
	return newAbuser(t, s.URL)
}

// abuseRepeat returns format filled with each of 0 to n-1, one after
// another: the bulk of a hostile document.
func abuseRepeat(n int, format string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, format, i)
	}
	return b.String()
}

// abuseDeadline is how long any hostile request may take to be answered.
// It is generous: every refusal here takes milliseconds on an idle
// machine, and the bound only catches a server that reads, parses or
// validates far more than it should. The race detector stretches it
// (abuseSlowdown).
const abuseDeadline = 5 * time.Second * abuseSlowdown

// abuseHealthyQuery is the normal query that must still answer after
// each hostile request.
const abuseHealthyQuery = `{ items(first: 1) { nodes { id } } }`

const (
	abuseJSON    = "application/json"
	abuseGQLResp = "application/graphql-response+json"
)

// TestAbuse sends hostile requests to one real server (run, over SQLite
// in a temporary directory) and checks that each is answered within
// abuseDeadline with the status, extensions.code and message that the
// public contract (../shared/API.md) gives, and that the server still
// answers a normal query afterwards. Run with -v to see how long each
// answer took.
func TestAbuse(t *testing.T) {
	a := startAbused(t, "")

	// The cases run in this order, on the one server, each as a subtest;
	// after each, the server must still serve.
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"01 malformed JSON", func(t *testing.T) {
			for _, body := range []string{`{"query":`, `{"query": "{ __typename }",}`, `{query: "{ __typename }"}`, "\x00\x01\x02"} {
				r := a.post(t, fmt.Sprintf("body %q", body), body)
				r.want(t, http.StatusBadRequest, "BAD_REQUEST", "JSON")
				r.wantNoData(t)
			}
		}},

		{"02 20 MB body streamed", func(t *testing.T) {
			// The body comes from a reader that makes 20 MiB on the fly but
			// stalls after 8 MiB until the answer has arrived: a server that
			// reads the whole body before answering never answers.
			for _, declared := range []bool{true, false} {
				name := "chunked"
				if declared {
					name = "Content-Length 20 MiB"
				}
				t.Run(name, func(t *testing.T) {
					body := newAbuseBody(`{"query":"{ __typename }","variables":{"pad":"`, 20<<20, 8<<20)
					defer body.Close()
					req := a.request(t, http.MethodPost, "/graphql", body)
					req.ContentLength = -1
					if declared {
						req.ContentLength = body.size
					}
					r := a.send(t, "20 MiB body, "+name, req)
					produced := body.produced.Load()
					t.Logf("answered after the client had produced %.1f of %d MiB", float64(produced)/(1<<20), body.size>>20)
					if produced >= body.size {
						t.Errorf("the client had produced the whole body before the answer")
					}
					r.want(t, http.StatusRequestEntityTooLarge, "BAD_REQUEST", "larger than the limit")
					r.wantNoData(t)
				})
			}
		}},

		{"03 200 levels of nesting", func(t *testing.T) {
			t.Run("introspection, graphql-response+json", func(t *testing.T) {
				r := a.query(t, "ofType nested 200 levels", abuseNestedOfType(200), nil, "Accept", abuseGQLResp)
				r.want(t, http.StatusBadRequest, "GRAPHQL_VALIDATION_FAILED", "depth limit is 20")
				r.wantNoData(t)
			})
			t.Run("fragments, application/json", func(t *testing.T) {
				r := a.query(t, "chain of 200 fragments", abuseFragmentChain(200), nil, "Accept", abuseJSON)
				r.want(t, http.StatusOK, "GRAPHQL_VALIDATION_FAILED", "depth limit is 20")
				r.wantNoData(t)
			})
		}},

		{"04 10,000 aliases", func(t *testing.T) {
			doc := "{" + abuseRepeat(10_000, ` a%d: item(id: "1") { id }`) + " }"
			r := a.query(t, "10,000 aliases", doc, nil)
			r.want(t, http.StatusOK, "GRAPHQL_VALIDATION_FAILED", "cost limit is 10000")
			r.wantNoData(t)
		}},

		{"05 batches", func(t *testing.T) {
			batch := func(n int) string {
				ops := make([]string, n)
				for i := range ops {
					ops[i] = fmt.Sprintf(`{"query":"query Op%d { item(id: \"1\") { name } }"}`, i)
				}
				return "[" + strings.Join(ops, ",") + "]"
			}
			t.Run("11 operations", func(t *testing.T) {
				r := a.post(t, "batch of 11", batch(11))
				r.want(t, http.StatusBadRequest, "BAD_REQUEST", "at most 10 operations")
				r.wantNoData(t)
			})
			t.Run("10 operations", func(t *testing.T) {
				r := a.post(t, "batch of 10", batch(10))
				if r.Status != http.StatusOK {
					t.Fatalf("status = %d, want 200\n%s", r.Status, r.short())
				}
				var results []struct {
					Data   json.RawMessage `json:"data"`
					Errors []abuseError    `json:"errors"`
				}
				if err := json.Unmarshal(r.Raw, &results); err != nil {
					t.Fatalf("answer is not a JSON array: %v\n%s", err, r.short())
				}
				if len(results) != 10 {
					t.Fatalf("%d answers, want 10\n%s", len(results), r.short())
				}
				for i, res := range results {
					if string(res.Data) != `{"item":{"name":"Apple"}}` || len(res.Errors) > 0 {
						t.Errorf("answer %d = data %s, errors %+v; want Apple and no errors", i, res.Data, res.Errors)
					}
				}
			})
		}},

		{"06 variables of the wrong type", func(t *testing.T) {
			// A coercion failure is a request error: nothing executes. The
			// error names the type and the variable, in its message or its
			// path (gqlparser answers "cannot use string as Int" with the
			// path ["variable", "n"]).
			tests := []struct {
				name, query string
				variable    string
				value       any
				wantType    string
				accept      string
				wantStatus  int
			}{
				{"string for Int", `query($n: Int) { items(first: $n) { nodes { id } } }`, "n", "ten", "Int", abuseJSON, http.StatusOK},
				{"string for Int, graphql-response+json", `query($n: Int) { items(first: $n) { nodes { id } } }`, "n", "ten", "Int", abuseGQLResp, http.StatusBadRequest},
				{"number for String", `query($q: String) { search(query: $q) { totalCount } }`, "q", 42, "String", abuseJSON, http.StatusOK},
				{"number for String, graphql-response+json", `query($q: String) { search(query: $q) { totalCount } }`, "q", 42, "String", abuseGQLResp, http.StatusBadRequest},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := a.query(t, tt.name, tt.query, map[string]any{tt.variable: tt.value}, "Accept", tt.accept)
					r.want(t, tt.wantStatus, "GRAPHQL_VALIDATION_FAILED", tt.wantType)
					r.wantNoData(t)
					if len(r.Errors) > 0 {
						e := r.Errors[0]
						inPath := slices.Equal(e.Path, []any{"variable", tt.variable})
						if !inPath && !strings.Contains(e.Message, "$"+tt.variable) {
							t.Errorf("errors[0] = %q, path %v: names neither $%s nor its path", e.Message, e.Path, tt.variable)
						}
					}
				})
			}
		}},

		{"07 unknown operationName", func(t *testing.T) {
			body := `{"query":"query A { __typename } query B { __typename }","operationName":"Nope"}`
			t.Run("application/json", func(t *testing.T) {
				r := a.post(t, "operationName Nope", body, "Accept", abuseJSON)
				r.want(t, http.StatusOK, "GRAPHQL_VALIDATION_FAILED", "Nope")
				r.wantNoData(t)
			})
			t.Run("graphql-response+json", func(t *testing.T) {
				r := a.post(t, "operationName Nope", body, "Accept", abuseGQLResp)
				r.want(t, http.StatusBadRequest, "GRAPHQL_VALIDATION_FAILED", "Nope")
				r.wantNoData(t)
			})
		}},

		{"08 mutation over GET", func(t *testing.T) {
			for _, params := range []url.Values{
				{"query": {`mutation { createToken(user: "mallory", role: ADMIN) }`}},
				{"query": {`query Q { __typename } mutation M { createToken(user: "mallory") }`}, "operationName": {"M"}},
			} {
				req := a.request(t, http.MethodGet, "/graphql?"+params.Encode(), nil)
				req.Header.Set("Authorization", "Bearer "+adminToken)
				r := a.send(t, "GET "+params.Get("query"), req)
				r.want(t, http.StatusMethodNotAllowed, "BAD_REQUEST", "POST")
				r.wantNoData(t)
				if got := r.Header.Get("Allow"); got != "POST" {
					t.Errorf("Allow = %q, want POST", got)
				}
			}
		}},

		{"09 invalid UTF-8", func(t *testing.T) {
			tests := []struct{ name, body string }{
				{"in the query", "{\"query\":\"{ search(query: \\\"\xff\\\") { totalCount } }\"}"},
				{"in a variable", "{\"query\":\"query($q: String) { search(query: $q) { totalCount } }\",\"variables\":{\"q\":\"a\xffb\"}}"},
				{"in a variable's name", "{\"query\":\"{ __typename }\",\"variables\":{\"\xfe\xff\":1}}"},
				{"truncated sequence", "{\"query\":\"{ search(query: \\\"\xe2\x82\\\") { totalCount } }\"}"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := a.post(t, "invalid UTF-8 "+tt.name, tt.body)
					r.want(t, http.StatusBadRequest, "BAD_REQUEST", "UTF-8")
					r.wantNoData(t)
				})
			}
			t.Run("GET parameter", func(t *testing.T) {
				req := a.request(t, http.MethodGet, `/graphql?query=%7B+__typename+%7D&variables=%7B%22q%22%3A%22%FF%22%7D`, nil)
				r := a.send(t, "GET with %FF in variables", req)
				r.want(t, http.StatusBadRequest, "BAD_REQUEST", "UTF-8")
				r.wantNoData(t)
			})
		}},

		{"10 1 MB item name", func(t *testing.T) {
			before := a.totalCount(t)
			name := strings.Repeat("x", 1_000_000)
			t.Run("variable", func(t *testing.T) {
				r := a.query(t, "addItem, 1 MB name in a variable", `mutation($in: AddItemInput!) { addItem(input: $in) { id } }`,
					map[string]any{"in": map[string]any{"name": name}}, "Authorization", "Bearer "+adminToken)
				r.want(t, http.StatusOK, "BAD_USER_INPUT", "name", "at most 200")
			})
			t.Run("literal", func(t *testing.T) {
				r := a.query(t, "addItem, 1 MB name in the document", `mutation { addItem(input: {name: "`+name+`"}) { id } }`,
					nil, "Authorization", "Bearer "+adminToken)
				r.want(t, http.StatusOK, "BAD_USER_INPUT", "name", "at most 200")
			})
			if after := a.totalCount(t); after != before {
				t.Errorf("totalCount = %d after the refused addItems, was %d: something was stored", after, before)
			}
		}},

		{"11 first out of range", func(t *testing.T) {
			for _, first := range []string{"1000000", "-1", "101", "2147483647"} {
				r := a.query(t, "first: "+first, `{ items(first: `+first+`) { nodes { id } } }`, nil)
				r.want(t, http.StatusOK, "BAD_USER_INPUT", "first", "0 and 100")
			}
			r := a.query(t, "search first: -1 in a variable", `query($n: Int) { search(query: "a", first: $n) { nodes { id } } }`, map[string]any{"n": -1})
			r.want(t, http.StatusOK, "BAD_USER_INPUT", "first", "0 and 100")
		}},

		{"12 bad cursors", func(t *testing.T) {
			b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
			for _, cursor := range []string{
				"!!!",
				b64("hello world"),               // valid base64, not a cursor
				b64("item:abc"),                  // the right prefix, not a number
				b64("item:-1"),                   // negative
				b64("item:99999999999999999999"), // overflows int64
				b64("user:1"),                    // another kind of cursor
				"aXRlbTox====",                   // padded
				strings.Repeat("A", 10_000),      // long
			} {
				r := a.query(t, fmt.Sprintf("after: %.40q", cursor), `query($c: String) { items(first: 1, after: $c) { nodes { id } } }`, map[string]any{"c": cursor})
				r.want(t, http.StatusOK, "BAD_USER_INPUT", "cursor")
			}
		}},

		{"13 SQL and LIKE metacharacters in search", func(t *testing.T) {
			added := []string{
				`100% pure`, `snake_case`, `back\slash`, `O'Brien`,
				`"; DROP TABLE items; --`, `star*`, `" OR 1=1`, `50%_off`,
			}
			for _, name := range added {
				var got struct{ AddItem struct{ ID, Name string } }
				a.data(t, "addItem "+name, `mutation($n: String!) { addItem(input: {name: $n}) { id name } }`, map[string]any{"n": name}, adminToken, &got)
				if got.AddItem.Name != name {
					t.Fatalf("addItem(%q) stored the name %q", name, got.AddItem.Name)
				}
			}
			all := a.allNames(t)
			for _, q := range []string{
				`%`, `_`, `\`, `'`, `"; DROP TABLE items; --`, `*`, `" OR 1=1`,
				`a%e`, `b_nana`, `%%`, `\%`, `' OR '1'='1`, `') OR 1=1 --`, `[a-z]`, `.*`, `%_%`,
			} {
				var want []string
				for _, n := range all {
					if strings.Contains(strings.ToLower(n), strings.ToLower(q)) {
						want = append(want, n)
					}
				}
				var got struct {
					Search struct {
						TotalCount int
						Nodes      []struct{ Name string }
					}
				}
				a.data(t, "search "+q, `query($q: String) { search(query: $q, first: 100) { totalCount nodes { name } } }`, map[string]any{"q": q}, "", &got)
				var names []string
				for _, n := range got.Search.Nodes {
					names = append(names, n.Name)
				}
				if !slices.Equal(names, want) || got.Search.TotalCount != len(want) {
					t.Errorf("search(%q) = %q (totalCount %d), want %q", q, names, got.Search.TotalCount, want)
				}
			}
			if after := a.allNames(t); !slices.Equal(after, all) {
				t.Errorf("items after the searches = %q, want %q", after, all)
			}
		}},

		{"14 200 slow clients", func(t *testing.T) {
			const n = 200
			addr := strings.TrimPrefix(a.url, "http://")
			heads := [2]string{
				// A request whose header never ends.
				"POST /graphql HTTP/1.1\r\nHost: abuse\r\nX-Slow: ",
				// A whole header, then a body that never ends.
				"POST /graphql HTTP/1.1\r\nHost: abuse\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"query\":\"",
			}
			stop := make(chan struct{})
			// ready: each slow client has sent its head; trickled: each has
			// sent a byte more since (or stopped).
			var writers, ready, trickled sync.WaitGroup
			var writing atomic.Int32
			conns := make([]net.Conn, 0, n)
			defer func() {
				close(stop)
				for _, c := range conns {
					c.Close()
				}
				writers.Wait()
			}()
			for i := range n {
				c, err := net.DialTimeout("tcp", addr, abuseDeadline)
				if err != nil {
					t.Fatalf("slow client %d: %v", i, err)
				}
				conns = append(conns, c)
				ready.Add(1)
				trickled.Add(1)
				writers.Go(func() {
					var once sync.Once
					sent := func() { once.Do(trickled.Done) }
					defer sent()
					_, err := io.WriteString(c, heads[i%2])
					ready.Done()
					if err != nil {
						return
					}
					writing.Add(1)
					defer writing.Add(-1)
					testserver.Ticks(stop, time.Second, func() bool {
						if _, err := c.Write([]byte{'a'}); err != nil {
							return false
						}
						sent()
						return true
					})
				})
			}
			ready.Wait()
			trickled.Wait()
			// A normal client on a new connection each time.
			tr := &http.Transport{DisableKeepAlives: true}
			defer tr.CloseIdleConnections()
			fresh := &abuser{url: a.url, client: &http.Client{Transport: tr, Timeout: abuseDeadline}}
			for i := range 3 {
				r := fresh.query(t, fmt.Sprintf("normal query %d among %d slow clients (%d still writing)", i+1, n, writing.Load()), abuseHealthyQuery, nil)
				if r.Status != http.StatusOK || string(r.Body["data"]) != `{"items":{"nodes":[{"id":"1"}]}}` {
					t.Errorf("normal query = %d %s, want 200 with item 1", r.Status, r.short())
				}
				if r.Elapsed > 2*time.Second {
					t.Errorf("normal query took %v among %d slow clients, want at most 2 s", r.Elapsed, n)
				}
			}
		}},

		{"15 deeply nested JSON", func(t *testing.T) {
			deep := strings.Repeat("[", 100_000)
			r := a.post(t, "100,000 [", deep)
			r.want(t, http.StatusBadRequest, "BAD_REQUEST", "JSON")
			r.wantNoData(t)
			r = a.post(t, "100,000 [ in variables", `{"query":"{ __typename }","variables":{"v":`+deep+`}}`)
			r.want(t, http.StatusBadRequest, "BAD_REQUEST", "JSON")
			r.wantNoData(t)
			r = a.post(t, `100,000 {"a": in variables`, `{"query":"{ __typename }","variables":{"v":`+strings.Repeat(`{"a":`, 100_000)+`}}`)
			r.want(t, http.StatusBadRequest, "BAD_REQUEST", "JSON")
			r.wantNoData(t)
		}},

		{"16 many variables", func(t *testing.T) {
			t.Run("50,000 undeclared", func(t *testing.T) {
				// Variables the operation does not declare are ignored, as
				// the GraphQL specification's CoerceVariableValues does.
				vars := make(map[string]any, 50_000)
				for i := range 50_000 {
					vars[fmt.Sprintf("v%d", i)] = i
				}
				r := a.query(t, "50,000 undeclared variables", `{ __typename }`, vars)
				if r.Status != http.StatusOK || string(r.Body["data"]) != `{"__typename":"Query"}` {
					t.Errorf("answer = %d %s, want 200 with data", r.Status, r.short())
				}
			})
			t.Run("10,000 declared, unused", func(t *testing.T) {
				doc := "query(" + abuseRepeat(10_000, "$v%d: Int ") + ") { __typename }"
				r := a.query(t, "10,000 unused variable definitions", doc, nil)
				r.want(t, http.StatusOK, "GRAPHQL_VALIDATION_FAILED", "$v0")
				r.wantNoData(t)
			})
			t.Run("10,000 declared, used", func(t *testing.T) {
				doc := "query(" + abuseRepeat(10_000, "$v%d: Boolean = false ") + ") { __typename" + abuseRepeat(10_000, " @skip(if: $v%d)") + " }"
				r := a.query(t, "10,000 directives using 10,000 variables", doc, nil)
				r.want(t, http.StatusOK, "GRAPHQL_VALIDATION_FAILED", "directives")
				r.wantNoData(t)
			})
		}},

		{"18 50,000 legacy starts with one id", func(t *testing.T) {
			// A legacy start with the id of a running operation gets an error
			// and starts nothing: gqlgen's transport started one subscription
			// per start (50,000 took 920 MB and 50,700 goroutines).
			const starts = 50_000
			before := abuseLiveHeap()
			peak := a.watchActive(t)
			ws := a.dialWS(t, "graphql-ws")
			ws.send(t, `{"type":"connection_init","payload":{"token":"`+adminToken+`"}}`)
			ws.expect(t, "connection_ack", "")
			start := `{"type":"start","id":"1","payload":{"query":"subscription { itemAdded { name } }"}}`
			t0 := time.Now()
			go func() {
				for range starts {
					if ws.conn.Write(t.Context(), websocket.MessageText, []byte(start)) != nil {
						return
					}
				}
			}()
			for i := range starts - 1 {
				if m := ws.next(t, 30*time.Second); m.Type != "error" || m.ID != "1" {
					t.Fatalf("answer %d to a start with a running id: %s %q %s, want an error for 1", i, m.Type, m.ID, m.Payload)
				}
			}
			t.Logf("%d starts answered in %v", starts, time.Since(t0).Round(time.Millisecond))
			if got := a.active(t); got != 1 {
				t.Errorf("itemsapi_subscriptions_active = %v, want 1", got)
			}
			if grown := abuseLiveHeap() - before; grown > 64<<20 {
				t.Errorf("the heap grew by %d MiB, want under 64", grown>>20)
			}
			// One item reaches the one subscription once.
			var added struct{ AddItem struct{ ID string } }
			a.data(t, "addItem", `mutation { addItem(input: {name: "once"}) { id } }`, nil, adminToken, &added)
			if m := ws.next(t, abuseDeadline); m.Type != "data" || m.ID != "1" {
				t.Fatalf("got %s %q %s, want the item for 1", m.Type, m.ID, m.Payload)
			}
			ws.send(t, `{"type":"stop","id":"1"}`)
			ws.expect(t, "complete", "1")
			a.waitActive(t, 0)
			if max := peak(); max > 20 {
				t.Errorf("itemsapi_subscriptions_active reached %v, above the limit of 20 operations per socket", max)
			}
		}},

		{"19 subscribe/complete churn on one id", func(t *testing.T) {
			// gqlgen's transport left hundreds of these running after their
			// complete.
			peak := a.watchActive(t)
			ws := a.dialWS(t, "graphql-transport-ws")
			ws.send(t, `{"type":"connection_init"}`)
			ws.expect(t, "connection_ack", "")
			sub := `{"type":"subscribe","id":"a","payload":{"query":"subscription { itemAdded { name } }"}}`
			for range 2_000 {
				ws.send(t, sub)
				ws.send(t, `{"type":"complete","id":"a"}`)
			}
			ws.send(t, `{"type":"ping"}`)
			ws.expect(t, "pong", "")
			a.waitActive(t, 0)
			if max := peak(); max > 20 {
				t.Errorf("itemsapi_subscriptions_active reached %v, above the limit of 20 operations per socket", max)
			}
		}},

		{"17 1 MB of whitespace and comments", func(t *testing.T) {
			const line = "  \t\n# nothing to see here, move along\n,,,"
			filler := strings.Repeat(line, 1<<20/len(line))
			t.Run("and nothing else", func(t *testing.T) {
				// A document is one or more definitions: one of ignored
				// tokens alone does not parse (graphql-js: "Syntax Error:
				// Unexpected <EOF>").
				r := a.query(t, "1 MB of whitespace and comments only", filler, nil, "Accept", abuseGQLResp)
				r.want(t, http.StatusBadRequest, "GRAPHQL_PARSE_FAILED")
				r.wantNoData(t)
			})
			t.Run("around a query", func(t *testing.T) {
				half := strings.Repeat(line, 1<<20/len(line)/2)
				r := a.query(t, "1 MB of whitespace and comments around a query", half+"{ __typename }"+half, nil)
				if r.Status != http.StatusOK || string(r.Body["data"]) != `{"__typename":"Query"}` {
					t.Errorf("answer = %d %s, want 200 with data", r.Status, r.short())
				}
			})
		}},

		{"18 1.9 MB search string", func(t *testing.T) {
			// No name is longer than 200 code points: a longer search string
			// matches nothing, and is answered without asking the store (the
			// store's call counts in /metrics do not move), from its first few
			// hundred bytes.
			empty := `{"search":{"totalCount":0,"nodes":[],"pageInfo":{"hasNextPage":false,"hasPreviousPage":false,"startCursor":null,"endCursor":null}}}`
			const query = `query($q: String) { search(query: $q) { totalCount nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
			for _, tt := range []struct{ name, q string }{
				{"1.9 MB in a variable", strings.Repeat("\u00e9", 950_000)},
				{"201 code points", strings.Repeat("x", 201)},
			} {
				t.Run(tt.name, func(t *testing.T) {
					before := a.storeCalls(t, "Items", "CountItems")
					r := a.query(t, tt.name, query, map[string]any{"q": tt.q})
					if r.Status != http.StatusOK || len(r.Errors) > 0 || string(r.Body["data"]) != empty {
						t.Errorf("answer = %d %s, want 200 with %s", r.Status, r.short(), empty)
					}
					if after := a.storeCalls(t, "Items", "CountItems"); after != before {
						t.Errorf("the store was asked %d times (Items and CountItems), want 0", after-before)
					}
				})
			}
			t.Run("1.9 MB in the document", func(t *testing.T) {
				before := a.storeCalls(t, "Items", "CountItems")
				r := a.query(t, "1.9 MB search literal", `{ search(query: "`+strings.Repeat("\u00e9", 950_000)+`") { totalCount } }`, nil)
				if r.Status != http.StatusOK || string(r.Body["data"]) != `{"search":{"totalCount":0}}` {
					t.Errorf("answer = %d %s, want 200 with totalCount 0", r.Status, r.short())
				}
				if after := a.storeCalls(t, "Items", "CountItems"); after != before {
					t.Errorf("the store was asked %d times (Items and CountItems), want 0", after-before)
				}
			})
		}},

		{"19 invisible and bidirectional item names", func(t *testing.T) {
			before := a.totalCount(t)
			for _, tt := range []struct{ name, value, want string }{
				{"zero-width spaces", "\u200b\u200b\u200b", "visible"},
				{"ZWNJ, ZWJ and word joiner", "\u200c\u200d\u2060", "visible"},
				{"byte-order mark", "\ufeff", "visible"},
				{"soft hyphens between spaces", " \u00ad\u00ad ", "visible"},
				{"Hangul filler", "\u3164", "visible"},
				{"right-to-left override", "\u202egnp.exe", "bidirectional"},
				{"isolate", "a\u2066b\u2069", "bidirectional"},
			} {
				t.Run(tt.name, func(t *testing.T) {
					r := a.query(t, "addItem "+tt.name, `mutation($in: AddItemInput!) { addItem(input: $in) { id } }`,
						map[string]any{"in": map[string]any{"name": tt.value}}, "Authorization", "Bearer "+adminToken)
					r.want(t, http.StatusOK, "BAD_USER_INPUT", "name", tt.want)
				})
			}
			if after := a.totalCount(t); after != before {
				t.Errorf("totalCount = %d after the refused addItems, was %d: something was stored", after, before)
			}
		}},

		{"20 look-alike user names", func(t *testing.T) {
			for _, tt := range []struct{ name, user string }{
				{"admin and a zero-width space", "admin\u200b"},
				{"Cyrillic а", "\u0430dmin"},
				{"byte-order mark", "\ufeffadmin"},
				{"fullwidth", "\uff41\uff44\uff4d\uff49\uff4e"},
				{"combining mark", "admi\u0301n"},
			} {
				t.Run(tt.name, func(t *testing.T) {
					r := a.query(t, "createToken "+tt.name, `mutation($u: String!) { createToken(user: $u) }`,
						map[string]any{"u": tt.user}, "Authorization", "Bearer "+adminToken)
					r.want(t, http.StatusOK, "BAD_USER_INPUT", "ASCII")
				})
			}
			t.Run("ADMIN names admin", func(t *testing.T) {
				var got struct{ CreateToken string }
				a.data(t, "createToken ADMIN", `mutation { createToken(user: "ADMIN") }`, nil, adminToken, &got)
				var me struct{ Me struct{ Name string } }
				a.data(t, "me with the token of ADMIN", `{ me { name } }`, nil, got.CreateToken, &me)
				if me.Me.Name != "admin" {
					t.Errorf("createToken(user: \"ADMIN\") made a token for %q, want admin", me.Me.Name)
				}
			})
		}},

		{"21 numbers that are not Ints", func(t *testing.T) {
			for _, v := range []string{"5.0", "1e400", "2147483648"} {
				t.Run("literal "+v, func(t *testing.T) {
					r := a.query(t, "first: "+v, `{ items(first: `+v+`) { nodes { id } } }`, nil, "Accept", abuseGQLResp)
					r.want(t, http.StatusBadRequest, "GRAPHQL_VALIDATION_FAILED", "Int cannot represent", v)
					r.wantNoData(t)
				})
				t.Run("variable "+v, func(t *testing.T) {
					r := a.post(t, "$n = "+v, `{"query":"query($n: Int) { items(first: $n) { nodes { id } } }","variables":{"n":`+v+`}}`,
						"Accept", abuseGQLResp)
					r.want(t, http.StatusBadRequest, "GRAPHQL_VALIDATION_FAILED", "$n", "Int cannot represent", v)
					r.wantNoData(t)
				})
			}
		}},

		{"22 one field selected 9,000 times", func(t *testing.T) {
			// Within the cost limit, but gqlparser's rule that fields of
			// one response name can be merged compares them pair by pair:
			// 9,000 copies of __typename took 2.6 s of CPU and 4.7 s to
			// answer, 40 million comparisons, wherever they stand in the
			// document: in one selection set, in inline fragments, in a
			// fragment, or in an operation other than the one run; and
			// fields that merge from copies of their parents compare alike.
			many := func(f string) string { return strings.Repeat(f+" ", 9000) }
			for _, tc := range []struct{ name, body string }{
				{"in one selection set", `{"query":"{ ` + many("__typename") + `}"}`},
				{"in inline fragments", `{"query":"{ ` + many("... { __typename }") + `}"}`},
				{"in a fragment", `{"query":"{ ...F } fragment F on Query { ` + many("__typename") + `}"}`},
				{"in another operation", `{"query":"query A { __typename } query B { ` + many("__typename") + `}","operationName":"A"}`},
				{"nested", `{"query":"{ item(id: \"1\") { ` + many("name") + `} }"}`},
				// 99 copies merge into one field, whose nodes select name
				// 4,950 times: 0.8 s of CPU.
				{"merged from copies", `{"query":"{ ` + strings.Repeat(`a: search(query: \"x\", first: 1) { totalCount nodes { `+strings.Repeat("name ", 50)+`} } `, 99) + `}"}`},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r := a.post(t, tc.name, tc.body, "Accept", abuseGQLResp)
					r.want(t, http.StatusBadRequest, "GRAPHQL_VALIDATION_FAILED", "selected more than 100 times")
					r.wantNoData(t)
				})
			}
			t.Run("100 times is fine", func(t *testing.T) {
				r := a.query(t, "__typename 100 times", "{ "+strings.Repeat("__typename ", 100)+"}", nil)
				if r.Status != http.StatusOK || string(r.Body["data"]) != `{"__typename":"Query"}` {
					t.Errorf("answer %d %s, want the data", r.Status, r.short())
				}
			})
		}},

		{"23 one client address past its share of websockets, streams and bytes in flight", func(t *testing.T) {
			// 127.0.0.1 opens its share, a quarter of the server's 1,000,
			// of each; its next is refused, named as its share, while
			// 127.0.0.2 still opens one; once it has closed its own, it
			// may open again. The same for the 64 MiB in flight.
			const share = 250
			other := abuseClientFrom(t, "127.0.0.2")
			t.Run("websockets", func(t *testing.T) {
				conns := make([]*abuseWS, share)
				for i := range conns {
					conns[i] = a.dialWS(t, "graphql-transport-ws")
				}
				_, resp, err := a.tryDialWS(t, nil)
				if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
					t.Fatalf("websocket %d of one address: %v, response %v; want 503 with Retry-After", share+1, err, resp)
				}
				if body, _ := io.ReadAll(resp.Body); !strings.Contains(string(body), "this client address has the most websockets it may hold open (250") {
					t.Errorf("503 body %s: want the address's share named", body)
				}
				w, _, err := a.tryDialWS(t, other)
				if err != nil {
					t.Fatalf("a websocket of another address while the first holds its share: %v", err)
				}
				w.send(t, `{"type":"connection_init"}`)
				w.expect(t, "connection_ack", "")
				w.conn.CloseNow()
				for _, c := range conns {
					c.conn.CloseNow()
				}
				a.awaitDial(t)
			})
			t.Run("streams", func(t *testing.T) {
				open := func(client *http.Client) *http.Response {
					req := a.request(t, http.MethodPost, "/graphql", strings.NewReader(`{"query":"subscription { itemAdded { id } }"}`))
					req.Header.Set("Accept", "text/event-stream")
					resp, err := client.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { resp.Body.Close() })
					return resp
				}
				streams := abuseClientFrom(t, "127.0.0.1") // no deadline: streams stay open
				for i := range share {
					if resp := open(streams); resp.StatusCode != http.StatusOK {
						t.Fatalf("stream %d: %s", i+1, resp.Status)
					}
				}
				resp := open(streams)
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
					!strings.Contains(string(body), "this client address has the most streams it may hold open (250") {
					t.Fatalf("stream %d of one address: %s %s, want 503 with Retry-After naming the share", share+1, resp.Status, body)
				}
				if resp := open(other); resp.StatusCode != http.StatusOK {
					t.Fatalf("a stream of another address while the first holds its share: %s", resp.Status)
				}
				streams.Transport.(*http.Transport).CloseIdleConnections()
			})
			t.Run("bytes in flight", func(t *testing.T) {
				// Bodies that declare 2 MiB and send nothing each hold
				// 6 MiB (3 per byte) while they are read: two of
				// 127.0.0.1's fit in its 16 MiB, a third waits a second
				// and is refused, while 127.0.0.2 is answered at once.
				hung := abuseClientFrom(t, "127.0.0.1")
				post := func(client *http.Client, body io.Reader, length int64) (*http.Response, error) {
					req := a.request(t, http.MethodPost, "/graphql", body)
					req.ContentLength = length
					return client.Do(req)
				}
				var wg sync.WaitGroup
				var pipes []*io.PipeWriter
				for range 2 {
					pr, pw := io.Pipe()
					pipes = append(pipes, pw)
					wg.Go(func() {
						if resp, err := post(hung, pr, 2<<20); err == nil {
							resp.Body.Close()
						}
					})
				}
				defer func() {
					for _, pw := range pipes {
						pw.CloseWithError(errors.New("the test is done"))
					}
					wg.Wait()
				}()
				// A third body of 2 MiB, sent whole, is refused once the
				// two hold their bytes: poll, as they reach the server in
				// their own time (until then it is answered).
				third := `{"query":"{ __typename }","variables":{"pad":"` + strings.Repeat("x", 2<<20-100) + `"}}`
				deadline := time.Now().Add(abuseDeadline)
				for {
					resp, err := post(hung, strings.NewReader(third), int64(len(third)))
					if err != nil {
						t.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusServiceUnavailable {
						if resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "this client address is reading and parsing as many bytes as it may") {
							t.Errorf("refused: %s %s, want Retry-After and the address's share named", resp.Status, body)
						}
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("a third hung body of one address: %s %s, want 503", resp.Status, body)
					}
				}
				start := time.Now()
				resp, err := post(other, strings.NewReader(`{"query":"{ __typename }"}`), -1)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || time.Since(start) > abuseDeadline/5 {
					t.Errorf("a query of another address meanwhile: %s in %v, want 200 at once", resp.Status, time.Since(start))
				}
			})
			for _, limit := range []string{"websockets", "streams", "inflight_bytes"} {
				if got := a.metric(t, `itemsapi_admission_refused_total{limit="`+limit+`",scope="address"}`); got < 1 {
					t.Errorf("itemsapi_admission_refused_total{limit=%q,scope=\"address\"} = %v, want the refusal counted", limit, got)
				}
			}
		}},

		{"24 replays of the whole log from one address", func(t *testing.T) {
			// 20 subscriptions resume after item 1 at once, on one socket
			// of 127.0.0.1, over thousands of items, most of them behind
			// the log's memory (1,024 events): they read the store within
			// the address's budget (--replay-rate, 10,000 items per
			// second, beyond a burst of as many), each slowly but every
			// item in order, while one from 127.0.0.2 is served from its
			// own budget at once.
			const subs, rate = 20, 10_000
			added := 3000 / min(abuseScale, 3)
			for i := 0; i < added; i += 100 {
				var m strings.Builder
				m.WriteString("mutation {")
				for j := range 100 {
					fmt.Fprintf(&m, ` a%d: addItem(input: {name: "replay %d"}) { id }`, j, i+j)
				}
				m.WriteString(" }")
				var got map[string]any
				a.data(t, "100 addItems", m.String(), nil, adminToken, &got)
			}
			// Every item after item 1: the cases' too.
			after1 := a.totalCount(t) - 1
			replay := func(client *http.Client, n int) time.Duration {
				w, _, err := a.tryDialWS(t, client)
				if err != nil {
					t.Fatal(err)
				}
				defer w.conn.CloseNow()
				w.send(t, `{"type":"connection_init"}`)
				w.expect(t, "connection_ack", "")
				start := time.Now()
				for i := range n {
					w.send(t, fmt.Sprintf(`{"type":"subscribe","id":"%d","payload":{"query":"subscription { itemAdded(after: \"1\") { id } }"}}`, i))
				}
				last, got := make([]int64, n), make([]int, n)
				for done := 0; done < n; {
					m := w.next(t, time.Minute)
					i, err := strconv.Atoi(m.ID)
					var p struct {
						Data struct{ ItemAdded struct{ ID string } }
					}
					if err != nil || i >= n || m.Type != "next" || json.Unmarshal(m.Payload, &p) != nil {
						t.Fatalf("got %s %q %s, want the next item", m.Type, m.ID, m.Payload)
					}
					id, _ := strconv.ParseInt(p.Data.ItemAdded.ID, 10, 64)
					if id <= last[i] {
						t.Fatalf("subscription %d got item %d after %d: out of order", i, id, last[i])
					}
					last[i] = id
					if got[i]++; got[i] == after1 {
						done++
					}
				}
				return time.Since(start)
			}
			var hostile time.Duration
			done := make(chan struct{})
			go func() {
				defer close(done)
				hostile = replay(nil, subs)
			}()
			other := replay(abuseClientFrom(t, "127.0.0.2"), 1)
			<-done
			fromStore := after1 - 1024
			minimum := time.Duration(float64(subs*fromStore-rate) / rate * float64(time.Second))
			t.Logf("%d replays of %d items (at least %d from the store each) from one address: %v (bound: at least %v); one from another address: %v",
				subs, after1, fromStore, hostile, minimum, other)
			if hostile < minimum*9/10 {
				t.Errorf("%d replays from one address took %v: faster than %d items/s from the store allow (%v)", subs, hostile, rate, minimum)
			}
			if other > hostile/2 {
				t.Errorf("a replay from another address took %v, against %v for the first address's: slowed by its budget", other, hostile)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t)
			a.stillServes(t)
		})
	}
}

// storeCalls returns how many calls of those store methods the server has
// counted in /metrics.
func (a *abuser) storeCalls(t *testing.T, methods ...string) int {
	t.Helper()
	samples := testserver.Metrics(t, a.client, a.url)
	n := 0
	for _, m := range methods {
		series := `itemsapi_store_call_duration_seconds_count{method="` + m + `"}`
		c, ok := samples[series]
		if !ok {
			t.Fatalf("/metrics has no %s", series)
		}
		n += int(c)
	}
	return n
}

// abuseHeapSysBound bounds the memory the Go heap ever took from the
// system (runtime.MemStats.HeapSys, which the runtime never gives back as
// address space): the peak footprint of the heap, bytes in flight
// included, and the part of RSS that a flood could grow.
const abuseHeapSysBound = 256 << 20

// abuseHeapBound is what the Go heap may hold, after a collection, once
// a flood of documents has gone by: the caches' 60 MiB at their default
// budgets, and the rest of the process (this test's included) in 36 MiB.
// With the collector's headroom, that is a server well under 256 MB of RSS.
const abuseHeapBound = 96 << 20

// TestAbuseMemory floods one real server with distinct documents, each
// flood past every cache's budget, and checks after each that the heap
// holds no more than abuseHeapBound: every cache is bounded in bytes. The
// server runs in this process, so the heap measured is the server's (and
// the test's, which keeps nothing). Run with -v to see the figures. With
// the race detector, which makes each request ten times slower, the
// floods are a tenth as long (abuseScale): still far past every budget.
func TestAbuseMemory(t *testing.T) {
	a := startAbused(t, "floods of gigabytes: not with -short")
	// Each request is answered in tens of milliseconds (hundreds under
	// the race detector); the floods are about memory, not speed, so
	// their client waits longer than abuseDeadline on a loaded machine.
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	base, _ := abuseHeap()
	t.Logf("heap at start: %.1f MiB", float64(base)/(1<<20))

	// flood sends n POSTs, 4 at once, the body of each made by body(i),
	// and wants each answered 200, or 503 with Retry-After when the
	// bytes in flight are at their bound.
	flood := func(t *testing.T, n int, body func(i int) []byte, check func(t *testing.T, r abuseReply)) {
		t.Helper()
		var next atomic.Int64
		var busy atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= n || t.Failed() {
						return
					}
					req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, a.url+"/graphql", bytes.NewReader(body(i)))
					if err != nil {
						t.Error(err)
						return
					}
					req.Header.Set("Content-Type", abuseJSON)
					resp, err := client.Do(req)
					if err != nil {
						t.Errorf("request %d: %v", i, err)
						return
					}
					raw, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil {
						t.Errorf("request %d: %v", i, err)
						return
					}
					r := abuseReply{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
					if json.Unmarshal(raw, &r.Body) == nil {
						_ = json.Unmarshal(r.Body["errors"], &r.Errors)
					}
					if r.Status == http.StatusServiceUnavailable && r.Header.Get("Retry-After") != "" {
						busy.Add(1)
						continue
					}
					check(t, r)
				}
			})
		}
		wg.Wait()
		heap, sys := abuseHeap()
		t.Logf("%d requests (%d answered 503): heap after GC %.1f MiB, %.1f MiB above the start; heap taken from the system %.1f MiB",
			n, busy.Load(), float64(heap)/(1<<20), float64(heap-base)/(1<<20), float64(sys)/(1<<20))
		if sys > abuseHeapSysBound {
			t.Errorf("after %d requests the heap has taken %.1f MiB from the system, over the bound of %d MiB",
				n, float64(sys)/(1<<20), abuseHeapSysBound>>20)
		}
		if heap > abuseHeapBound {
			t.Errorf("after %d requests the heap holds %.1f MiB, over the bound of %d MiB",
				n, float64(heap)/(1<<20), abuseHeapBound>>20)
		}
		// Each client waits for its answer before it sends again, but the
		// bytes of a request count until its handler has returned, a
		// moment after the client has the answer: under the race
		// detector, with other packages' tests beside it (CI), that
		// moment alone fills the budget at times (53 of 100 answered 503
		// once), so the share is held to its bound without it.
		if busy.Load() > int64(n)/2 && abuseSlowdown == 1 {
			t.Errorf("%d of %d requests answered 503: 4 clients at once should mostly fit", busy.Load(), n)
		}
	}
	// padded returns a JSON request body of size bytes whose query is
	// prefix, then a comment that makes it distinct for i.
	padded := func(i, size int, prefix string) []byte {
		head := fmt.Sprintf(`{"query":"%s\n# %d `, prefix, i)
		tail := `"}`
		b := make([]byte, 0, size)
		b = append(b, head...)
		b = append(b, strings.Repeat("x", max(size-len(head)-len(tail), 0))...)
		return append(b, tail...)
	}
	want200 := func(t *testing.T, r abuseReply) {
		if r.Status != http.StatusOK || string(r.Body["data"]) != `{"__typename":"Query"}` {
			t.Errorf("answer = %d %s, want 200 with data", r.Status, r.short())
		}
	}

	t.Run("b 1,000 distinct documents of 1.9 MB", func(t *testing.T) {
		flood(t, 1000/abuseScale, func(i int) []byte { return padded(i, 1_900_000, "{ __typename }") }, want200)
		a.stillServes(t)
	})
	t.Run("c 1,100 documents of 1 MB that do not parse", func(t *testing.T) {
		flood(t, 1100/abuseScale, func(i int) []byte { return padded(i, 1_000_000, "{ __typename") },
			func(t *testing.T, r abuseReply) {
				r.want(t, http.StatusOK, "GRAPHQL_PARSE_FAILED")
			})
		a.stillServes(t)
	})
	t.Run("d 100,000 APQ registrations", func(t *testing.T) {
		flood(t, 100_000/abuseScale, func(i int) []byte {
			q := fmt.Sprintf(`{ __typename }\n# %d %s`, i, strings.Repeat("x", 1000))
			h := sha256.Sum256([]byte(strings.ReplaceAll(q, `\n`, "\n")))
			return fmt.Appendf(nil, `{"query":"%s","extensions":{"persistedQuery":{"version":1,"sha256Hash":"%x"}}}`, q, h)
		}, want200)
		a.stillServes(t)
	})
}

// abuseHeap returns the Go heap in use after a full collection, and what
// the heap has taken from the system.
func abuseHeap() (inUse, sys uint64) { return heap.Live() }

// abuser sends requests to one server with a client that gives up after
// abuseDeadline.
type abuser struct {
	url    string
	client *http.Client
}

func newAbuser(t *testing.T, url string) *abuser {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &abuser{url: url, client: &http.Client{Transport: tr, Timeout: abuseDeadline}}
}

// abuseReply is an answer as a client that checks the protocol sees it.
type abuseReply struct {
	Status  int
	Header  http.Header
	Raw     []byte
	Body    map[string]json.RawMessage
	Errors  []abuseError
	Elapsed time.Duration
}

type abuseError struct {
	Message    string `json:"message"`
	Path       []any  `json:"path"`
	Extensions struct {
		Code string `json:"code"`
	} `json:"extensions"`
}

// request returns a request to path (with its query string) for a.
func (a *abuser) request(t *testing.T, method, path string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, a.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", abuseJSON)
	}
	return req
}

// post sends body as is, with headers given as name, value pairs.
func (a *abuser) post(t *testing.T, what, body string, headers ...string) abuseReply {
	t.Helper()
	req := a.request(t, http.MethodPost, "/graphql", strings.NewReader(body))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return a.send(t, what, req)
}

// query posts a GraphQL request with variables, when not nil.
func (a *abuser) query(t *testing.T, what, query string, vars map[string]any, headers ...string) abuseReply {
	t.Helper()
	params := map[string]any{"query": query}
	if vars != nil {
		params["variables"] = vars
	}
	body, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	return a.post(t, what, string(body), headers...)
}

// send sends req, fails the test unless an answer comes within
// abuseDeadline, and logs how long it took.
func (a *abuser) send(t *testing.T, what string, req *http.Request) abuseReply {
	t.Helper()
	start := time.Now()
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatalf("%s: no answer within %v: %v (after %v)", what, abuseDeadline, err, time.Since(start))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("%s: reading the answer: %v (after %v)", what, err, elapsed)
	}
	t.Logf("%s: %d in %v", what, resp.StatusCode, elapsed.Round(100*time.Microsecond))
	r := abuseReply{Status: resp.StatusCode, Header: resp.Header, Raw: raw, Elapsed: elapsed}
	if json.Unmarshal(raw, &r.Body) == nil {
		_ = json.Unmarshal(r.Body["errors"], &r.Errors)
	}
	return r
}

// want checks the status, the extensions.code of the first error, and
// that its message contains each of parts (ignoring case).
func (r abuseReply) want(t *testing.T, status int, code string, parts ...string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status = %d, want %d\n%s", r.Status, status, r.short())
	}
	if len(r.Errors) == 0 {
		t.Errorf("no errors, want %s\n%s", code, r.short())
		return
	}
	e := r.Errors[0]
	if e.Extensions.Code != code {
		t.Errorf("errors[0].extensions.code = %q, want %q\n%s", e.Extensions.Code, code, r.short())
	}
	for _, p := range parts {
		if !strings.Contains(strings.ToLower(e.Message), strings.ToLower(p)) {
			t.Errorf("errors[0].message = %q, want it to name %q", e.Message, p)
		}
	}
}

// wantNoData checks that the answer has no data key, as when nothing
// executed.
func (r abuseReply) wantNoData(t *testing.T) {
	t.Helper()
	if _, ok := r.Body["data"]; ok {
		t.Errorf("the answer has a data key, want none when nothing executed\n%s", r.short())
	}
}

// short is the raw answer, cut to a size fit for a failure message.
func (r abuseReply) short() string {
	const max = 600
	if len(r.Raw) > max {
		return fmt.Sprintf("%s… (%d bytes)", r.Raw[:max], len(r.Raw))
	}
	return string(r.Raw)
}

// data sends a query that must succeed and decodes its data into v.
func (a *abuser) data(t *testing.T, what, query string, vars map[string]any, token string, v any) {
	t.Helper()
	var headers []string
	if token != "" {
		headers = []string{"Authorization", "Bearer " + token}
	}
	if what == "" {
		what = query
	}
	r := a.query(t, what, query, vars, headers...)
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("%s: %d %s", what, r.Status, r.short())
	}
	if err := json.Unmarshal(r.Body["data"], v); err != nil {
		t.Fatalf("%s: decoding data: %v\n%s", what, err, r.short())
	}
}

// stillServes checks that the normal query still answers 200 with data.
func (a *abuser) stillServes(t *testing.T) {
	t.Helper()
	r := a.query(t, "normal query afterwards", abuseHealthyQuery, nil)
	if r.Status != http.StatusOK || len(r.Errors) > 0 || string(r.Body["data"]) != `{"items":{"nodes":[{"id":"1"}]}}` {
		t.Errorf("after the hostile request, %s = %d %s; want 200 with item 1", abuseHealthyQuery, r.Status, r.short())
	}
}

func (a *abuser) totalCount(t *testing.T) int {
	t.Helper()
	var got struct{ Items struct{ TotalCount int } }
	a.data(t, "", `{ items { totalCount } }`, nil, "", &got)
	return got.Items.TotalCount
}

// allNames returns the names of every item, oldest first.
func (a *abuser) allNames(t *testing.T) []string {
	t.Helper()
	var got struct {
		Items struct {
			TotalCount int
			Nodes      []struct{ Name string }
		}
	}
	a.data(t, "", `{ items(first: 100) { totalCount nodes { name } } }`, nil, "", &got)
	if got.Items.TotalCount != len(got.Items.Nodes) {
		t.Fatalf("totalCount %d, but %d items listed", got.Items.TotalCount, len(got.Items.Nodes))
	}
	var names []string
	for _, n := range got.Items.Nodes {
		names = append(names, n.Name)
	}
	return names
}

// abuseWS is a websocket client of the abuse tests.
type abuseWS struct{ conn *websocket.Conn }

type abuseMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

func (a *abuser) dialWS(t *testing.T, subprotocol string) *abuseWS {
	t.Helper()
	return &abuseWS{conn: testserver.Dial(t, a.url, subprotocol, nil)}
}

// tryDialWS opens a graphql-transport-ws socket with client (nil: the
// default, from 127.0.0.1), and returns the handshake's response when it
// was refused.
func (a *abuser) tryDialWS(t *testing.T, client *http.Client) (*abuseWS, *http.Response, error) {
	t.Helper()
	conn, resp, err := testserver.TryDial(t, t.Context(), a.url, "graphql-transport-ws", &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		return nil, resp, err
	}
	return &abuseWS{conn: conn}, resp, nil
}

// awaitDial waits until a socket opens from 127.0.0.1: until the server
// has counted the sockets closed by the test as closed.
func (a *abuser) awaitDial(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(abuseDeadline)
	for {
		w, _, err := a.tryDialWS(t, nil)
		if err == nil {
			w.conn.CloseNow()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no socket opens from 127.0.0.1 after its sockets closed: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// abuseClientFrom returns an HTTP client whose connections come from
// the loopback address ip (127.0.0.2: another client address), with no
// deadline.
func abuseClientFrom(t *testing.T, ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// metric reads the value of one series (name{labels} as /metrics writes
// it) from /metrics; 0 when it is absent.
func (a *abuser) metric(t *testing.T, series string) float64 {
	t.Helper()
	return testserver.Metrics(t, a.client, a.url)[series]
}

// keepAlive answers the server's pings from now on, until the socket
// closes, as a client does, so that a slow test's sockets stay open; the
// socket must not be read otherwise.
func (w *abuseWS) keepAlive() {
	go func() {
		for {
			_, data, err := w.conn.Read(context.Background())
			if err != nil {
				return
			}
			if strings.Contains(string(data), `"type":"ping"`) {
				_ = w.conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"pong"}`))
			}
		}
	}()
}

func (w *abuseWS) send(t *testing.T, msg string) {
	t.Helper()
	if err := w.conn.Write(t.Context(), websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("write %s: %v", msg, err)
	}
}

// next returns the next message but keep-alives, waiting up to d.
func (w *abuseWS) next(t *testing.T, d time.Duration) abuseMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	for {
		_, data, err := w.conn.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var m abuseMessage
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("server message %s: %v", data, err)
		}
		if m.Type != "ka" && m.Type != "ping" {
			return m
		}
	}
}

// messages reads the socket from now on, as keepAlive does, and sends
// every message but pings on the channel it returns; when the socket
// closes, a last message of type "closed" whose ID is the close code (-1:
// none) and whose payload says why.
func (w *abuseWS) messages() <-chan abuseMessage {
	c := make(chan abuseMessage, 64)
	go func() {
		for {
			_, data, err := w.conn.Read(context.Background())
			if err != nil {
				why, _ := json.Marshal(err.Error())
				select {
				case c <- abuseMessage{Type: "closed", ID: strconv.Itoa(int(websocket.CloseStatus(err))), Payload: why}:
				default:
				}
				return
			}
			var m abuseMessage
			_ = json.Unmarshal(data, &m)
			switch m.Type {
			case "ping":
				_ = w.conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"pong"}`))
			case "ka":
			default:
				select {
				case c <- m:
				default: // nobody reads any more
				}
			}
		}
	}()
	return c
}

func (w *abuseWS) expect(t *testing.T, typ, id string) {
	t.Helper()
	if m := w.next(t, abuseDeadline); m.Type != typ || m.ID != id {
		t.Fatalf("got %s %q %s, want %s %q", m.Type, m.ID, m.Payload, typ, id)
	}
}

// active reads itemsapi_subscriptions_active from /metrics.
func (a *abuser) active(t *testing.T) float64 {
	t.Helper()
	return testserver.Metric(t, a.client, a.url, "itemsapi_subscriptions_active")
}

// waitActive waits until itemsapi_subscriptions_active is want.
func (a *abuser) waitActive(t *testing.T, want float64) {
	t.Helper()
	deadline := time.Now().Add(abuseDeadline)
	for got := a.active(t); got != want; got = a.active(t) {
		if time.Now().After(deadline) {
			t.Fatalf("itemsapi_subscriptions_active = %v, want %v", got, want)
		}
	}
}

// watchActive samples itemsapi_subscriptions_active until the test ends;
// the returned function gives the highest value seen so far.
func (a *abuser) watchActive(t *testing.T) func() float64 {
	var mu sync.Mutex
	peak := 0.0
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		testserver.Ticks(stop, 2*time.Millisecond, func() bool { // a sampling rate
			m, err := testserver.ScrapeMetrics(context.Background(), a.client, a.url)
			if f, ok := m["itemsapi_subscriptions_active"]; err == nil && ok {
				mu.Lock()
				peak = max(peak, f)
				mu.Unlock()
			}
			return true
		})
	}()
	t.Cleanup(func() { close(stop); <-done })
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// abuseLiveHeap is the live heap, after a collection: the server runs in
// this process.
func abuseLiveHeap() int64 {
	inUse, _ := abuseHeap()
	return int64(inUse)
}

// abuseNestedOfType returns an introspection query whose selections nest
// n levels deep.
func abuseNestedOfType(n int) string {
	return "{ __schema { types { fields { type " +
		strings.Repeat("{ ofType ", n-5) + "{ name }" + strings.Repeat(" }", n-5) +
		" } } } }"
}

// abuseFragmentChain returns a query whose selections nest n levels deep
// through a chain of named fragments, each one level deeper.
func abuseFragmentChain(n int) string {
	var b strings.Builder
	b.WriteString("query Deep { __type(name: \"Item\") { ...F0 } }\n")
	for i := range n - 1 {
		fmt.Fprintf(&b, "fragment F%d on __Type { name ofType { ...F%d } }\n", i, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on __Type { name }\n", n-1)
	return b.String()
}

// abuseBody is a request body of size bytes, made on the fly: prefix,
// then 'x' bytes. After pauseAt bytes it stalls until Close, then fails,
// as a client that gives up uploading would.
type abuseBody struct {
	prefix   string
	size     int64
	pauseAt  int64
	produced atomic.Int64
	release  chan struct{}
	once     sync.Once
}

func newAbuseBody(prefix string, size, pauseAt int64) *abuseBody {
	return &abuseBody{prefix: prefix, size: size, pauseAt: pauseAt, release: make(chan struct{})}
}

func (b *abuseBody) Read(p []byte) (int, error) {
	done := b.produced.Load()
	if done >= b.size {
		return 0, io.EOF
	}
	if done >= b.pauseAt {
		select {
		case <-b.release:
		case <-time.After(time.Minute):
		}
		return 0, errors.New("upload abandoned")
	}
	n := int(min(int64(len(p)), b.pauseAt-done, b.size-done))
	for i := range n {
		if off := done + int64(i); off < int64(len(b.prefix)) {
			p[i] = b.prefix[off]
		} else {
			p[i] = 'x'
		}
	}
	b.produced.Add(int64(n))
	return n, nil
}

// Close releases a stalled Read.
func (b *abuseBody) Close() error {
	b.once.Do(func() { close(b.release) })
	return nil
}

// abuseParseBound bounds the live heap while many websockets send large
// documents at once: the 64 MiB of bytes in flight, and room for the rest.
const abuseParseBound = 128 << 20

// TestAbuseWebsocketDocuments sends, on many websockets at once, documents
// of nearly 1 MiB each (a websocket message holds at most 1 MiB), made of
// 95,000 fields: decoding and parsing each takes tens of megabytes. Over
// HTTP the bytes in flight bound what such documents take at once; over
// websockets they must too. Each socket gets its error (the cost limit,
// or retry later), or is closed with 1013 (try again later) when its
// message could not have its memory within a second. Without the budget,
// 256 sockets took the heap to 856 MiB.
func TestAbuseWebsocketDocuments(t *testing.T) {
	// The server's budget, not an address's share of it: every socket
	// comes from 127.0.0.1.
	a := startAbused(t, "hundreds of megabytes: not with -short", "--max-share-per-address", "1")
	sockets := 256 / abuseScale
	doc := "subscription { itemAdded { id " + strings.Repeat("__typename ", 95_000) + "} }"
	payload, _ := json.Marshal(map[string]any{"query": doc})
	msg := fmt.Appendf(nil, `{"type":"subscribe","id":"1","payload":%s}`, payload)
	conns := make([]*abuseWS, sockets)
	for i := range conns {
		conns[i] = a.dialWS(t, "graphql-transport-ws")
		conns[i].send(t, `{"type":"connection_init"}`)
		conns[i].expect(t, "connection_ack", "")
	}
	stop := abusePeakLiveHeap()
	var refused, busy, closed atomic.Int64
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			if err := c.conn.Write(t.Context(), websocket.MessageText, msg); err != nil {
				t.Error(err)
				return
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			_, data, err := c.conn.Read(ctx)
			for err == nil && strings.Contains(string(data), `"type":"ping"`) {
				// A keep-alive, when the race detector makes this slow.
				_ = c.conn.Write(ctx, websocket.MessageText, []byte(`{"type":"pong"}`))
				_, data, err = c.conn.Read(ctx)
			}
			switch {
			case websocket.CloseStatus(err) == websocket.StatusTryAgainLater:
				closed.Add(1)
			case err != nil:
				t.Error(err)
			case strings.Contains(string(data), "GRAPHQL_VALIDATION_FAILED"):
				refused.Add(1)
			case strings.Contains(string(data), "retry later"):
				busy.Add(1)
			default:
				t.Errorf("answer %.300s, want a refusal", data)
			}
		})
	}
	wg.Wait()
	peak := stop()
	t.Logf("%d sockets, messages of %d bytes: %d over the cost limit, %d told to retry, %d closed with 1013; live heap peaked at %.1f MiB",
		sockets, len(msg), refused.Load(), busy.Load(), closed.Load(), float64(peak)/(1<<20))
	if peak > abuseParseBound {
		t.Errorf("live heap peaked at %.1f MiB, over the bound of %d MiB", float64(peak)/(1<<20), abuseParseBound>>20)
	}
	if refused.Load() == 0 {
		t.Errorf("no document was parsed and refused for its cost")
	}
	a.stillServes(t)
}

// abusePeakLiveHeap samples the live heap (as of the latest collection)
// every millisecond until the returned function is called, which returns
// the highest value seen.
func abusePeakLiveHeap() (stop func() uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var peak uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	sample := func() bool {
		metrics.Read(s)
		peak = max(peak, s[0].Value.Uint64())
		return true
	}
	go func() {
		defer close(finished)
		sample()
		testserver.Ticks(done, time.Millisecond, sample)
	}()
	return func() uint64 { close(done); <-finished; return peak }
}

// TestAbuseLongOperationIDs starts operations whose ids are nearly a
// megabyte long, 20 to a socket (the most it may run), on websockets
// (both protocols) and on a graphql-sse reservation: an id is kept as
// long as its operation runs, and echoed in each of its messages, so ids
// that long would hold gigabytes for 1,000 sockets (before ids were
// bounded, 20 sockets of each protocol and one reservation held 712 MiB).
// An id over 128 bytes closes a graphql-transport-ws socket with 4400,
// gets a connection_error on the legacy protocol, and a 400 over
// graphql-sse; the live heap stays within abuseHeapBound. An id of 128
// bytes runs.
func TestAbuseLongOperationIDs(t *testing.T) {
	a := startAbused(t, "hundreds of megabytes: not with -short")
	const perSocket = 20
	sockets := 20 / min(abuseScale, 4)
	long := func(i int) string { return fmt.Sprintf("%0900000d", i) }
	const sub = `{"query":"subscription { itemAdded { id } }"}`
	before := abuseLiveHeap()
	for range sockets {
		w := a.dialWS(t, "graphql-transport-ws")
		w.send(t, `{"type":"connection_init"}`)
		w.expect(t, "connection_ack", "")
		w.send(t, fmt.Sprintf(`{"type":"subscribe","id":%q,"payload":%s}`, long(0), sub))
		ctx, cancel := context.WithTimeout(t.Context(), abuseDeadline)
		_, _, err := w.conn.Read(ctx)
		cancel()
		if code := websocket.CloseStatus(err); code != 4400 {
			t.Fatalf("graphql-transport-ws subscribe with an id of 900 kB: %v, want close 4400", err)
		}
	}
	for range sockets {
		w := a.dialWS(t, "graphql-ws")
		w.send(t, `{"type":"connection_init"}`)
		w.expect(t, "connection_ack", "")
		for i := range perSocket {
			w.send(t, fmt.Sprintf(`{"type":"start","id":%q,"payload":%s}`, long(i), sub))
			if m := w.next(t, time.Minute); m.Type != "connection_error" || !strings.Contains(string(m.Payload), "at most 128 bytes") {
				t.Fatalf("legacy start with an id of 900 kB: %s %.100s, want connection_error", m.Type, m.Payload)
			}
		}
	}
	put := a.request(t, http.MethodPut, "/graphql", nil)
	resp, err := a.client.Do(put)
	if err != nil {
		t.Fatal(err)
	}
	token, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	postOp := func(id string) abuseReply {
		body, _ := json.Marshal(map[string]any{"query": "subscription { itemAdded { id } }", "extensions": map[string]any{"operationId": id}})
		req := a.request(t, http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("X-GraphQL-Event-Stream-Token", string(token))
		return a.send(t, "graphql-sse operation", req)
	}
	for i := range perSocket {
		postOp(long(i)).want(t, http.StatusBadRequest, "BAD_REQUEST", "at most 128 bytes")
	}
	heap := abuseLiveHeap()
	t.Logf("live heap %.1f MiB (%.1f MiB before)", float64(heap)/(1<<20), float64(before)/(1<<20))
	if heap > abuseHeapBound {
		t.Errorf("live heap %.1f MiB, over the bound of %d MiB", float64(heap)/(1<<20), abuseHeapBound>>20)
	}

	// 128 bytes is an id.
	id128 := strings.Repeat("i", 128)
	w := a.dialWS(t, "graphql-transport-ws")
	w.send(t, `{"type":"connection_init"}`)
	w.expect(t, "connection_ack", "")
	w.send(t, fmt.Sprintf(`{"type":"subscribe","id":%q,"payload":%s}`, id128, sub))
	if r := postOp(id128); r.Status != http.StatusAccepted {
		t.Errorf("graphql-sse operation with an id of 128 bytes: %d %s, want 202", r.Status, r.short())
	}
	a.waitActive(t, 1) // the reservation's waits for its stream to open
	a.stillServes(t)
}

// TestAbuseLargeSubscriptionDocuments starts, on websockets, the most
// subscriptions each socket may run, each of a distinct document padded
// with a comment to nearly the 1 MiB a message may hold: a subscription
// keeps its document for as long as its client likes, so 20 sockets kept
// 349 MiB when nothing counted them (1,000 sockets would keep 17 GB). The
// documents running operations keep count in the bytes in flight, up to
// half of them: past that, a subscribe is refused (retry later), and the
// live heap stays within abuseParseBound (the caches' budgets, the 32 MiB
// of documents kept, and the rest). Small subscriptions still run; event
// streams of large documents are refused with 503 while the documents
// kept fill their half.
func TestAbuseLargeSubscriptionDocuments(t *testing.T) {
	if raceDetector {
		// It multiplies the memory and the time of parsing 900 kB
		// documents: CI found a socket of them stalled for 25 s beside the
		// other packages' tests. The paths are the other abuse tests'.
		t.Skip("memory bounds of large documents: measured without the race detector (.ci/run runs it so)")
	}
	// The server's half of the budget, not an address's share of it:
	// every socket comes from 127.0.0.1.
	a := startAbused(t, "hundreds of megabytes: not with -short", "--max-share-per-address", "1")
	const perSocket = 20
	const sockets = 20
	before := abuseLiveHeap()
	refused := 0
	for n := range sockets {
		w := a.dialWS(t, "graphql-transport-ws")
		w.send(t, `{"type":"connection_init"}`)
		w.expect(t, "connection_ack", "")
		activeBefore, refusedBefore := a.active(t), refused
		for i := range perSocket {
			doc := fmt.Sprintf("subscription { itemAdded { id } } # %d %d %s", n, i, strings.Repeat("x", 900_000))
			payload, _ := json.Marshal(map[string]any{"query": doc})
			msg := fmt.Sprintf(`{"type":"subscribe","id":"%d","payload":%s}`, i, payload)
			if err := w.conn.Write(t.Context(), websocket.MessageText, []byte(msg)); err != nil {
				break // closed by the server: messages says why
			}
		}
		// Each refusal is an error message; what runs sends nothing. A
		// subscribe may wait for memory before it is refused, so the
		// messages are read until every subscription either runs or was
		// refused. Each must be accounted for within abuseDeadline of the
		// one before: the deadline is on progress, not on the socket's
		// twenty, which a busy machine may take long to parse.
		//
		// A socket whose message finds no memory within a second is closed
		// with 1013, try again later (websocket.go): its subscriptions end,
		// and all of them count as refused.
		msgs := w.messages()
		want := (n + 1) * perSocket
		done := int(a.active(t)) + refused
		deadline := time.Now().Add(abuseDeadline)
		for done < want {
			select {
			case m := <-msgs:
				if m.Type == "closed" && m.ID == strconv.Itoa(int(websocket.StatusTryAgainLater)) {
					t.Logf("socket %d closed by the server: %s", n, m.Payload)
					a.waitActive(t, activeBefore)
					refused = refusedBefore + perSocket
					done = want
					continue
				}
				if m.Type != "error" || !strings.Contains(string(m.Payload), "retry later") {
					t.Fatalf("message %s %.200s, want only refusals", m.Type, m.Payload)
				}
				refused++
			case <-time.After(100 * time.Millisecond):
			}
			now := int(a.active(t)) + refused
			if now > done {
				done, deadline = now, time.Now().Add(abuseDeadline)
			} else if time.Now().After(deadline) {
				t.Fatalf("%d running and %d refused, want %d in all: none more in %v", done-refused, refused, want, abuseDeadline)
			}
		}
	}
	running := a.active(t)
	heap := abuseLiveHeap()
	t.Logf("%d subscriptions of 900 kB documents sent: %v run, %d refused; live heap %.1f MiB (%.1f MiB before)",
		sockets*perSocket, running, refused, float64(heap)/(1<<20), float64(before)/(1<<20))
	if heap > abuseParseBound {
		t.Errorf("live heap %.1f MiB, over the bound of %d MiB", float64(heap)/(1<<20), abuseParseBound>>20)
	}
	if int(running)+refused != sockets*perSocket {
		t.Errorf("%v running and %d refused, want %d in all", running, refused, sockets*perSocket)
	}
	// Many small subscriptions of one document still run.
	for range 3 {
		w := a.dialWS(t, "graphql-transport-ws")
		w.send(t, `{"type":"connection_init"}`)
		w.expect(t, "connection_ack", "")
		for i := range perSocket {
			w.send(t, fmt.Sprintf(`{"type":"subscribe","id":"%d","payload":{"query":"subscription { itemAdded { id } }"}}`, i))
		}
		w.keepAlive()
	}
	a.waitActive(t, running+3*perSocket)
	a.stillServes(t)

	// Event streams of 1.9 MB documents, each open until the test ends.
	var streams, busy int
	for i := range 40 {
		doc := fmt.Sprintf("subscription { itemAdded { id } } # sse %d %s", i, strings.Repeat("x", 1_900_000))
		body, _ := json.Marshal(map[string]any{"query": doc})
		req := a.request(t, http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		switch resp.StatusCode {
		case http.StatusOK:
			streams++
		case http.StatusServiceUnavailable:
			busy++
		default:
			t.Fatalf("event stream %d: %d", i, resp.StatusCode)
		}
	}
	heap = abuseLiveHeap()
	t.Logf("40 event streams of 1.9 MB documents: %d open, %d refused; live heap %.1f MiB", streams, busy, float64(heap)/(1<<20))
	if heap > abuseParseBound {
		t.Errorf("live heap %.1f MiB, over the bound of %d MiB", float64(heap)/(1<<20), abuseParseBound>>20)
	}
	a.stillServes(t)
}
