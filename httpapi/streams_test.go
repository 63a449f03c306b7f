package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"itemsapi/httpapi"
	"itemsapi/internal/testserver"
	"itemsapi/metrics"
	"itemsapi/store/memory"
)

// streamServer is the real router over a memory store, with metrics, for
// the tests of streams.
type streamServer struct {
	*httptest.Server
	mem        *memory.Store
	adminToken string
}

func newStreamServer(t testing.TB, cfg httpapi.Config) *streamServer {
	t.Helper()
	ts, _ := newServer(t, cfg, func(ts *testServer, d *httpapi.Deps) {
		d.Store, d.Metrics = ts.mem, metrics.New(prometheus.NewRegistry())
	})
	return &streamServer{Server: ts.Server, mem: ts.mem, adminToken: ts.adminToken}
}

// request sends a request with a JSON body (none when empty) and headers,
// and returns the response, whose body the test reads.
// reserve reserves a graphql-sse stream (PUT) and returns its token.
func (ts *streamServer) reserve(t testing.TB) string {
	t.Helper()
	put := ts.request(t, http.MethodPut, "/graphql", "", nil)
	token, _ := io.ReadAll(put.Body)
	if put.StatusCode != http.StatusCreated || len(token) == 0 {
		t.Fatalf("PUT: %d %q, want 201 and a token", put.StatusCode, token)
	}
	return string(token)
}

// openReserved opens the stream that token reserved.
func (ts *streamServer) openReserved(t testing.TB, token string) *sseReader {
	t.Helper()
	return newSSEReader(t, ts.request(t, http.MethodGet, "/graphql?token="+token, "", map[string]string{"Accept": acceptSSE}))
}

func (ts *streamServer) request(t testing.TB, method, path, body string, header map[string]string) *http.Response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, ts.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// addItem adds an item as the admin and returns its ID.
func (ts *streamServer) addItem(t testing.TB, name string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": `mutation($n: String!) { addItem(input: {name: $n}) { id } }`, "variables": map[string]any{"n": name}})
	resp := ts.request(t, http.MethodPost, "/graphql", string(body), map[string]string{"Authorization": "Bearer " + ts.adminToken})
	var out struct {
		Data struct{ AddItem struct{ ID string } }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Data.AddItem.ID == "" {
		t.Fatalf("addItem(%q): %v %+v", name, err, out)
	}
	return out.Data.AddItem.ID
}

// metric returns the value of a metric without labels.
func (ts *streamServer) metric(t testing.TB, name string) float64 {
	t.Helper()
	return testserver.Metric(t, ts.Client(), ts.URL, name)
}

// waitMetric polls the metric until it equals want.
func (ts *streamServer) waitMetric(t testing.TB, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := ts.metric(t, name)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", name, got, want)
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// sseEvent is one event of an event stream.
type sseEvent struct {
	name string
	data string
}

// sseReader reads the events of an event stream, skipping comments.
type sseReader struct {
	t  testing.TB
	sc *bufio.Scanner
}

func newSSEReader(t testing.TB, resp *http.Response) *sseReader {
	t.Helper()
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); resp.StatusCode != http.StatusOK || mt != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d, Content-Type %q, want 200 text/event-stream\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return &sseReader{t: t, sc: bufio.NewScanner(resp.Body)}
}

// next returns the next event, or ok false at the end of the stream.
func (r *sseReader) next() (ev sseEvent, ok bool) {
	r.t.Helper()
	seen := false
	for r.sc.Scan() {
		line := r.sc.Text()
		switch {
		case line == "":
			if seen {
				return ev, true
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event:"):
			ev.name, seen = strings.TrimSpace(strings.TrimPrefix(line, "event:")), true
		case strings.HasPrefix(line, "data:"):
			ev.data, seen = strings.TrimSpace(strings.TrimPrefix(line, "data:")), true
		}
	}
	return ev, false
}

// must returns the next event, failing at the end of the stream.
func (r *sseReader) must() sseEvent {
	r.t.Helper()
	ev, ok := r.next()
	if !ok {
		r.t.Fatalf("the stream ended; want an event (%v)", r.sc.Err())
	}
	return ev
}

// multipartReader reads the parts of a multipart/mixed answer.
type multipartReader struct {
	t testing.TB
	r *multipart.Reader
}

func newMultipartReader(t testing.TB, resp *http.Response, wantSpec string) *multipartReader {
	t.Helper()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusOK || err != nil || mt != "multipart/mixed" || params[wantSpec] == "" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d, Content-Type %q, want 200 multipart/mixed with %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), wantSpec, b)
	}
	return &multipartReader{t: t, r: multipart.NewReader(resp.Body, params["boundary"])}
}

