package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"itemsapi/httpapi"
)

// The Accept headers Apollo Client 4's HttpLink sends for a subscription,
// and for a query with @defer (with Defer20220824Handler).
const (
	apolloSubscriptionAccept = "multipart/mixed;boundary=graphql;subscriptionSpec=1.0,application/graphql-response+json,application/json;q=0.9"
	apolloDeferAccept        = "multipart/mixed;deferSpec=20220824,application/graphql-response+json,application/json;q=0.9"
)

func TestMultipartSubscription(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.KeepAlive = 10 * time.Millisecond
	ts := newStreamServer(t, cfg)
	resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(itemAddedAfter2, nil), map[string]string{"Accept": apolloSubscriptionAccept})
	r := newMultipartReader(t, resp, "subscriptionspec")
	// Heartbeats come while nothing happens.
	for beats := 0; beats < 2; {
		body, ok, err := r.next()
		if !ok || err != nil || body != "{}" {
			t.Fatalf("part %q, %v, %v; want a heartbeat {}", body, ok, err)
		}
		beats++
	}
	ts.addItem(t, "pear")
	var event struct {
		Payload struct {
			Data struct{ ItemAdded struct{ Name string } }
		}
	}
	if body := r.must(); json.Unmarshal([]byte(body), &event) != nil || event.Payload.Data.ItemAdded.Name != "pear" {
		t.Fatalf("part %s, want {\"payload\": …pear…}", body)
	}
	ts.waitMetric(t, "itemsapi_subscriptions_active", 1)
	// The store closes: a transport error, then the end.
	ts.mem.Close()
	var end struct {
		Payload *json.RawMessage
		Errors  []gqlError
	}
	body := r.must()
	if err := json.Unmarshal([]byte(body), &end); err != nil || end.Payload != nil || !strings.Contains(body, `"payload":null`) ||
		len(end.Errors) != 1 || end.Errors[0].Code() != "SERVICE_UNAVAILABLE" {
		t.Fatalf("part %s, want {\"payload\": null, \"errors\": [SERVICE_UNAVAILABLE]}", body)
	}
	for {
		body, ok, err := r.next()
		if err != nil {
			t.Fatalf("after the error: %v; want the closing delimiter", err)
		}
		if !ok {
			break
		}
		if body != "{}" {
			t.Fatalf("part %s after the error", body)
		}
	}
	ts.waitMetric(t, "itemsapi_subscriptions_active", 0)
}

func TestMultipartSubscriptionAtShutdown(t *testing.T) {
	ts := newStreamServer(t, httpapi.DefaultConfig())
	resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(itemAddedAfter2, nil), map[string]string{"Accept": apolloSubscriptionAccept})
	r := newMultipartReader(t, resp, "subscriptionspec")
	ts.waitMetric(t, "itemsapi_subscriptions_active", 1) // subscribed
	ts.addItem(t, "pear")
	ts.mem.Shutdown()
	if body := r.must(); !strings.Contains(body, "pear") {
		t.Fatalf("part %s, want the item added before the shutdown", body)
	}
	if body, ok, err := r.next(); ok || err == nil {
		t.Fatalf("part %q, %v after the shutdown; want the answer cut short, so that the client resubscribes", body, err)
	}
}

// deferQuery defers the fields of each item but its id.
const deferQuery = `{ items(first: 2) { nodes { id ... @defer(label: "more") { name createdBy { name } } } totalCount } }`

func TestDeferMultipart(t *testing.T) {
	ts := newStreamServer(t, httpapi.DefaultConfig())
	resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(deferQuery, nil), map[string]string{"Accept": apolloDeferAccept})
	r := newMultipartReader(t, resp, "deferspec")
	var initial struct {
		Data    json.RawMessage
		HasNext *bool
	}
	if body := r.must(); json.Unmarshal([]byte(body), &initial) != nil || initial.HasNext == nil || !*initial.HasNext {
		t.Fatalf("first part %s, want data with hasNext: true", body)
	}
	paths := map[string]bool{}
	for hasNext := true; hasNext; {
		var inc struct {
			Incremental []struct {
				Data  json.RawMessage
				Path  []any
				Label string
			}
			HasNext *bool
		}
		body := r.must()
		if err := json.Unmarshal([]byte(body), &inc); err != nil || inc.HasNext == nil || len(inc.Incremental) == 0 {
			t.Fatalf("part %s, want {\"incremental\": […], \"hasNext\"}", body)
		}
		for _, p := range inc.Incremental {
			if p.Label != "more" || len(p.Path) != 3 {
				t.Errorf("incremental %+v, want label more at items.nodes.i", p)
			}
			b, _ := json.Marshal(p.Path)
			paths[string(b)] = true
		}
		hasNext = *inc.HasNext
	}
	if len(paths) != 2 {
		t.Errorf("deferred paths %v, want one per item", paths)
	}
	if body, ok, err := r.next(); ok || err != nil {
		t.Errorf("part %q, %v after hasNext false; want the closing delimiter", body, err)
	}
}

