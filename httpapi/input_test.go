package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"itemsapi/httpapi"
	"itemsapi/items"
	"itemsapi/store/memory"
)

// longSearchBody is a search request whose string is 1.9 MB, under the
// 2 MiB body limit, and far longer than any name can be.
func longSearchBody(tb testing.TB) string {
	tb.Helper()
	body, err := json.Marshal(map[string]any{
		"query":     `query($q: String) { search(query: $q) { totalCount nodes { id } pageInfo { hasNextPage endCursor } } }`,
		"variables": map[string]any{"q": strings.Repeat("é", 1_900_000/len("é"))},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return string(body)
}

// BenchmarkLongSearch serves a search for a 1.9 MB string over the small
// dataset: such a string cannot match any name (items.MaxNameLength), so
// its cost should be that of reading the request, not of searching.
//
//	go test -run XXX -bench BenchmarkLongSearch -benchmem -count 10 ./httpapi/
func BenchmarkLongSearch(b *testing.B) {
	h, _ := newBenchHandler(b)
	body := longSearchBody(b)
	w := newBenchWriter()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if status := serveBench(h, w, body, ""); status != http.StatusOK {
			b.Fatalf("status %d", status)
		}
	}
}

// searchCountingStore counts the calls that search items.
type searchCountingStore struct {
	items.Store
	calls atomic.Int64
}

func (s *searchCountingStore) Items(ctx context.Context, q items.ItemQuery) ([]items.Item, error) {
	s.calls.Add(1)
	return s.Store.Items(ctx, q)
}

func (s *searchCountingStore) CountItems(ctx context.Context, search string) (int, error) {
	s.calls.Add(1)
	return s.Store.CountItems(ctx, search)
}

func TestSearchLongerThanAnyName(t *testing.T) {
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	store := &searchCountingStore{Store: mem}
	if _, err := mem.AddItem(t.Context(), items.NewItem{Name: strings.Repeat("\u00e9", items.MaxNameLength)}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.DefaultConfig(),
		httpapi.Deps{Store: store, Broker: mem, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	t.Cleanup(srv.Close)
	ts := &testServer{Server: srv}
	const query = `query($q: String, $first: Int, $after: String) {
		search(query: $q, first: $first, after: $after) {
			totalCount nodes { id } edges { cursor }
			pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
	empty := `{"search":{"totalCount":0,"nodes":[],"edges":[],"pageInfo":{"hasNextPage":false,"hasPreviousPage":false,"startCursor":null,"endCursor":null}}}`
	cursor := "aXRlbToz" // item:3
	tests := []struct {
		name      string
		vars      map[string]any
		wantData  string // when not empty
		wantCode  string // when not empty
		wantCalls bool   // whether the store is asked
	}{
		{"201 code points", map[string]any{"q": strings.Repeat("\u00e9", 201)}, empty, "", false},
		{"1.9 MB", map[string]any{"q": strings.Repeat("\u00e9", 950_000)}, empty, "", false},
		{"1.8 MB of NUL", map[string]any{"q": strings.Repeat("\x00", 300_000)}, empty, "", false},
		{"long, after a cursor", map[string]any{"q": strings.Repeat("x", 201), "after": cursor}, empty, "", false},
		{"long, first 0", map[string]any{"q": strings.Repeat("x", 201), "first": 0}, empty, "", false},
		{"long, first 101", map[string]any{"q": strings.Repeat("x", 201), "first": 101}, "", "BAD_USER_INPUT", false},
		{"long, bad cursor", map[string]any{"q": strings.Repeat("x", 201), "after": "garbage!"}, "", "BAD_USER_INPUT", false},
		{"200 code points still searched", map[string]any{"q": strings.Repeat("\u00c9", 200)}, "", "", true},
		{"200 with NUL still refused", map[string]any{"q": strings.Repeat("\x00", 200)}, "", "BAD_USER_INPUT", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := store.calls.Load()
			r := ts.post(t, "", query, tt.vars)
			if calls := store.calls.Load() - before; (calls > 0) != tt.wantCalls {
				t.Errorf("the store was searched %d times, want searched: %v", calls, tt.wantCalls)
			}
			switch {
			case tt.wantCode != "":
				if diff := cmp.Diff([]string{tt.wantCode}, r.codes()); diff != "" {
					t.Errorf("codes (-want +got):\n%s", diff)
				}
			case tt.wantData != "":
				if len(r.Errors) > 0 || string(r.Data) != tt.wantData {
					t.Errorf("data = %s, errors %+v; want %s", r.Data, r.Errors, tt.wantData)
				}
			default:
				var got struct{ Search connection }
				r.decode(t, &got)
				if got.Search.TotalCount != 1 || len(got.Search.Nodes) != 1 {
					t.Errorf("search found %d (totalCount %d), want the item with the longest name", len(got.Search.Nodes), got.Search.TotalCount)
				}
			}
		})
	}
}
