package tracing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"itemsapi/auth"
	"itemsapi/graph"
	"itemsapi/internal/testserver"
	"itemsapi/items"
	"itemsapi/store/memory"
	"itemsapi/tracing"
)

const (
	traceID      = "4bf92f3577b34da6a3ce929d0e0e4736"
	remoteSpanID = "00f067aa0ba902b7"
	traceparent  = "00-" + traceID + "-" + remoteSpanID + "-01"
)

// failingStore fails to list items with an error that is nobody's fault
// but the server's.
type failingStore struct{ items.Store }

func (failingStore) Items(context.Context, items.ItemQuery) ([]items.Item, error) {
	return nil, errors.New("disk on fire")
}

// env is the project's GraphQL handler, traced into a span recorder.
type env struct {
	t       *testing.T
	h       http.Handler
	spans   *tracetest.SpanRecorder
	adminTk string
}

func newEnv(t *testing.T, store items.Store) *env {
	t.Helper()
	mem := memory.New()
	t.Cleanup(func() { _ = mem.Close() })
	if store == nil {
		store = mem
	}
	admin, hash := items.NewToken()
	if _, err := mem.AddToken(t.Context(), "root", items.RoleAdmin, hash); err != nil {
		t.Fatal(err)
	}

	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr := tracing.New(tp, nil)

	log := slog.New(slog.DiscardHandler)
	srv := handler.New(graph.NewSchema(&graph.Resolver{Store: store, Broker: mem}))
	srv.AddTransport(transport.POST{})
	srv.SetErrorPresenter(graph.ErrorPresenter(log))
	srv.Use(tr.Extension())

	r := chi.NewRouter()
	r.Use(tr.Middleware)
	r.With(auth.Middleware(auth.NewTokens(mem, auth.Options{}))).Handle("/graphql", srv)
	return &env{t: t, h: r, spans: spans, adminTk: admin}
}

// post sends a GraphQL request with the admin's token and a traceparent,
// and returns the response body.
func (e *env) post(query, operationName string) string {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "operationName": operationName})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.adminTk)
	req.Header.Set("traceparent", traceparent)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec.Body.String()
}

