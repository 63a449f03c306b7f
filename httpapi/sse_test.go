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
	"itemsapi/internal/testserver"
)

const acceptSSE = "text/event-stream"

// itemAddedAfter2 subscribes after the demo items, so that no item added
// by the test is missed, however late the subscription starts.
const itemAddedAfter2 = `subscription { itemAdded(after: "2") { id name } }`

func TestSSEQueryOverPOST(t *testing.T) {
	ts := newStreamServer(t, httpapi.DefaultConfig())
	resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(`{ item(id: "1") { name } }`, nil), map[string]string{"Accept": acceptSSE})
	r := newSSEReader(t, resp)
	if ev := r.must(); ev.name != "next" || ev.data != `{"data":{"item":{"name":"Apple"}}}` {
		t.Errorf("first event = %+v, want next with Apple", ev)
	}
	if ev := r.must(); ev.name != "complete" {
		t.Errorf("second event = %+v, want complete", ev)
	}
	if ev, ok := r.next(); ok {
		t.Errorf("event after complete: %+v", ev)
	}
}

func TestSSESubscriptionOverGET(t *testing.T) {
	// As a browser's EventSource sends it: GET, Accept: text/event-stream.
	ts := newStreamServer(t, httpapi.DefaultConfig())
	resp := ts.request(t, http.MethodGet, getPath(itemAddedAfter2), "", map[string]string{"Accept": acceptSSE})
	r := newSSEReader(t, resp)
	ts.addItem(t, "pear")
	ts.addItem(t, "plum")
	for _, want := range []string{"pear", "plum"} {
		ev := r.must()
		var got struct {
			Data struct{ ItemAdded struct{ Name string } }
		}
		if err := json.Unmarshal([]byte(ev.data), &got); ev.name != "next" || err != nil || got.Data.ItemAdded.Name != want {
			t.Fatalf("event = %+v, want next with %s", ev, want)
		}
	}
	ts.waitMetric(t, "itemsapi_subscriptions_active", 1)
	resp.Body.Close()
	ts.waitMetric(t, "itemsapi_subscriptions_active", 0)
}

func TestSSERefusedOperationIsAnEvent(t *testing.T) {
	// graphql-sse: validation runs in the accepted stream, so that an
	// EventSource can see why.
	ts := newStreamServer(t, httpapi.DefaultConfig())
	resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(`{ nope }`, nil), map[string]string{"Accept": acceptSSE})
	r := newSSEReader(t, resp)
	ev := r.must()
	if ev.name != "next" || !strings.Contains(ev.data, `"code":"GRAPHQL_VALIDATION_FAILED"`) || strings.Contains(ev.data, `"data"`) {
		t.Errorf("event = %+v, want next with GRAPHQL_VALIDATION_FAILED and no data", ev)
	}
	if ev := r.must(); ev.name != "complete" {
		t.Errorf("event = %+v, want complete", ev)
	}
}

func TestSSERequestsThatAreNotGraphQL(t *testing.T) {
	ts := newStreamServer(t, httpapi.DefaultConfig())
	for _, tc := range []struct {
		name, method, path, body string
		want                     int
	}{
		{"malformed JSON", http.MethodPost, "/graphql", `{"query":`, http.StatusBadRequest},
		{"batch", http.MethodPost, "/graphql", `[` + gqlBody(`{ __typename }`, nil) + `]`, http.StatusOK},
		{"mutation over GET", http.MethodGet, getPath(`mutation { addItem(input: {name: "x"}) { id } }`), "", http.StatusMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := ts.request(t, tc.method, tc.path, tc.body, map[string]string{"Accept": acceptSSE})
			if resp.StatusCode != tc.want {
				b, _ := io.ReadAll(resp.Body)
				t.Errorf("status = %d, want %d\n%s", resp.StatusCode, tc.want, b)
			}
		})
	}
}

