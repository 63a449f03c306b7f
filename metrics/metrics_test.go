package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/go-chi/chi/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"itemsapi/graph"
	"itemsapi/internal/testserver"
	"itemsapi/items"
	"itemsapi/metrics"
	"itemsapi/store/memory"
)

// snapshot returns the non-zero series of the metric family name, keyed by
// their labels ("code=FORBIDDEN", "operation=Q,type=query"): the value of
// a counter or gauge, the sample count of a histogram.
func snapshot(t testing.TB, reg prometheus.Gatherer, name string) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var v float64
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				v = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				v = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				v = float64(m.GetHistogram().GetSampleCount())
			default:
				t.Fatalf("%s is a %v", name, f.GetType())
			}
			if v == 0 {
				continue
			}
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			got[strings.Join(labels, ",")] = v
		}
	}
	return got
}

// checkSnapshot reports where the snapshot of name differs from want
// (for a histogram, its sample counts).
func checkSnapshot(t testing.TB, reg prometheus.Gatherer, name string, want map[string]float64) {
	t.Helper()
	if diff := cmp.Diff(want, snapshot(t, reg, name)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

// value returns the value of the series of name with no labels.
func value(t testing.TB, reg prometheus.Gatherer, name string) float64 {
	t.Helper()
	return snapshot(t, reg, name)[""]
}

// waitFor polls cond until it holds, failing the test after a few seconds.
// It is for what happens after the last event a test can wait on, such as
// a subscription ended by a cancelled context.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// newMetrics returns metrics with opts on a registry of their own.
func newMetrics(opts ...metrics.Option) (*prometheus.Registry, *metrics.Metrics) {
	reg := prometheus.NewRegistry()
	return reg, metrics.New(reg, opts...)
}

// newGraphQL returns a gqlgen server over a memory store, configured like
// the service's (error presenter, transports), with m's extension. The
// search field fails with code TEAPOT, which no field of the real schema
// answers.
func newGraphQL(t testing.TB, m *metrics.Metrics) (*handler.Server, *memory.Store) {
	t.Helper()
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	srv := handler.New(graph.NewSchema(&graph.Resolver{Store: st, Broker: st}))
	srv.AddTransport(transport.Websocket{
		InitTimeout: 5 * time.Second,
		Implementation: transport.CoderWebsocketImplementation{
			AcceptOptions: websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled},
		},
	})
	srv.AddTransport(transport.POST{})
	srv.SetErrorPresenter(graph.ErrorPresenter(slog.New(slog.DiscardHandler)))
	srv.Use(m.Extension())
	srv.AroundFields(func(ctx context.Context, next graphql.Resolver) (any, error) {
		if graphql.GetFieldContext(ctx).Field.Name == "search" {
			return nil, &gqlerror.Error{Message: "search is out of order", Extensions: map[string]any{"code": "TEAPOT"}}
		}
		return next(ctx)
	})
	return srv, st
}

// post sends a GraphQL request and returns the codes of its errors.
func post(t testing.TB, url, operationName, query string) []string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "operationName": operationName})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %q: %v", query, err)
	}
	defer resp.Body.Close()
	var got struct {
		Errors []struct {
			Extensions struct{ Code string } `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatalf("POST %q: decoding the response: %v", query, err)
	}
	var codes []string
	for _, e := range got.Errors {
		codes = append(codes, e.Extensions.Code)
	}
	return codes
}

func TestGraphQL(t *testing.T) {
	reg, m := newMetrics()
	srv, _ := newGraphQL(t, m)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)

	requests := []struct {
		operationName, query string
		wantCodes            []string
	}{
		{"", `query Named { items { totalCount } }`, nil},
		{"", `{ item(id: "1") { name } }`, nil},
		{"", `{ items `, []string{"GRAPHQL_PARSE_FAILED"}},
		{"", `{ me { id } }`, []string{"UNAUTHENTICATED"}},
		{"", `mutation { addItem(input: {name: "x"}) { id } }`, []string{"UNAUTHENTICATED"}},
		{"", `{ nope }`, []string{"GRAPHQL_VALIDATION_FAILED"}},
		// A document that does not parse keeps a known name, not a new one.
		{"Named", `query Named { items `, []string{"GRAPHQL_PARSE_FAILED"}},
		{"Fresh", `query Fresh { items `, []string{"GRAPHQL_PARSE_FAILED"}},
		// Variables that do not coerce: the operation exists, nothing ran.
		{"", `query Vars($id: ID!) { item(id: $id) { name } }`, []string{"GRAPHQL_VALIDATION_FAILED"}},
		// A code outside the allow-list, and two errors in one response.
		{"", `{ a: search { totalCount } b: me { id } }`, []string{"TEAPOT", "UNAUTHENTICATED"}},
	}
	for _, r := range requests {
		codes := post(t, ts.URL, r.operationName, r.query)
		slices.Sort(codes)
		if diff := cmp.Diff(r.wantCodes, codes); diff != "" {
			t.Errorf("POST %q: codes (-want +got):\n%s", r.query, diff)
		}
	}

	wantRequests := map[string]float64{
		"operation=Named,type=query":        1,
		"operation=anonymous,type=query":    3,
		"operation=anonymous,type=mutation": 1,
		"operation=anonymous,type=unknown":  2,
		"operation=Named,type=unknown":      1,
		"operation=other,type=unknown":      1,
		"operation=Vars,type=query":         1,
	}
	checkSnapshot(t, reg, "itemsapi_graphql_requests_total", wantRequests)
	checkSnapshot(t, reg, "itemsapi_graphql_request_duration_seconds", wantRequests)
	wantErrors := map[string]float64{
		"code=GRAPHQL_PARSE_FAILED":      3,
		"code=GRAPHQL_VALIDATION_FAILED": 2,
		"code=UNAUTHENTICATED":           3,
		"code=other":                     1,
	}
	checkSnapshot(t, reg, "itemsapi_graphql_errors_total", wantErrors)
}

func TestOperationNames(t *testing.T) {
	t.Run("first N", func(t *testing.T) {
		const n = 3
		reg, m := newMetrics(metrics.MaxOperationNames(n))
		srv, _ := newGraphQL(t, m)
		ts := httptest.NewServer(srv)
		t.Cleanup(ts.Close)
		for i := range n + 5 {
			post(t, ts.URL, "", fmt.Sprintf("query Op%d { items { totalCount } }", i))
		}
		post(t, ts.URL, "", "query Op0 { items { totalCount } }") // still known
		post(t, ts.URL, "", "{ items { totalCount } }")           // anonymous is no name
		want := map[string]float64{
			"operation=Op0,type=query":       2,
			"operation=Op1,type=query":       1,
			"operation=Op2,type=query":       1,
			"operation=other,type=query":     5,
			"operation=anonymous,type=query": 1,
		}
		checkSnapshot(t, reg, "itemsapi_graphql_requests_total", want)
	})

	tests := []struct {
		name, want string
	}{
		{"Q", "Q"},
		{"_private9", "_private9"},
		{strings.Repeat("a", 64), strings.Repeat("a", 64)},
		{strings.Repeat("a", 65), "other"},
		{"other", "other"},
		{"anonymous", "other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg, m := newMetrics()
			srv, _ := newGraphQL(t, m)
			ts := httptest.NewServer(srv)
			t.Cleanup(ts.Close)
			post(t, ts.URL, "", "query "+tc.name+" { items { totalCount } }")
			want := map[string]float64{"operation=" + tc.want + ",type=query": 1}
			checkSnapshot(t, reg, "itemsapi_graphql_requests_total", want)
		})
	}
}

func TestMiddleware(t *testing.T) {
	reg, m := newMetrics()
	entered, release := make(chan struct{}), make(chan struct{})
	r := chi.NewRouter()
	r.Use(m.Middleware)
	r.Get("/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		if chi.URLParam(r, "id") == "slow" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	})
	r.Post("/fail", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusServiceUnavailable)
	})
	// POST, which the client does not retry when the connection drops.
	r.Post("/abort", func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler) // the server neither answers nor logs
	})
	ts := httptest.NewServer(r)
	t.Cleanup(ts.Close)

	do := func(method, path string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			if path == "/abort" {
				return
			}
			t.Fatalf("%s %s: %v", method, path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		do(http.MethodGet, "/items/slow")
	}()
	<-entered
	if got := value(t, reg, "itemsapi_http_requests_in_flight"); got != 1 {
		t.Errorf("itemsapi_http_requests_in_flight while a request waits = %v, want 1", got)
	}
	close(release)
	<-done

	do(http.MethodGet, "/items/1?x=y")
	do(http.MethodGet, "/no/such/path")
	do("BREW", "/items/1")
	do(http.MethodPost, "/fail")
	do(http.MethodPost, "/abort")

	if got := value(t, reg, "itemsapi_http_requests_in_flight"); got != 0 {
		t.Errorf("itemsapi_http_requests_in_flight after the requests = %v, want 0", got)
	}
	want := map[string]float64{
		"method=GET,path=/items/{id},status=2xx": 2,
		"method=GET,path=other,status=4xx":       1,
		"method=other,path=other,status=4xx":     1,
		"method=POST,path=/fail,status=5xx":      1,
		"method=POST,path=/abort,status=5xx":     1,
	}
	checkSnapshot(t, reg, "itemsapi_http_requests_total", want)
	wantDurations := map[string]float64{
		"method=GET,path=/items/{id}": 2,
		"method=GET,path=other":       1,
		"method=other,path=other":     1,
		"method=POST,path=/fail":      1,
		"method=POST,path=/abort":     1,
	}
	checkSnapshot(t, reg, "itemsapi_http_request_duration_seconds", wantDurations)
}

// TestMiddlewareOutsideRouter checks that the route pattern is found when
// the middleware wraps the router rather than being used by it.
func TestMiddlewareOutsideRouter(t *testing.T) {
	reg, m := newMetrics()
	r := chi.NewRouter()
	r.Get("/items/{id}", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	rec := httptest.NewRecorder()
	m.Middleware(r).ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/items/7", nil))
	want := map[string]float64{"method=GET,path=/items/{id},status=2xx": 1}
	checkSnapshot(t, reg, "itemsapi_http_requests_total", want)
}

// wsMessage is a message of the graphql-transport-ws protocol.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func TestSubscriptions(t *testing.T) {
	reg, m := newMetrics()
	srv, st := newGraphQL(t, m)
	r := chi.NewRouter()
	r.Use(m.Middleware)
	r.Handle("/graphql", srv)
	// served receives the path of each request once the middleware is done
	// with it.
	served := make(chan string, 10)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.ServeHTTP(w, req)
		served <- req.URL.Path
	}))
	t.Cleanup(ts.Close)
	gauge := func(name string, want float64) func() bool {
		return func() bool { return value(t, reg, name) == want }
	}

	t.Run("websocket", func(t *testing.T) {
		ctx := t.Context()
		conn := testserver.Dial(t, ts.URL, "graphql-transport-ws", nil)
		send := func(msg wsMessage) {
			t.Helper()
			if err := wsjson.Write(ctx, conn, msg); err != nil {
				t.Fatalf("sending %s: %v", msg.Type, err)
			}
		}
		receive := func(wantType string) wsMessage {
			t.Helper()
			var msg wsMessage
			if err := wsjson.Read(ctx, conn, &msg); err != nil {
				t.Fatalf("waiting for %s: %v", wantType, err)
			}
			if msg.Type != wantType {
				t.Fatalf("got message %+v, want type %s", msg, wantType)
			}
			return msg
		}
		subscribe := json.RawMessage(`{"query": "subscription { itemAdded { name } }"}`)

		send(wsMessage{Type: "connection_init"})
		receive("connection_ack")
		if got := value(t, reg, "itemsapi_websocket_connections"); got != 1 {
			t.Errorf("itemsapi_websocket_connections with a connection open = %v, want 1", got)
		}
		if got := value(t, reg, "itemsapi_http_requests_in_flight"); got != 0 {
			t.Errorf("itemsapi_http_requests_in_flight with a websocket open = %v, want 0", got)
		}

		// Ended by the client's complete.
		send(wsMessage{ID: "1", Type: "subscribe", Payload: subscribe})
		waitFor(t, "one active subscription", gauge("itemsapi_subscriptions_active", 1))
		if _, err := st.AddItem(ctx, items.NewItem{Name: "Cherry"}); err != nil {
			t.Fatalf("AddItem: %v", err)
		}
		if got := receive("next"); !strings.Contains(string(got.Payload), "Cherry") {
			t.Errorf("next payload = %s, want Cherry", got.Payload)
		}
		send(wsMessage{ID: "1", Type: "complete"})
		waitFor(t, "no active subscription after complete", gauge("itemsapi_subscriptions_active", 0))

		// Ended by the connection closing.
		send(wsMessage{ID: "2", Type: "subscribe", Payload: subscribe})
		waitFor(t, "one active subscription", gauge("itemsapi_subscriptions_active", 1))
		conn.Close(websocket.StatusNormalClosure, "")
		if path := <-served; path != "/graphql" {
			t.Fatalf("served %q, want /graphql", path)
		}
		if got := value(t, reg, "itemsapi_websocket_connections"); got != 0 {
			t.Errorf("itemsapi_websocket_connections after the close = %v, want 0", got)
		}
		waitFor(t, "no active subscription after the close", gauge("itemsapi_subscriptions_active", 0))

		want := map[string]float64{"method=GET,path=/graphql,status=1xx": 1}
		checkSnapshot(t, reg, "itemsapi_http_requests_total", want)
		if got := snapshot(t, reg, "itemsapi_http_request_duration_seconds"); len(got) != 0 {
			t.Errorf("itemsapi_http_request_duration_seconds = %v, want no websocket timed", got)
		}
	})

	// Over POST the transport reads one response and the request ends: the
	// subscription ends with the request's context, not with a nil response.
	t.Run("POST", func(t *testing.T) {
		done := make(chan []string)
		go func() {
			done <- post(t, ts.URL+"/graphql", "", "subscription { itemAdded { name } }")
		}()
		waitFor(t, "one active subscription", gauge("itemsapi_subscriptions_active", 1))
		if _, err := st.AddItem(t.Context(), items.NewItem{Name: "Damson"}); err != nil {
			t.Fatalf("AddItem: %v", err)
		}
		if codes := <-done; len(codes) != 0 {
			t.Errorf("POST subscription: codes %v, want none", codes)
		}
		<-served
		waitFor(t, "no active subscription after the request", gauge("itemsapi_subscriptions_active", 0))
	})

	want := map[string]float64{"operation=anonymous,type=subscription": 3}
	checkSnapshot(t, reg, "itemsapi_graphql_requests_total", want)
	if got := snapshot(t, reg, "itemsapi_graphql_errors_total"); len(got) != 0 {
		t.Errorf("itemsapi_graphql_errors_total = %v, want none", got)
	}
}

func TestStoreErrors(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantErrors float64
	}{
		{"nil", nil, 0},
		{"not found", items.Errorf(items.NotFound, "no item"), 0},
		{"unauthenticated", items.Errorf(items.Unauthenticated, "unknown token"), 0},
		{"canceled", fmt.Errorf("query: %w", context.Canceled), 0},
		{"unavailable", items.Errorf(items.Unavailable, "busy"), 1},
		{"invalid", items.Errorf(items.Invalid, "limit"), 1},
		{"internal", errors.New("disk on fire"), 1},
		{"deadline", context.DeadlineExceeded, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg, m := newMetrics()
			// Item 1 is there: without a fault the call succeeds.
			faulty := &testserver.Faulty{Store: memory.New(), Err: tc.err}
			faulty.Fail.Store(tc.err != nil)
			s := m.Store(faulty)
			if _, err := s.Item(t.Context(), 1); err != tc.err {
				t.Errorf("Item(1) error = %v, want %v unchanged", err, tc.err)
			}
			if got := snapshot(t, reg, "itemsapi_store_errors_total")["method=Item"]; got != tc.wantErrors {
				t.Errorf("itemsapi_store_errors_total{method=Item} = %v, want %v", got, tc.wantErrors)
			}
			if got := snapshot(t, reg, "itemsapi_store_call_duration_seconds")["method=Item"]; got != 1 {
				t.Errorf("itemsapi_store_call_duration_seconds{method=Item} count = %v, want 1", got)
			}
		})
	}
}

func TestStoreMethods(t *testing.T) {
	reg, m := newMetrics()
	s := m.Store(memory.New())
	ctx := t.Context()
	it, err := s.Item(ctx, 1)
	if err != nil || it.Name != "Apple" {
		t.Errorf("Item(1) = %v, %v, want Apple", it, err)
	}
	_, hash := items.NewToken()
	u, err := s.AddToken(ctx, "alice", items.RoleUser, hash)
	if err != nil {
		t.Fatalf("AddToken: %v", err)
	}
	if _, err := s.Items(ctx, items.ItemQuery{Limit: 10}); err != nil {
		t.Errorf("Items: %v", err)
	}
	if _, err := s.CountItems(ctx, ""); err != nil {
		t.Errorf("CountItems: %v", err)
	}
	if _, err := s.AddItem(ctx, items.NewItem{Name: "Cherry", CreatedByID: u.ID}); err != nil {
		t.Errorf("AddItem: %v", err)
	}
	if _, err := s.Users(ctx, []int64{u.ID}); err != nil {
		t.Errorf("Users: %v", err)
	}
	if _, _, err := s.UserByToken(ctx, hash); err != nil {
		t.Errorf("UserByToken: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	want := map[string]float64{}
	for _, m := range []string{"Item", "Items", "CountItems", "AddItem", "Users", "UserByToken", "AddToken", "Ping", "Close"} {
		want["method="+m] = 1
	}
	checkSnapshot(t, reg, "itemsapi_store_call_duration_seconds", want)
	if got := snapshot(t, reg, "itemsapi_store_errors_total"); len(got) != 0 {
		t.Errorf("itemsapi_store_errors_total = %v, want none", got)
	}
}

func TestHandler(t *testing.T) {
	reg, m := newMetrics()
	r := chi.NewRouter()
	r.Use(m.Middleware)
	r.Method(http.MethodGet, "/metrics", m.Handler())
	ts := httptest.NewServer(r)
	t.Cleanup(ts.Close)

	get := func() (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL+"/metrics", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET /metrics: %v", err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET /metrics: %v", err)
		}
		return resp, string(b)
	}
	get() // so that the HTTP metrics have a series
	resp, body := get()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /metrics: status %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("GET /metrics: Content-Type %q, want text/plain", ct)
	}
	for _, name := range []string{
		"itemsapi_http_requests_in_flight", "itemsapi_http_requests_total",
		"itemsapi_http_request_duration_seconds_bucket", "itemsapi_websocket_connections",
		"itemsapi_graphql_errors_total", "itemsapi_subscriptions_active",
		"itemsapi_store_call_duration_seconds_bucket", "itemsapi_store_errors_total",
		"go_goroutines", "process_cpu_seconds_total", "promhttp_metric_handler_requests_total",
		`itemsapi_http_requests_total{method="GET",path="/metrics",status="2xx"} 1`,
	} {
		if !strings.Contains(body, name) {
			t.Errorf("GET /metrics: no %s in\n%s", name, body)
		}
	}

	// Lint our own metrics (names, units, help).
	var ours []string
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "itemsapi_") {
			ours = append(ours, f.GetName())
		}
	}
	problems, err := testutil.GatherAndLint(reg, ours...)
	if err != nil {
		t.Fatalf("GatherAndLint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
}

func TestNewWithoutRegistry(t *testing.T) {
	m := metrics.New(nil)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "go_goroutines") {
		t.Errorf("GET /metrics of New(nil): status %d, body without go_goroutines:\n%s", rec.Code, rec.Body)
	}
}
