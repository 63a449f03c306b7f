package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"itemsapi/httpapi"
	"itemsapi/internal/testserver"
	"itemsapi/items"
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

// lateStore is a store whose AddItem returns late: it hands the item it
// added to added, then waits for release. The item is published to
// subscribers meanwhile, as when the goroutine of the call waits for a
// CPU.
type lateStore struct {
	items.Store
	added   chan items.Item
	release chan struct{}
}

func (s *lateStore) AddItem(ctx context.Context, n items.NewItem) (items.Item, error) {
	it, err := s.Store.AddItem(ctx, n)
	if err == nil {
		s.added <- it
		<-s.release
	}
	return it, err
}

// TestResponseCacheFreshForSubscribers: a subscriber that queries as soon
// as itemAdded brings it an item sees the item, even before the call that
// added it has returned, while other clients keep the query's answer in
// the cache between writes.
func TestResponseCacheFreshForSubscribers(t *testing.T) {
	late := &lateStore{added: make(chan items.Item), release: make(chan struct{})}
	ts, _ := newServer(t, httpapi.DefaultConfig(), func(_ *testServer, deps *httpapi.Deps) {
		late.Store = deps.Store
		deps.Store = late
	})
	sub, err := ts.mem.Subscribe(t.Context(), items.FromNow)
	if err != nil {
		t.Fatal(err)
	}
	const query = `{ items(last: 1) { nodes { id } } }`
	lastID := func() (string, error) {
		resp, err := ts.Client().Post(ts.URL+"/graphql", "application/json", strings.NewReader(`{"query":"`+query+`"}`))
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		var got struct {
			Data struct {
				Items struct{ Nodes []struct{ ID string } }
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || len(got.Data.Items.Nodes) != 1 {
			return "", fmt.Errorf("%s answered %+v, %v", query, got, err)
		}
		return got.Data.Items.Nodes[0].ID, nil
	}

	var stop atomic.Bool
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for !stop.Load() {
				if _, err := lastID(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	defer func() { stop.Store(true); readers.Wait() }()

	const rounds = 1000
	for i := range rounds {
		done := make(chan struct{})
		go func() {
			defer close(done)
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/graphql",
				strings.NewReader(fmt.Sprintf(`{"query":"mutation { addItem(input: {name: \"late %d\"}) { id } }"}`, i)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+ts.userToken)
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		}()
		var it items.Item
		select {
		case it = <-late.added:
		case <-done:
			t.Fatalf("round %d: addItem returned without adding an item", i)
		}
		if got := <-sub.C; got.ID != it.ID {
			t.Fatalf("round %d: itemAdded brought item %d, want %d", i, got.ID, it.ID)
		}
		got, err := lastID()
		late.release <- struct{}{}
		<-done
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprint(it.ID); got != want {
			t.Fatalf("round %d: once itemAdded brought item %s, the last item is %s: an answer from before the write", i, want, got)
		}
	}
}
