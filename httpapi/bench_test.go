package httpapi_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"itemsapi/bench/workload"
	"itemsapi/httpapi"
	"itemsapi/items"
	"itemsapi/metrics"
	"itemsapi/store/memory"
)

// BenchmarkHandler serves the requests of bench/run's load scenarios
// (package workload: the same bodies, over the same 10,000 generated
// items) through the whole handler, in process: router, middleware,
// metrics, request logging (formatted, then discarded), GraphQL parsing,
// validation, limits, execution and JSON encoding. The store is the memory
// store, so that the numbers are those of the HTTP and GraphQL layers; the
// store calls have their own benchmarks (bench/store_test.go).
//
// Compare a change with main:
//
//	go test -run XXX -bench BenchmarkHandler -benchmem -count 10 ./httpapi/ > new.txt
//	benchstat old.txt new.txt
//
// Each scenario runs on one goroutine (serial) and on GOMAXPROCS
// goroutines (parallel), the second showing what contention costs; and
// with the response cache (respcache) and without (nocache), as on
// PostgreSQL and on varied traffic, where the cache does not answer.
func BenchmarkHandler(b *testing.B) {
	e := workload.NewExpect(workload.SmallItems, workload.CommonQuery)
	scenarios := []workload.Scenario{e.List(), e.Get(), e.Search(workload.NameSearch, workload.CommonQuery), e.Deep(), e.Add("bench", 10_000)}
	for _, mode := range []string{"serial", "parallel", "nocache"} {
		b.Run(mode, func(b *testing.B) {
			for _, s := range scenarios {
				b.Run(s.Name, func(b *testing.B) {
					// A store of its own: add grows it, and deep counts it.
					cfg := httpapi.DefaultConfig()
					if mode == "nocache" {
						cfg.ResponseCacheBytes = 0
					}
					h, token := newBenchHandler(b, cfg)
					if !s.Auth {
						token = ""
					}
					checkFirst(b, h, s, token)
					b.ReportAllocs()
					if mode != "parallel" {
						w, req := newBenchWriter(), newBenchRequest("", token)
						i := 0
						for b.Loop() {
							if status := serveBench(h, w, req, s.Bodies[i%len(s.Bodies)]); status != http.StatusOK {
								b.Fatalf("status %d", status)
							}
							i++
						}
						return
					}
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						w, req := newBenchWriter(), newBenchRequest("", token)
						i := 0
						for pb.Next() {
							// Not b.Fatal: this is not the benchmark's goroutine.
							if status := serveBench(h, w, req, s.Bodies[i%len(s.Bodies)]); status != http.StatusOK {
								b.Errorf("status %d", status)
								return
							}
							i++
						}
					})
				})
			}
		})
	}
}

// newBenchHandler returns the handler of cfg as server.go builds it,
// with metrics, over a memory store holding the small dataset, and an
// admin token.
func newBenchHandler(b *testing.B, cfg httpapi.Config) (http.Handler, string) {
	b.Helper()
	mem := memory.New()
	b.Cleanup(func() { mem.Close() })
	ctx := b.Context()
	for n := range workload.Generate(workload.SmallItems) {
		if _, err := mem.AddItem(ctx, n); err != nil {
			b.Fatal(err)
		}
	}
	token := addToken(b, mem, "admin", items.RoleAdmin)
	m := metrics.New(prometheus.NewRegistry())
	deps := httpapi.Deps{
		Store:   m.Store(mem),
		Broker:  mem,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics: m,
	}
	return httpapi.NewHandler(cfg, deps), token
}

// checkFirst serves each body of s once, or the first 100, and checks the
// answers: a benchmark of wrong answers measures nothing.
func checkFirst(b *testing.B, h http.Handler, s workload.Scenario, token string) {
	b.Helper()
	w := newBenchWriter()
	w.keep = true
	for i, body := range s.Bodies[:min(len(s.Bodies), 100)] {
		w.reset()
		h.ServeHTTP(w, &newBenchRequest(body, token).req)
		if w.status != http.StatusOK {
			b.Fatalf("%s: status %d: %s", s.Name, w.status, w.body)
		}
		if err := s.Check(i, w.body); err != nil {
			b.Fatalf("%s: request %d: %v", s.Name, i, err)
		}
	}
}

// serveBench serves one request with body and returns its status. The
// request is reused, as net/http's server reuses its buffers: no handler
// keeps one, or changes it (they change copies, made by WithContext).
func serveBench(h http.Handler, w *benchWriter, r *benchRequest, body string) int {
	w.reset()
	r.body.Reset(body)
	r.req.ContentLength = int64(len(body))
	h.ServeHTTP(w, &r.req)
	return w.status
}

// benchRequest is a request to serve again and again, with new bodies.
type benchRequest struct {
	req  http.Request
	body strings.Reader
}

var graphqlURL = &url.URL{Path: "/graphql"}

// newBenchRequest builds a POST /graphql as net/http would hand it to the
// handler, with less work than httptest.NewRequest, which parses a whole
// request: the benchmark measures the handler, not its harness.
func newBenchRequest(body, token string) *benchRequest {
	h := http.Header{"Content-Type": {"application/json"}}
	if token != "" {
		h["Authorization"] = []string{"Bearer " + token}
	}
	r := &benchRequest{}
	r.body.Reset(body)
	r.req = http.Request{
		Method:        http.MethodPost,
		URL:           graphqlURL, // read-only for every handler on the way
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(&r.body),
		ContentLength: int64(len(body)),
		Host:          "bench.test",
		RemoteAddr:    "192.0.2.1:1234",
		RequestURI:    "/graphql",
	}
	return r
}

// benchWriter is a ResponseWriter that keeps the status and, when asked,
// the body: a recorder that costs almost nothing, reused between requests.
type benchWriter struct {
	header http.Header
	status int
	keep   bool
	body   []byte
}

func newBenchWriter() *benchWriter { return &benchWriter{header: make(http.Header)} }

func (w *benchWriter) reset() {
	clear(w.header)
	w.status = 0
	w.body = w.body[:0]
}

func (w *benchWriter) Header() http.Header { return w.header }

// SetReadDeadline and SetWriteDeadline do what net/http's writer does for
// the handler: nothing it sees.
func (w *benchWriter) SetReadDeadline(time.Time) error  { return nil }
func (w *benchWriter) SetWriteDeadline(time.Time) error { return nil }

func (w *benchWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *benchWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.keep {
		w.body = append(w.body, p...)
	}
	return len(p), nil
}