// next returns the body of the next part, or ok false after the closing
// delimiter; a body that ends without it fails with io.ErrUnexpectedEOF.
func (r *multipartReader) next() (body string, ok bool, err error) {
	p, err := r.r.NextPart()
	if err == io.EOF {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		r.t.Fatalf("part Content-Type %q, want application/json", ct)
	}
	b, err := io.ReadAll(p)
	return string(bytes.TrimSpace(b)), true, err
}

// must returns the next part that is not a heartbeat.
func (r *multipartReader) must() string {
	r.t.Helper()
	for {
		body, ok, err := r.next()
		if err != nil || !ok {
			r.t.Fatalf("no part: %v", err)
		}
		if body != "{}" {
			return body
		}
	}
}

// gqlBody builds a GraphQL request body.
func gqlBody(query string, extensions map[string]any) string {
	b, _ := json.Marshal(map[string]any{"query": query, "extensions": extensions})
	return string(b)
}

// getPath is /graphql?query=….
func getPath(query string) string { return "/graphql?query=" + url.QueryEscape(query) }

func TestStreamsEndAtShutdown(t *testing.T) {
	ts := newStreamServer(t, httpapi.DefaultConfig())
	events := newSSEReader(t, ts.request(t, http.MethodPost, "/graphql", gqlBody(itemAddedAfter2, nil), map[string]string{"Accept": acceptSSE}))
	parts := newMultipartReader(t, ts.request(t, http.MethodPost, "/graphql", gqlBody(itemAddedAfter2, nil), map[string]string{"Accept": apolloSubscriptionAccept}), "subscriptionspec")
	reserved := ts.openReserved(t, ts.reserve(t))
	ts.waitMetric(t, "itemsapi_subscriptions_active", 2)
	ts.addItem(t, "pear")

	// As the server's shutdown does: the http.Server stops, and the
	// broker ends its subscriptions once it has delivered what it
	// acknowledged.
	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shutdown <- ts.Config.Shutdown(ctx)
	}()
	ts.mem.Shutdown()

	if ev := events.must(); ev.name != "next" || !strings.Contains(ev.data, "pear") {
		t.Errorf("event stream: %+v, want pear", ev)
	}
	if ev, ok := events.next(); ok {
		t.Errorf("event stream: %+v after the shutdown, want its end", ev)
	}
	if body := parts.must(); !strings.Contains(body, "pear") {
		t.Errorf("multipart: %s, want pear", body)
	}
	if body, ok, err := parts.next(); ok || err == nil {
		t.Errorf("multipart: %q, %v after the shutdown, want it cut short", body, err)
	}
	if ev, ok := reserved.next(); ok {
		t.Errorf("reserved stream: %+v, want its end", ev)
	}
	if err := <-shutdown; err != nil {
		t.Errorf("Shutdown = %v, want every stream ended in time", err)
	}
}

func TestStreamsGiveBackBytesInFlight(t *testing.T) {
	// A stream holds no reckoned parsing memory once its operation runs:
	// streams open for hours must not starve requests of the budget.
	cfg := httpapi.DefaultConfig()
	cfg.MaxInflightBytes = 12_000 // about one small operation's reckoning
	cfg.MaxSharePerAddress = 0    // the server's budget, from one address
	ts := newStreamServer(t, cfg)
	for i := range 4 {
		resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(itemAddedAfter2, nil), map[string]string{"Accept": acceptSSE})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: %d, want 200", i, resp.StatusCode)
		}
		newSSEReader(t, resp)
	}
	ts.waitMetric(t, "itemsapi_subscriptions_active", 4)
	if resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(`{ item(id: "1") { name } }`, nil), nil); resp.StatusCode != http.StatusOK {
		t.Errorf("a query beside the streams: %d, want 200", resp.StatusCode)
	}
}