func TestSSESubscriptionEndedByTheServer(t *testing.T) {
	t.Run("an error ends it with a next of errors, then complete", func(t *testing.T) {
		ts := newStreamServer(t, httpapi.DefaultConfig())
		resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(itemAddedAfter2, nil), map[string]string{"Accept": acceptSSE})
		r := newSSEReader(t, resp)
		ts.addItem(t, "pear")
		r.must()
		ts.mem.Close() // the store closes: the broker ends its subscriptions
		ev := r.must()
		if ev.name != "next" || !strings.Contains(ev.data, `"code":"SERVICE_UNAVAILABLE"`) {
			t.Errorf("event = %+v, want next with SERVICE_UNAVAILABLE", ev)
		}
		if ev := r.must(); ev.name != "complete" {
			t.Errorf("event = %+v, want complete", ev)
		}
	})
	t.Run("a shutdown closes it without complete", func(t *testing.T) {
		ts := newStreamServer(t, httpapi.DefaultConfig())
		resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(itemAddedAfter2, nil), map[string]string{"Accept": acceptSSE})
		r := newSSEReader(t, resp)
		ts.waitMetric(t, "itemsapi_subscriptions_active", 1) // subscribed
		ts.addItem(t, "pear")
		ts.mem.Shutdown() // delivers what was acknowledged, then ErrGoingAway
		if ev := r.must(); ev.name != "next" {
			t.Errorf("event = %+v, want the item added before the shutdown", ev)
		}
		if ev, ok := r.next(); ok {
			t.Errorf("event %+v after the shutdown; want the stream to close, so that the client reconnects", ev)
		}
	})
}

func TestSSEHeartbeats(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.KeepAlive = 10 * time.Millisecond
	ts := newStreamServer(t, cfg)
	resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(itemAddedAfter2, nil), map[string]string{"Accept": acceptSSE})
	buf := make([]byte, 64)
	var got strings.Builder
	for strings.Count(got.String(), ":\n\n") < 3 {
		n, err := resp.Body.Read(buf)
		if err != nil {
			t.Fatalf("read %q: %v", got.String(), err)
		}
		got.Write(buf[:n])
	}
}

func TestSSESingleConnection(t *testing.T) {
	ts := newStreamServer(t, httpapi.DefaultConfig())
	token := ts.reserve(t)
	withToken := map[string]string{"X-GraphQL-Event-Stream-Token": token}

	// Operations sent before the stream opens wait for it.
	if resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(itemAddedAfter2, map[string]any{"operationId": "sub"}), withToken); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST subscription: %d, want 202", resp.StatusCode)
	}
	// EventSource sends the token as a parameter.
	stream := ts.request(t, http.MethodGet, "/graphql?token="+token, "", map[string]string{"Accept": acceptSSE})
	r := newSSEReader(t, stream)
	if resp := ts.request(t, http.MethodGet, "/graphql?token="+token, "", map[string]string{"Accept": acceptSSE}); resp.StatusCode != http.StatusConflict {
		t.Errorf("a second stream for the reservation: %d, want 409", resp.StatusCode)
	}

	for _, tc := range []struct {
		name   string
		header map[string]string
		body   string
		want   int
	}{
		{"unknown token", map[string]string{"X-GraphQL-Event-Stream-Token": "nope"}, gqlBody(`{ __typename }`, map[string]any{"operationId": "x"}), http.StatusNotFound},
		{"no operation id", withToken, gqlBody(`{ __typename }`, nil), http.StatusBadRequest},
		{"busy operation id", withToken, gqlBody(`{ __typename }`, map[string]any{"operationId": "sub"}), http.StatusConflict},
	} {
		if resp := ts.request(t, http.MethodPost, "/graphql", tc.body, tc.header); resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}

	ts.addItem(t, "pear")
	type message struct {
		ID      string
		Payload struct {
			Data   json.RawMessage
			Errors []gqlError
		}
	}
	read := func() (string, message) {
		t.Helper()
		ev := r.must()
		var m message
		if err := json.Unmarshal([]byte(ev.data), &m); err != nil {
			t.Fatalf("event %+v: %v", ev, err)
		}
		return ev.name, m
	}
	if name, m := read(); name != "next" || m.ID != "sub" || !strings.Contains(string(m.Payload.Data), "pear") {
		t.Fatalf("event %s %+v, want next of sub with pear", name, m)
	}
	ts.waitMetric(t, "itemsapi_subscriptions_active", 1)
	if resp := ts.request(t, http.MethodDelete, "/graphql?operationId=sub", "", withToken); resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE: %d, want 200", resp.StatusCode)
	}
	ts.waitMetric(t, "itemsapi_subscriptions_active", 0)

	// Queries and validation errors travel too; a stopped operation sends
	// nothing more.
	if resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(`{ item(id: "1") { name } }`, map[string]any{"operationId": "q"}), withToken); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST query: %d, want 202", resp.StatusCode)
	}
	if resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(`{ nope }`, map[string]any{"operationId": "bad"}), withToken); resp.StatusCode != http.StatusOK {
		t.Errorf("POST of an invalid query: %d, want 200 with errors, as GraphQL over HTTP answers", resp.StatusCode)
	}
	if name, m := read(); name != "next" || m.ID != "q" || string(m.Payload.Data) != `{"item":{"name":"Apple"}}` {
		t.Fatalf("event %s %+v, want next of q", name, m)
	}
	if name, m := read(); name != "complete" || m.ID != "q" {
		t.Fatalf("event %s %+v, want complete of q", name, m)
	}
	stream.Body.Close()
	// The reservation ends with its stream.
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(`{ __typename }`, map[string]any{"operationId": "late"}), withToken)
		if resp.StatusCode == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("POST after the stream closed: %d, want 404", resp.StatusCode)
		}
	}
}

