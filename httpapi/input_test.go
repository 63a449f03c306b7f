package httpapi_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"itemsapi/bench/workload"
	"itemsapi/httpapi"
	"itemsapi/internal/testserver"
	"itemsapi/items"
	"itemsapi/store/memory"
	"itemsapi/store/sqlite"
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

// BenchmarkLongSearch serves a search for a 1.9 MB string through the whole
// handler, over 10,000 generated items in the memory store and in SQLite:
// such a string cannot match any name (items.MaxNameLength), so its cost
// should be that of reading the request, not of searching.
//
//	go test -run XXX -bench BenchmarkLongSearch -benchmem -count 10 ./httpapi/
func BenchmarkLongSearch(b *testing.B) {
	for _, backend := range []string{"memory", "sqlite"} {
		b.Run(backend, func(b *testing.B) {
			var store items.Store
			if backend == "memory" {
				mem := memory.New()
				b.Cleanup(func() { mem.Close() })
				store = mem
			} else {
				s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "items.db"))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				store = s
			}
			for n := range workload.Generate(workload.SmallItems) {
				if _, err := store.AddItem(b.Context(), n); err != nil {
					b.Fatal(err)
				}
			}
			h := httpapi.NewHandler(httpapi.DefaultConfig(), httpapi.Deps{
				Store:  store,
				Broker: store.(items.Broker),
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			body := longSearchBody(b)
			w, req := newBenchWriter(), newBenchRequest("", "")
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if status := serveBench(h, w, req, body); status != http.StatusOK {
					b.Fatalf("status %d", status)
				}
			}
		})
	}
}

