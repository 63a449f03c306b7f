package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"itemsapi/httpapi"
	"itemsapi/internal/testserver"
)

// TestInflightBytesBounded holds most of a small budget of bytes in flight
// with a body that stalls, and checks that a request whose body, then one
// whose document, needs more than is left waits and is answered 503 with
// Retry-After, and that both are answered once the first is done.
func TestInflightBytesBounded(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.MaxInflightBytes = 1 << 20
	cfg.MaxSharePerAddress = 1 // the budget's own bound, not an address's share (shares_test.go)
	cfg.ResponseCacheBytes = 0
	ts, h := newServer(t, cfg, nil)
	padded := func(size int) string { // a request body of size bytes
		const head, tail = `{"query":"{ __typename }"`, `}`
		return head + strings.Repeat(" ", size-len(head)-len(tail)) + tail
	}

	// 300 KB declared, reserved at three times that, 900 KB of 1 MiB.
	const stalledSize = 300 << 10
	stalled := padded(stalledSize)
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/graphql", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = stalledSize
	req.Header.Set("Content-Type", "application/json")
	done := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	// Once the server has the request's headers, it holds its
	// reservation.
	if _, err := pw.Write([]byte(stalled[:100])); err != nil {
		t.Fatal(err)
	}
	if !testserver.Eventually(10*time.Second, func() bool { return httpapi.InflightBytes(h) == 3*stalledSize }) {
		t.Fatalf("the stalled request holds %d bytes, want %d", httpapi.InflightBytes(h), 3*stalledSize)
	}

	big := padded(100 << 10)                                // 300 KB to reserve: more than is left
	dense := "{" + repeated(300, " a%d: __typename") + " }" // 900 tokens, 450 KB to parse
	denseBody, _ := json.Marshal(map[string]string{"query": dense})

	for _, tt := range []struct{ name, body string }{
		{"a body of 100 KB", big},
		{"a document of 900 tokens", string(denseBody)},
	} {
		resp, got := send(t, http.MethodPost, ts.URL+"/graphql", tt.body, map[string]string{"Content-Type": "application/json"})
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
			!strings.Contains(got, `"code":"BAD_REQUEST"`) {
			t.Errorf("%s while the budget is held: %d, Retry-After %q, %s; want 503 with Retry-After",
				tt.name, resp.StatusCode, resp.Header.Get("Retry-After"), got)
		}
	}

	// A batch whose first operation fits and whose second does not:
	// every operation of a batch is prepared before any runs (a
	// subscription in it must be refused before anything executes), so
	// nothing ran, and the whole batch is a 503 the client may resend.
	batch := `[{"query":"{ __typename }"},` + string(denseBody) + `]`
	resp, got := send(t, http.MethodPost, ts.URL+"/graphql", batch, map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a batch refused memory at its second operation: %d %s; want 503 with Retry-After", resp.StatusCode, got)
	}

	if _, err := pw.Write([]byte(stalled[100:])); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if status := <-done; status != http.StatusOK {
		t.Fatalf("the stalled request: %d, want 200", status)
	}
	for _, body := range []string{big, string(denseBody)} {
		resp, got := send(t, http.MethodPost, ts.URL+"/graphql", body, map[string]string{"Content-Type": "application/json"})
		if resp.StatusCode != http.StatusOK || !strings.Contains(got, `"data"`) {
			t.Errorf("once the budget is free: %d %s, want 200 with data", resp.StatusCode, got)
		}
	}
}