func TestStreamLimit(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.MaxStreams = 2
	cfg.MaxSharePerAddress = 0 // the server's bound, from one address
	ts := newStreamServer(t, cfg)
	var open []*http.Response
	for range 2 {
		resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(itemAddedAfter2, nil), map[string]string{"Accept": acceptSSE})
		newSSEReader(t, resp)
		open = append(open, resp)
	}
	ts.waitMetric(t, "itemsapi_subscriptions_active", 2)
	for _, tc := range []struct {
		name   string
		method string
		accept string
	}{
		{"event stream", http.MethodPost, acceptSSE},
		{"multipart", http.MethodPost, apolloSubscriptionAccept},
		{"reservation", http.MethodPut, ""},
	} {
		body := gqlBody(itemAddedAfter2, nil)
		if tc.method == http.MethodPut {
			body = ""
		}
		resp := ts.request(t, tc.method, "/graphql", body, map[string]string{"Accept": tc.accept})
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s past the limit: %d, Retry-After %q; want 503 with Retry-After", tc.name, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	// Queries over JSON are no streams.
	if resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(`{ __typename }`, nil), nil); resp.StatusCode != http.StatusOK {
		t.Errorf("a JSON query at the stream limit: %d, want 200", resp.StatusCode)
	}
	open[0].Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(`{ __typename }`, nil), map[string]string{"Accept": acceptSSE})
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no stream freed within 5 s of a close: %d", resp.StatusCode)
		}
	}
}

func TestSubscriptionWithoutStreamIsRefusedAtOnce(t *testing.T) {
	ts := newStreamServer(t, httpapi.DefaultConfig())
	sub := gqlBody(itemAddedAfter2, nil)
	for _, tc := range []struct {
		name, method, path, body, accept string
	}{
		{"JSON", http.MethodPost, "/graphql", sub, "application/json"},
		{"no Accept", http.MethodPost, "/graphql", sub, ""},
		{"any type", http.MethodPost, "/graphql", sub, "*/*"},
		{"graphql-response+json", http.MethodPost, "/graphql", sub, "application/graphql-response+json"},
		{"event stream refused by q=0", http.MethodPost, "/graphql", sub, "application/json, text/event-stream;q=0"},
		{"multipart without subscriptionSpec", http.MethodPost, "/graphql", sub, "multipart/mixed, application/json"},
		{"over GET", http.MethodGet, getPath(itemAddedAfter2), "", "application/json"},
		{"in a batch", http.MethodPost, "/graphql", "[" + gqlBody(`{ __typename }`, nil) + "," + sub + "]", "application/json"},
		{"in a batch, even with a stream Accept", http.MethodPost, "/graphql", "[" + sub + "]", acceptSSE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			resp := ts.request(t, tc.method, tc.path, tc.body, map[string]string{"Accept": tc.accept})
			var body struct{ Errors []gqlError }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != http.StatusBadRequest || len(body.Errors) != 1 || body.Errors[0].Code() != "BAD_REQUEST" {
				t.Errorf("status %d, errors %+v; want 400 BAD_REQUEST", resp.StatusCode, body.Errors)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("refused after %v; want at once", d)
			}
		})
	}
	if got := ts.metric(t, "itemsapi_subscriptions_active"); got != 0 {
		t.Errorf("itemsapi_subscriptions_active = %v after refusals, want 0", got)
	}
}