func TestSearchLongerThanAnyName(t *testing.T) {
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	store := &testserver.Counting{Store: mem}
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
		// Names are stored in NFC: a search typed decomposed (as macOS
		// keyboards send it) finds them, counted once composed.
		{"decomposed finds the composed name", map[string]any{"q": "E\u0301e\u0301"}, "", "", true},
		{"200 code points, 100 once composed", map[string]any{"q": strings.Repeat("e\u0301", 100)}, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := (store.PageCalls.Load() + store.CountCalls.Load())
			r := ts.post(t, "", query, tt.vars)
			if calls := (store.PageCalls.Load() + store.CountCalls.Load()) - before; (calls > 0) != tt.wantCalls {
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

// TestCoercionNamesTheValue checks that a value refused as an argument,
// written in the document or sent as a variable, is refused before
// anything executes with a message naming it as the client wrote it.
func TestCoercionNamesTheValue(t *testing.T) {
	ts := newTestServer(t)
	const intVar = `query($n: Int) { items(first: $n) { nodes { id } } }`
	const inputVar = `mutation($i: AddItemInput!) { addItem(input: $i) { id } }`
	tests := []struct {
		name     string
		query    string
		vars     map[string]any // decoded from JSON with UseNumber, as the server does
		wantMsg  string
		wantPath []any // the error's path, for variables
	}{
		{"literal 5.0", `{ items(first: 5.0) { nodes { id } } }`, nil,
			"Int cannot represent non-integer value: 5.0", nil},
		{"literal 5.5", `{ items(first: 5.5) { nodes { id } } }`, nil,
			"Int cannot represent non-integer value: 5.5", nil},
		{"literal 1e400, once", `{ items(first: 1e400) { nodes { id } } }`, nil,
			"Int cannot represent non-integer value: 1e400", nil},
		{"literal 2147483648", `{ items(first: 2147483648) { nodes { id } } }`, nil,
			"Int cannot represent non 32-bit signed integer value: 2147483648", nil},
		{"literal -2147483649", `{ search(query: "a", first: -2147483649) { nodes { id } } }`, nil,
			"Int cannot represent non 32-bit signed integer value: -2147483649", nil},
		{"literal beyond 64 bits", `{ items(first: 99999999999999999999) { nodes { id } } }`, nil,
			"Int cannot represent non 32-bit signed integer value: 99999999999999999999", nil},
		{"default value 2147483648", `query($n: Int = 2147483648) { items(first: $n) { nodes { id } } }`, nil,
			"Int cannot represent non 32-bit signed integer value: 2147483648", nil},

		{"variable 5.0", intVar, jsonVars(t, `{"n": 5.0}`),
			`Variable "$n" got an invalid value: Int cannot represent non-integer value: 5.0`, []any{"variable", "n"}},
		{"variable 5.5", intVar, jsonVars(t, `{"n": 5.5}`),
			`Variable "$n" got an invalid value: Int cannot represent non-integer value: 5.5`, []any{"variable", "n"}},
		{"variable 1e400", intVar, jsonVars(t, `{"n": 1e400}`),
			`Variable "$n" got an invalid value: Int cannot represent non-integer value: 1e400`, []any{"variable", "n"}},
		{"variable 2147483648", intVar, jsonVars(t, `{"n": 2147483648}`),
			`Variable "$n" got an invalid value: Int cannot represent non 32-bit signed integer value: 2147483648`, []any{"variable", "n"}},
		{"variable beyond 64 bits", intVar, jsonVars(t, `{"n": 99999999999999999999}`),
			`Variable "$n" got an invalid value: Int cannot represent non 32-bit signed integer value: 99999999999999999999`, []any{"variable", "n"}},
		{"variable of 300 digits", intVar, jsonVars(t, `{"n": 1`+strings.Repeat("0", 300)+`}`),
			`Variable "$n" got an invalid value: Int cannot represent non 32-bit signed integer value: 1` + strings.Repeat("0", 39) + `… (a number of 301 characters)`, []any{"variable", "n"}},
		{"variable of digits as a string", intVar, jsonVars(t, `{"n": "5"}`),
			`Variable "$n" got an invalid value: Int cannot represent non-integer value: "5"`, []any{"variable", "n"}},
		{"variable of letters", intVar, jsonVars(t, `{"n": "ten"}`),
			`Variable "$n" got an invalid value: Int cannot represent non-integer value: "ten"`, []any{"variable", "n"}},
		{"variable true", intVar, jsonVars(t, `{"n": true}`),
			`Variable "$n" got an invalid value: Int cannot represent non-integer value: true`, []any{"variable", "n"}},
		{"field 1.5 for a String", inputVar, jsonVars(t, `{"i": {"name": 1.5}}`),
			`Variable "$i" got an invalid value at i.name: String cannot represent a non string value: 1.5`, []any{"variable", "i", "name"}},
		{"field 1e400 for a String", inputVar, jsonVars(t, `{"i": {"name": 1e400}}`),
			`Variable "$i" got an invalid value at i.name: String cannot represent a non string value: 1e400`, []any{"variable", "i", "name"}},
		{"field true for a String", inputVar, jsonVars(t, `{"i": {"name": true}}`),
			`Variable "$i" got an invalid value at i.name: String cannot represent a non string value: true`, []any{"variable", "i", "name"}},
		{"ID 1.5", `query($id: ID!) { item(id: $id) { id } }`, jsonVars(t, `{"id": 1.5}`),
			`Variable "$id" got an invalid value: ID cannot represent a non-string and non-integer value: 1.5`, []any{"variable", "id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.post(t, ts.userToken, tt.query, tt.vars)
			if diff := cmp.Diff([]string{"GRAPHQL_VALIDATION_FAILED"}, r.codes()); diff != "" {
				t.Fatalf("codes (-want +got):\n%s\nerrors: %+v", diff, r.Errors)
			}
			if got := r.Errors[0].Message; got != tt.wantMsg {
				t.Errorf("message = %q, want %q", got, tt.wantMsg)
			}
			if tt.wantPath != nil {
				if diff := cmp.Diff(tt.wantPath, r.Errors[0].Path); diff != "" {
					t.Errorf("path (-want +got):\n%s", diff)
				}
			}
			if r.HasData {
				t.Errorf("a response where nothing executed has a data key")
			}
		})
	}
	t.Run("in range", func(t *testing.T) {
		for _, vars := range []string{`{"n": 0}`, `{"n": 100}`, `{"n": null}`, `{}`} {
			var got struct{ Items connection }
			ts.post(t, "", intVar, jsonVars(t, vars)).decode(t, &got)
		}
	})
}

// jsonVars decodes variables as the server does, numbers as json.Number,
// so that a test sends 5.0 and 1e400 as written.
func jsonVars(t testing.TB, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("variables %s: %v", s, err)
	}
	return v
}

func TestAddItemNames(t *testing.T) {
	ts := newTestServer(t)
	const mutation = `mutation($input: AddItemInput!) { addItem(input: $input) { id name } }`
	tests := []struct {
		name     string
		in       string
		want     string // the stored name, when accepted
		wantCode string
	}{
		{"NFC", "Cafe\u0301", "Caf\u00e9", ""},
		{"trimmed and NFC", "\u3000 Cafe\u0301\u00a0", "Caf\u00e9", ""},
		{"200 code points after NFC", strings.Repeat("e\u0301", 200), strings.Repeat("\u00e9", 200), ""},
		{"emoji with ZWJ", "\U0001F469\u200D\U0001F4BB", "\U0001F469\u200D\U0001F4BB", ""},
		{"201 code points after NFC", strings.Repeat("e\u0301", 201), "", "BAD_USER_INPUT"},
		{"zero-width space", "\u200b", "", "BAD_USER_INPUT"},
		{"zero-width joiners", "\u200c\u200d\u2060", "", "BAD_USER_INPUT"},
		{"byte-order mark", "\ufeff", "", "BAD_USER_INPUT"},
		{"soft hyphen", "\u00ad", "", "BAD_USER_INPUT"},
		{"Hangul filler", "\u3164", "", "BAD_USER_INPUT"},
		{"combining mark alone", "\u0301", "", "BAD_USER_INPUT"},
		{"right-to-left override", "\u202eelppA", "", "BAD_USER_INPUT"},
		{"isolate", "Apple\u2067x\u2069", "", "BAD_USER_INPUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := count(t, ts.store)
			r := ts.post(t, ts.userToken, mutation, map[string]any{"input": map[string]any{"name": tt.in}})
			if tt.wantCode != "" {
				if diff := cmp.Diff([]string{tt.wantCode}, r.codes()); diff != "" {
					t.Errorf("codes (-want +got):\n%s", diff)
				}
				if after := count(t, ts.store); after != before {
					t.Errorf("refused addItem stored something: %d items, want %d", after, before)
				}
				return
			}
			var got struct{ AddItem item }
			r.decode(t, &got)
			if got.AddItem.Name != tt.want {
				t.Errorf("addItem(%+q).name = %+q, want %+q", tt.in, got.AddItem.Name, tt.want)
			}
		})
	}
}

func TestCreateTokenUserNames(t *testing.T) {
	ts := newTestServer(t) // has users alice and root
	const mutation = `mutation($user: String!) { createToken(user: $user) }`
	tests := []struct {
		user     string
		wantName string // the user the token is for, when made
	}{
		{"bob", "bob"},
		{"Bob", "bob"},
		{"ALICE", "alice"},
		{" carol.d_2-x ", "carol.d_2-x"},
		{"admin\u200b", ""},
		{"\u0430lice", ""},
		{"r\u043e\u043et", ""}, // Cyrillic о
		{"\ufeffroot", ""},
		{"ro\u00adot", ""},
		{"new user", ""},
		{"J\u00fcrgen", ""},
		{strings.Repeat("x", 65), ""},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			r := ts.post(t, ts.adminToken, mutation, map[string]any{"user": tt.user})
			if tt.wantName == "" {
				if diff := cmp.Diff([]string{"BAD_USER_INPUT"}, r.codes()); diff != "" {
					t.Errorf("createToken(%+q) codes (-want +got):\n%s", tt.user, diff)
				}
				return
			}
			var got struct{ CreateToken string }
			r.decode(t, &got)
			var me struct{ Me user }
			ts.post(t, got.CreateToken, `{ me { name } }`, nil).decode(t, &me)
			if me.Me.Name != tt.wantName {
				t.Errorf("createToken(%+q): me.name = %q, want %q", tt.user, me.Me.Name, tt.wantName)
			}
		})
	}
}
