package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"itemsapi/httpapi"
)

// TestInflightBytesBounded holds most of a small budget of bytes in flight
// with a body that stalls, and checks that a request whose body, then one
// whose document, needs more than is left waits and is answered 503 with
// Retry-After, and that both are answered once the first is done.
func TestInflightBytesBounded(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.MaxInflightBytes = 1 << 20
	cfg.ResponseCacheBytes = 0
	ts := newTestServerWith(t, cfg)
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
	// Once the server reads the first bytes, it holds its reservation.
	if _, err := pw.Write([]byte(stalled[:100])); err != nil {
		t.Fatal(err)
	}

	big := padded(100 << 10) // 300 KB to reserve: more than is left
	var dense strings.Builder
	dense.WriteString("{")
	for i := range 300 { // 900 tokens, 450 KB to parse
		fmt.Fprintf(&dense, " a%d: __typename", i)
	}
	dense.WriteString(" }")
	denseBody, _ := json.Marshal(map[string]string{"query": dense.String()})

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
	// the first may have run, so no 503, but an error for the second.
	batch := `[{"query":"{ __typename }"},` + string(denseBody) + `]`
	resp, got := send(t, http.MethodPost, ts.URL+"/graphql", batch, map[string]string{"Content-Type": "application/json"})
	var results []struct {
		Data   json.RawMessage
		Errors []struct{ Extensions struct{ Code string } }
	}
	if err := json.Unmarshal([]byte(got), &results); err != nil || resp.StatusCode != http.StatusOK || len(results) != 2 ||
		results[0].Data == nil || len(results[1].Errors) == 0 || results[1].Errors[0].Extensions.Code != "INTERNAL_SERVER_ERROR" {
		t.Errorf("a batch refused memory at its second operation: %d %s; want 200, data, then an error", resp.StatusCode, got)
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