func TestSSEManyAtOnce(t *testing.T) {
	// Streams run concurrently with writes; the race detector watches.
	ts := newStreamServer(t, httpapi.DefaultConfig())
	var wg sync.WaitGroup
	for range 5 {
		resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(itemAddedAfter2, nil), map[string]string{"Accept": acceptSSE})
		r := newSSEReader(t, resp)
		wg.Go(func() {
			for range 3 {
				if ev, ok := r.next(); !ok || ev.name != "next" {
					t.Errorf("event %+v, %v; want next", ev, ok)
					return
				}
			}
		})
	}
	for _, name := range []string{"a", "b", "c"} {
		ts.addItem(t, name)
	}
	wg.Wait()
}

func TestSSEReservationTokens(t *testing.T) {
	// The graphql-sse client sends its last token again when it reserves
	// anew, maybe before its last stream is seen to close.
	ts := newStreamServer(t, httpapi.DefaultConfig())
	put := func(token string) (int, string) {
		t.Helper()
		header := map[string]string{}
		if token != "" {
			header["X-GraphQL-Event-Stream-Token"] = token
		}
		resp := ts.request(t, http.MethodPut, "/graphql", "", header)
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, token := put("")
	if status != http.StatusCreated || len(token) < 26 {
		t.Fatalf("PUT: %d %q, want 201 and a token of 26 characters or more", status, token)
	}
	if status, got := put(token); status != http.StatusCreated || got != token {
		t.Errorf("PUT with the token of the last reservation: %d %q, want 201 and that token", status, got)
	}
	if status, _ := put("short"); status != http.StatusBadRequest {
		t.Errorf("PUT with a guessable token: %d, want 400", status)
	}
	mine := strings.Repeat("A", 32)
	if status, got := put(mine); status != http.StatusCreated || got != mine {
		t.Errorf("PUT with a free token: %d %q, want 201 and that token", status, got)
	}
}

func TestSSEUnderCSRFPrevention(t *testing.T) {
	// PUT, DELETE and the token header are never simple requests: a
	// browser asks first, so CSRF prevention lets them through.
	cfg := httpapi.DefaultConfig()
	cfg.CSRFPrevention = true
	ts := newStreamServer(t, cfg)
	token := ts.reserve(t)
	withToken := map[string]string{"X-GraphQL-Event-Stream-Token": token, "Accept": acceptSSE}
	if resp := ts.request(t, http.MethodGet, "/graphql", "", withToken); resp.StatusCode != http.StatusOK {
		t.Errorf("GET of the stream with the token header: %d, want 200", resp.StatusCode)
	}
	if resp := ts.request(t, http.MethodDelete, "/graphql?operationId=x", "", withToken); resp.StatusCode != http.StatusOK {
		t.Errorf("DELETE: %d, want 200", resp.StatusCode)
	}
	// EventSource's GET is a simple request: refused, as any such GET.
	if resp := ts.request(t, http.MethodGet, getPath(itemAddedAfter2), "", map[string]string{"Accept": acceptSSE}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("EventSource's GET: %d, want 400", resp.StatusCode)
	}
}

func TestSSEReservationOperationLimit(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.MaxSubscriptionsPerSocket = 1
	ts := newStreamServer(t, cfg)
	token := ts.reserve(t)
	withToken := map[string]string{"X-GraphQL-Event-Stream-Token": token}
	if resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(itemAddedAfter2, map[string]any{"operationId": "a"}), withToken); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("first operation: %d, want 202", resp.StatusCode)
	}
	if resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(itemAddedAfter2, map[string]any{"operationId": "b"}), withToken); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("second operation past --max-subscriptions 1: %d, want 429", resp.StatusCode)
	}
	if resp := ts.request(t, http.MethodDelete, "/graphql?operationId=a", "", withToken); resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	// The place is free once the stopped operation has returned.
	if got := ts.startOnceFree(t, gqlBody(itemAddedAfter2, map[string]any{"operationId": "b"}), withToken, http.StatusTooManyRequests); got != http.StatusAccepted {
		t.Fatalf("an operation once the first is stopped: %d, want 202", got)
	}
}