func TestDeferInlineForJSON(t *testing.T) {
	ts := newStreamServer(t, httpapi.DefaultConfig())
	for _, accept := range []string{"", "application/json", "application/graphql-response+json"} {
		resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(deferQuery, nil), map[string]string{"Accept": accept})
		b, _ := io.ReadAll(resp.Body)
		const want = `{"data":{"items":{"nodes":[{"id":"1","name":"Apple","createdBy":null},{"id":"2","name":"Banana","createdBy":null}],"totalCount":2}}}`
		if resp.StatusCode != http.StatusOK || string(b) != want {
			t.Errorf("Accept %q: %d %s\nwant %s", accept, resp.StatusCode, b, want)
		}
	}
	// @defer(if: false) is no deferral at all.
	resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(`{ item(id: "1") { id ... @defer(if: false) { name } } }`, nil), map[string]string{"Accept": apolloDeferAccept})
	r := newMultipartReader(t, resp, "deferspec")
	if body := r.must(); body != `{"data":{"item":{"id":"1","name":"Apple"}}}` {
		t.Errorf("part %s, want the whole item", body)
	}
}

func TestDeferredFragmentsCountInLimits(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.MaxDepth = 3
	cfg.MaxCost = 50
	ts := newStreamServer(t, cfg)
	for _, tc := range []struct{ name, query string }{
		{"depth", `{ items(first: 1) { nodes { ... @defer { createdBy { name } } } } }`},
		{"cost", `{ items(first: 100) { ... @defer { nodes { id } } } }`},
		{"depth through a spread", `query { items(first: 1) { nodes { ...F @defer } } } fragment F on Item { createdBy { name } }`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, accept := range []string{"application/json", apolloDeferAccept} {
				resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(tc.query, nil), map[string]string{"Accept": accept})
				var body struct{ Errors []gqlError }
				_ = json.NewDecoder(resp.Body).Decode(&body)
				if len(body.Errors) != 1 || body.Errors[0].Code() != "GRAPHQL_VALIDATION_FAILED" {
					t.Errorf("Accept %q: %d %+v, want GRAPHQL_VALIDATION_FAILED", accept, resp.StatusCode, body.Errors)
				}
			}
		})
	}
}

// TestNestedDeferRefused: gqlgen's executor never finishes some operations
// with a @defer inside a deferred fragment (a batch field under the inner
// one); they are refused before they run, whatever the client accepts,
// while one level of @defer, or an inner one that cannot defer, is served.
func TestNestedDeferRefused(t *testing.T) {
	ts := newStreamServer(t, httpapi.DefaultConfig())
	client := &http.Client{Timeout: 10 * time.Second} // a hang fails
	post := func(query string, accept string) (int, []gqlError, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/graphql", strings.NewReader(gqlBody(query, nil)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", accept)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v (the server did not answer)", query, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var body struct{ Errors []gqlError }
		_ = json.Unmarshal(b, &body)
		return resp.StatusCode, body.Errors, string(b)
	}
	for _, q := range []string{
		`{ item(id: "1") { ... @defer { ... @defer { createdBy { id } } } } }`,
		`{ items(first: 2) { nodes { ... @defer { id ...F @defer } } } } fragment F on Item { createdBy { id } }`,
		`query($d: Boolean = true) { item(id: "1") { ...A @defer } } fragment A on Item { ... @defer(if: $d) { createdBy { id } } }`,
	} {
		for _, accept := range []string{"application/json", apolloDeferAccept} {
			if _, errs, b := post(q, accept); len(errs) != 1 || errs[0].Code() != "GRAPHQL_VALIDATION_FAILED" ||
				!strings.Contains(errs[0].Message, "@defer inside a deferred fragment") {
				t.Errorf("%s (Accept %s): %s, want GRAPHQL_VALIDATION_FAILED", q, accept, b)
			}
		}
	}
	for _, q := range []string{
		`{ item(id: "1") { id ... @defer { name createdBy { id } } ... @defer { id } } }`,
		`{ item(id: "1") { ... @defer { ... @defer(if: false) { createdBy { id } } } } }`,
		`{ item(id: "1") { ...F ... @defer { name } } } fragment F on Item { ... @defer { id } }`,
	} {
		if status, errs, b := post(q, "application/json"); status != http.StatusOK || len(errs) != 0 {
			t.Errorf("%s: %d %s, want the item", q, status, b)
		}
	}
}

func TestDeferOverSSE(t *testing.T) {
	// graphql-sse carries the patches of the 2022 draft as next events:
	// the initial result with hasNext, then {data, path, label, hasNext}.
	ts := newStreamServer(t, httpapi.DefaultConfig())
	resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(deferQuery, nil), map[string]string{"Accept": acceptSSE})
	r := newSSEReader(t, resp)
	var got []string
	for {
		ev := r.must()
		if ev.name == "complete" {
			break
		}
		got = append(got, ev.data)
	}
	if len(got) != 3 || !strings.Contains(got[0], `"hasNext":true`) || !strings.Contains(got[2], `"hasNext":false`) ||
		!strings.Contains(got[1], `"path":["items","nodes",`) || !strings.Contains(got[1], `"label":"more"`) {
		t.Errorf("events %q, want the initial result and a patch per item", got)
	}
}

func TestMultipartRefusedOperationIsJSON(t *testing.T) {
	// What refuses an operation before it runs is a GraphQL over HTTP
	// answer, which Apollo Client reads as any other.
	ts := newStreamServer(t, httpapi.DefaultConfig())
	resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(`subscription { nope }`, nil), map[string]string{"Accept": apolloSubscriptionAccept})
	var body struct{ Errors []gqlError }
	err := json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/graphql-response+json") ||
		err != nil || len(body.Errors) != 1 || body.Errors[0].Code() != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("%d %q %+v, want 400 application/graphql-response+json with GRAPHQL_VALIDATION_FAILED", resp.StatusCode, resp.Header.Get("Content-Type"), body.Errors)
	}
}