// byName returns the ended spans with that name.
func (e *env) byName(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range e.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// one returns the only ended span with that name.
func (e *env) one(name string) sdktrace.ReadOnlySpan {
	e.t.Helper()
	s := e.byName(name)
	if len(s) != 1 {
		e.t.Fatalf("%d spans named %q, want 1; spans: %v", len(s), name, e.names())
	}
	return s[0]
}

func (e *env) names() []string {
	var out []string
	for _, s := range e.spans.Ended() {
		out = append(out, s.Name())
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) (string, bool) {
	for _, a := range s.Attributes() {
		if a.Key == key {
			return a.Value.Emit(), true
		}
	}
	return "", false
}

func wantAttr(t *testing.T, s sdktrace.ReadOnlySpan, key attribute.Key, want string) {
	t.Helper()
	if got, ok := attr(s, key); !ok || got != want {
		t.Errorf("span %q: %s = %q (present %v), want %q", s.Name(), key, got, ok, want)
	}
}

// eventCodes returns the codes of the graphql.error events of s.
func eventCodes(s sdktrace.ReadOnlySpan) []string {
	var codes []string
	for _, ev := range s.Events() {
		if ev.Name != "graphql.error" {
			continue
		}
		for _, a := range ev.Attributes {
			if a.Key == "graphql.error.code" {
				codes = append(codes, a.Value.AsString())
			}
		}
	}
	return codes
}

// assertNoLeak fails if a span name, attribute or event of any recorded
// span holds one of secrets.
func (e *env) assertNoLeak(secrets ...string) {
	e.t.Helper()
	for _, s := range e.spans.Ended() {
		values := []string{s.Name()}
		for _, a := range s.Attributes() {
			values = append(values, a.Value.Emit())
		}
		for _, ev := range s.Events() {
			values = append(values, ev.Name)
			for _, a := range ev.Attributes {
				values = append(values, a.Value.Emit())
			}
		}
		for _, v := range values {
			for _, secret := range secrets {
				if secret != "" && strings.Contains(v, secret) {
					e.t.Errorf("span %q records %q, which holds %q", s.Name(), v, secret)
				}
			}
		}
	}
}

func TestOperationSpans(t *testing.T) {
	e := newEnv(t, nil)
	const query = `query ListItems { items(first: 2) { nodes { id name createdBy { name } } totalCount } me { name } }`
	if body := e.post(query, "ListItems"); strings.Contains(body, `"errors"`) {
		t.Fatalf("response: %s", body)
	}

	httpSpan := e.one("POST /graphql")
	if httpSpan.SpanKind() != trace.SpanKindServer {
		t.Errorf("HTTP span kind %v, want server", httpSpan.SpanKind())
	}
	if got := httpSpan.SpanContext().TraceID().String(); got != traceID {
		t.Errorf("HTTP span trace ID %s, want %s from traceparent", got, traceID)
	}
	if got := httpSpan.Parent().SpanID().String(); got != remoteSpanID || !httpSpan.Parent().IsRemote() {
		t.Errorf("HTTP span parent %s (remote %v), want remote %s", got, httpSpan.Parent().IsRemote(), remoteSpanID)
	}
	wantAttr(t, httpSpan, "http.route", "/graphql")

	op := e.one("query ListItems")
	if op.Parent().SpanID() != httpSpan.SpanContext().SpanID() {
		t.Errorf("operation span's parent is %s, want the HTTP span %s", op.Parent().SpanID(), httpSpan.SpanContext().SpanID())
	}
	if got := op.SpanContext().TraceID().String(); got != traceID {
		t.Errorf("operation span trace ID %s, want %s", got, traceID)
	}
	wantAttr(t, op, "graphql.operation.type", "query")
	wantAttr(t, op, "graphql.operation.name", "ListItems")
	if _, ok := attr(op, "graphql.document"); ok {
		t.Error("the operation span records the document")
	}
	if op.Status().Code != codes.Unset || len(op.Events()) != 0 {
		t.Errorf("operation span status %v, events %v; want unset and none", op.Status(), op.Events())
	}

	for _, name := range []string{"Query.items", "Query.me"} {
		f := e.one(name)
		if f.Parent().SpanID() != op.SpanContext().SpanID() {
			t.Errorf("%s is not a child of the operation span", name)
		}
	}
	wantAttr(t, e.one("Query.items"), "graphql.field.path", "items")
	createdBy := e.byName("Item.createdBy")
	if len(createdBy) != 2 {
		t.Errorf("%d Item.createdBy spans, want one per item (2)", len(createdBy))
	}
	for _, s := range createdBy {
		if p, _ := attr(s, "graphql.field.path"); !strings.HasPrefix(p, "items.nodes[") || !strings.HasSuffix(p, "].createdBy") {
			t.Errorf("Item.createdBy path %q", p)
		}
	}
	// Fields without a resolver of their own have no span.
	resolvers := map[string]bool{"POST /graphql": true, "query ListItems": true,
		"Query.items": true, "Query.me": true, "Item.createdBy": true}
	for _, name := range e.names() {
		if !resolvers[name] {
			t.Errorf("unexpected span %q", name)
		}
	}

	e.assertNoLeak(query, e.adminTk, "Bearer")
}

func TestTokenNotTraced(t *testing.T) {
	e := newEnv(t, nil)
	const mutation = `mutation { createToken(user: "alice", role: USER) }`
	var resp struct {
		Data struct{ CreateToken string }
	}
	if err := json.Unmarshal([]byte(e.post(mutation, "")), &resp); err != nil || resp.Data.CreateToken == "" {
		t.Fatalf("no token in the response (%v)", err)
	}
	op := e.one("mutation") // anonymous
	wantAttr(t, op, "graphql.operation.type", "mutation")
	if _, ok := attr(op, "graphql.operation.name"); ok {
		t.Error("an anonymous operation has a graphql.operation.name")
	}
	e.one("Mutation.createToken")
	e.assertNoLeak(mutation, "alice", e.adminTk, resp.Data.CreateToken)
}

func TestErrors(t *testing.T) {
	t.Run("client error", func(t *testing.T) {
		e := newEnv(t, nil)
		e.post(`query Big { items(first: 1000) { totalCount } }`, "Big")
		op := e.one("query Big")
		if got := eventCodes(op); len(got) != 1 || got[0] != "BAD_USER_INPUT" {
			t.Errorf("error codes %v, want [BAD_USER_INPUT]", got)
		}
		for _, a := range op.Events()[0].Attributes {
			if a.Key == "graphql.error.path" && a.Value.AsString() != "items" {
				t.Errorf("error path %q, want items", a.Value.AsString())
			}
		}
		if op.Status().Code != codes.Unset {
			t.Errorf("status %v for a client error, want unset", op.Status())
		}
		e.one("Query.items")
		e.assertNoLeak("1000", "must be between") // neither the document nor the message
	})

	t.Run("validation error", func(t *testing.T) {
		e := newEnv(t, nil)
		e.post(`query Bad { nope }`, "Bad")
		op := e.one("GraphQL Operation") // no operation was chosen: the client's name is not used
		if got := eventCodes(op); len(got) != 1 || got[0] != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("error codes %v, want [GRAPHQL_VALIDATION_FAILED]", got)
		}
		if op.Status().Code != codes.Unset {
			t.Errorf("status %v for a client error, want unset", op.Status())
		}
		if op.Parent().SpanID() != e.one("POST /graphql").SpanContext().SpanID() {
			t.Error("the span of a failed request is not a child of the HTTP span")
		}
		e.assertNoLeak("nope")
	})

	t.Run("server error", func(t *testing.T) {
		mem := memory.New()
		t.Cleanup(func() { _ = mem.Close() })
		e := newEnv(t, failingStore{mem})
		e.post(`{ items { totalCount } }`, "")
		op := e.one("query")
		if got := eventCodes(op); len(got) != 1 || got[0] != "INTERNAL_SERVER_ERROR" {
			t.Errorf("error codes %v, want [INTERNAL_SERVER_ERROR]", got)
		}
		if op.Status().Code != codes.Error {
			t.Errorf("status %v for a server error, want error", op.Status())
		}
		e.assertNoLeak("disk on fire")
	})
}

func TestMiddlewareAroundRouter(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	tr := tracing.New(tp, propagation.TraceContext{})

	r := chi.NewRouter()
	r.Get("/items/{id}", func(w http.ResponseWriter, _ *http.Request) {})
	r.Get("/ws", func(w http.ResponseWriter, _ *http.Request) {
		// A websocket upgrade needs the connection: Middleware must let
		// the handler hijack it.
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		_ = conn.Close()
	})
	srv := httptest.NewServer(tr.Middleware(r))
	for _, path := range []string{"/items/7?token=secret", "/nowhere", "/ws"} {
		resp, err := http.Get(srv.URL + path)
		if err == nil {
			_ = resp.Body.Close()
		}
	}
	srv.Close() // waits for the handlers, but not for those that hijacked
	want := []string{"GET /items/{id}", "GET", "GET /ws"}
	got := map[string]bool{}
	testserver.Eventually(5*time.Second, func() bool {
		names := map[string]bool{}
		for _, s := range spans.Ended() {
			names[s.Name()] = true
		}
		return len(names) >= len(want)
	})
	for _, s := range spans.Ended() {
		got[s.Name()] = true
		for _, a := range s.Attributes() {
			if strings.Contains(a.Value.Emit(), "secret") {
				t.Errorf("span %q records the query string: %s=%s", s.Name(), a.Key, a.Value.Emit())
			}
		}
	}
	for _, name := range want {
		if !got[name] {
			t.Errorf("no span %q; spans %v", name, got)
		}
	}
}

// collector accepts OTLP/HTTP exports and keeps their bodies.
type collector struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.bodies = append(c.bodies, body)
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

func (c *collector) exports() (n int, all []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.bodies), bytes.Join(c.bodies, nil)
}