// startOnceFree posts body, an operation of a reserved stream, until it
// is answered other than busy (its place not yet freed), for up to 5 s,
// and returns the last status.
func (ts *streamServer) startOnceFree(t *testing.T, body string, header map[string]string, busy int) int {
	t.Helper()
	var status int
	testserver.Eventually(5*time.Second, func() bool {
		status = ts.request(t, http.MethodPost, "/graphql", body, header).StatusCode
		return status != busy
	})
	return status
}

// TestSSEReservationReusedOperationID stops an operation of a reserved
// stream and at once starts another under the same id, again and again:
// each new operation must deliver its events, and none of the stopped
// one's, whatever the order in which the stopped one returns.
func TestSSEReservationReusedOperationID(t *testing.T) {
	ts := newStreamServer(t, httpapi.DefaultConfig())
	token := ts.reserve(t)
	withToken := map[string]string{"X-GraphQL-Event-Stream-Token": token}
	r := ts.openReserved(t, token)
	events := make(chan sseEvent, 64)
	go func() {
		defer close(events)
		for {
			ev, ok := r.next()
			if !ok {
				return
			}
			events <- ev
		}
	}()
	const sub = `subscription { itemAdded { name } }`
	for i := range 30 {
		if i > 0 {
			if resp := ts.request(t, http.MethodDelete, "/graphql?operationId=s", "", withToken); resp.StatusCode != http.StatusOK {
				t.Fatalf("DELETE: %d", resp.StatusCode)
			}
		}
		// The stopped operation may not have returned yet: the place it
		// takes is freed when it has, so wait for a 202.
		if got := ts.startOnceFree(t, gqlBody(sub, map[string]any{"operationId": "s"}), withToken, http.StatusConflict); got != http.StatusAccepted {
			t.Fatalf("round %d: POST: %d, want 202", i, got)
		}
		ts.waitMetric(t, "itemsapi_subscriptions_active", 1)
		name := fmt.Sprintf("round %d", i)
		ts.addItem(t, name)
		timeout := time.After(5 * time.Second)
		for got := false; !got; {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatalf("round %d: the stream ended", i)
				}
				if ev.name == "next" && !strings.Contains(ev.data, `"`+name+`"`) {
					t.Fatalf("round %d: event %+v, want only %q", i, ev, name)
				}
				got = ev.name == "next"
			case <-timeout:
				t.Fatalf("round %d: no event for the operation started again under id s within 5 s", i)
			}
		}
	}
}

// TestSSEReservationOperationNotFromTheResponseCache: an operation sent to
// a reserved stream runs on that stream (202, then its events), even when
// the response cache holds the answer of the same body sent as an
// ordinary request.
func TestSSEReservationOperationNotFromTheResponseCache(t *testing.T) {
	ts := newStreamServer(t, httpapi.DefaultConfig())
	token := ts.reserve(t)
	withToken := map[string]string{"X-GraphQL-Event-Stream-Token": token}
	r := ts.openReserved(t, token)
	body := gqlBody(`{ item(id: "1") { name } }`, map[string]any{"operationId": "q"})
	for range 2 { // the second is answered from the cache
		if resp := ts.request(t, http.MethodPost, "/graphql", body, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("ordinary POST: %d, want 200", resp.StatusCode)
		}
	}
	if resp := ts.request(t, http.MethodPost, "/graphql", body, withToken); resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST to the reserved stream: %d %s, want 202", resp.StatusCode, b)
	}
	if ev := r.must(); ev.name != "next" || !strings.Contains(ev.data, `"id":"q"`) {
		t.Errorf("event %+v, want next of q", ev)
	}
}
