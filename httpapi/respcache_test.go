package httpapi_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"itemsapi/httpapi"
	"itemsapi/internal/testserver"
)

// newCountingServer is newTestServer, whose reads of the store are
// counted in ts.counts.
func newCountingServer(t *testing.T) (*testServer, *testserver.Counting) {
	t.Helper()
	ts := newTestServer(t)
	return ts, ts.counts
}

func TestResponseCacheServesRepeatsUntilAWrite(t *testing.T) {
	ts, cs := newCountingServer(t)
	const q = `{ items(first: 5) { totalCount nodes { id name } } }`
	first := ts.post(t, "", q, nil)
	reads := cs.Reads()
	for range 5 {
		again := ts.post(t, "", q, nil)
		if string(again.Data) != string(first.Data) {
			t.Fatalf("a repeat answered %s, then %s", first.Data, again.Data)
		}
	}
	if got := cs.Reads(); got != reads {
		t.Errorf("5 repeats read the store %d times, want 0: they come from the cache", got-reads)
	}

	// A write makes the next answer fresh.
	ts.post(t, ts.userToken, `mutation { addItem(input: {name: "fresh"}) { id } }`, nil).decode(t, &struct{}{})
	var after struct{ Items struct{ TotalCount int } }
	ts.post(t, "", q, nil).decode(t, &after)
	var before struct{ Items struct{ TotalCount int } }
	first.decode(t, &before)
	if after.Items.TotalCount != before.Items.TotalCount+1 {
		t.Errorf("totalCount after a write = %d, want %d", after.Items.TotalCount, before.Items.TotalCount+1)
	}
	if cs.Reads() == reads {
		t.Error("the answer after a write came from the cache")
	}
}

func TestResponseCacheKeepsOnlyCallerIndependentAnswers(t *testing.T) {
	ts, cs := newCountingServer(t)
	ts.post(t, ts.userToken, `mutation { addItem(input: {name: "mine"}) { id } }`, nil).decode(t, &struct{}{})
	tests := []struct {
		name, token, query string
	}{
		{"createdBy", "", `{ items { nodes { createdBy { name role } } } }`},
		{"createdBy in a fragment", "", `{ items { nodes { ...F } } } fragment F on Item { createdBy { name } }`},
		{"me", ts.userToken, `{ me { name } items { totalCount } }`},
		{"an error", "", `{ items(first: 1000) { totalCount } }`},
		{"null with an error", "", `{ item(id: "x") { name } }`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts.post(t, tt.token, tt.query, nil)
			reads := cs.Reads()
			ts.post(t, tt.token, tt.query, nil)
			if cs.Reads() == reads && !strings.Contains(tt.name, "error") {
				t.Errorf("the repeat came from the cache")
			}
		})
	}
	// me for one caller is never the answer for another.
	var alice, root struct{ Me struct{ Name string } }
	ts.post(t, ts.userToken, `{ me { name } }`, nil).decode(t, &alice)
	ts.post(t, ts.adminToken, `{ me { name } }`, nil).decode(t, &root)
	if alice.Me.Name != "alice" || root.Me.Name != "root" {
		t.Errorf("me = %q then %q, want alice then root", alice.Me.Name, root.Me.Name)
	}
}

func TestResponseCacheKeysOnAccept(t *testing.T) {
	ts, _ := newCountingServer(t)
	body := `{"query":"{ item(id: \"1\") { name } }"}`
	for range 2 {
		for _, accept := range []string{"application/json", "application/graphql-response+json"} {
			resp, got := send(t, http.MethodPost, ts.URL+"/graphql", body, map[string]string{"Content-Type": "application/json", "Accept": accept})
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, accept) || !strings.Contains(got, "Apple") {
				t.Errorf("Accept %s: Content-Type %s, body %s", accept, ct, got)
			}
		}
	}
}

// TestResponseCacheExactUnderWrites: a read that starts after an addItem
// was answered sees that item, while the cache serves the reads between
// writes.
func TestResponseCacheExactUnderWrites(t *testing.T) {
	ts, _ := newCountingServer(t)
	var acked atomic.Int64 // items added and answered
	base := int64(2)       // the demo items
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := range 40 {
				ts.post(t, ts.userToken, `mutation($n: String!) { addItem(input: {name: $n}) { id } }`,
					map[string]any{"n": fmt.Sprintf("w%d-%d", w, i)}).decode(t, &struct{}{})
				acked.Add(1)
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for range 150 {
				min := base + acked.Load()
				var got struct{ Items struct{ TotalCount int64 } }
				ts.post(t, "", `{ items(first: 1) { totalCount } }`, nil).decode(t, &got)
				if got.Items.TotalCount < min {
					t.Errorf("totalCount %d after %d items were acknowledged: a stale answer", got.Items.TotalCount, min)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestResponseCacheOff(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.ResponseCacheBytes = 0
	ts := newTestServerWith(t, cfg)
	cs := ts.counts
	ts.post(t, "", `{ items { totalCount } }`, nil)
	reads := cs.Reads()
	ts.post(t, "", `{ items { totalCount } }`, nil)
	if cs.Reads() == reads {
		t.Error("with the cache off, a repeat did not reach the store")
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestResponseCacheKeysOnlyWhatTheTransportTakes: a request the transport
// refuses is refused alike whether its body is in the cache or not, and
// one it takes is answered alike.
func TestResponseCacheKeysOnlyWhatTheTransportTakes(t *testing.T) {
	ts, _ := newCountingServer(t)
	body := `{"query":"{ item(id: \"1\") { name } }"}`
	tests := []struct {
		contentType string
		want        int
	}{
		{"application/json; charset=latin1", http.StatusUnsupportedMediaType},
		{"application/json; charset=iso-8859-1", http.StatusUnsupportedMediaType},
		{"application/json;charset=", http.StatusUnsupportedMediaType},
		{"text/plain", http.StatusUnsupportedMediaType},
		{"application/json; charset=UTF-8", http.StatusOK},
		{"application/json", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.contentType, func(t *testing.T) {
			for _, when := range []string{"cold", "warm", "warm again"} {
				if when != "cold" {
					// The same body, sent as the transport takes it,
					// is in the cache now.
					send(t, http.MethodPost, ts.URL+"/graphql", body, map[string]string{"Content-Type": "application/json"})
				}
				resp, got := send(t, http.MethodPost, ts.URL+"/graphql", body, map[string]string{"Content-Type": tt.contentType})
				if resp.StatusCode != tt.want {
					t.Errorf("%s: status %d, want %d\n%s", when, resp.StatusCode, tt.want, got)
				}
			}
		})
	}
}