// setupEnv points Setup at a new collector, with no other OTEL_* setting
// of the environment in the way.
func setupEnv(t *testing.T) *collector {
	c := &collector{}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	for _, k := range []string{"OTEL_TRACES_EXPORTER", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
		"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS"} {
		t.Setenv(k, "")
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	return c
}

// traceOne sets tracing up from the environment, traces one request and
// shuts tracing down.
func traceOne(t *testing.T) {
	t.Helper()
	tr, err := tracing.Setup(t.Context(), os.Getenv, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	h := tr.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/healthz", nil))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func TestSetup(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		c := setupEnv(t)
		traceOne(t)
		n, body := c.exports()
		if n == 0 {
			t.Fatal("no export reached the collector")
		}
		if !bytes.Contains(body, []byte(tracing.DefaultServiceName)) {
			t.Errorf("the export does not name the service %q", tracing.DefaultServiceName)
		}
	})

	t.Run("OTEL_SERVICE_NAME", func(t *testing.T) {
		c := setupEnv(t)
		t.Setenv("OTEL_SERVICE_NAME", "itemsapi-eu-west")
		traceOne(t)
		if _, body := c.exports(); !bytes.Contains(body, []byte("itemsapi-eu-west")) {
			t.Error("the export does not name the service of OTEL_SERVICE_NAME")
		}
	})

	t.Run("OTEL_TRACES_SAMPLER", func(t *testing.T) {
		c := setupEnv(t)
		t.Setenv("OTEL_TRACES_SAMPLER", "always_off")
		traceOne(t)
		if n, _ := c.exports(); n != 0 {
			t.Errorf("%d exports with OTEL_TRACES_SAMPLER=always_off, want 0", n)
		}
	})

	for k, v := range map[string]string{
		"OTEL_TRACES_EXPORTER":        "zipkin",
		"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
	} {
		t.Run(k+"="+v, func(t *testing.T) {
			setupEnv(t)
			// Through the getenv given, not the process's environment.
			getenv := func(name string) string {
				if name == k {
					return v
				}
				return os.Getenv(name)
			}
			if _, err := tracing.Setup(t.Context(), getenv, slog.New(slog.DiscardHandler)); err == nil {
				t.Errorf("Setup accepts %s=%s", k, v)
			}
		})
	}
}
