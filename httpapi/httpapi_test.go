package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"itemsapi/httpapi"
	"itemsapi/internal/testserver"
	"itemsapi/items"
	"itemsapi/store/memory"
	"itemsapi/store/storetest"
)

// testServer is the real router over a memory store, with one token of
// each role.
type testServer struct {
	*httptest.Server
	mem *memory.Store
	// store is what the handler serves: mem, counted, with faults to
	// inject.
	store      *testserver.Faulty
	counts     *testserver.Counting
	userToken  string
	adminToken string
	logs       *testserver.Log
}

func newTestServer(t testing.TB) *testServer {
	t.Helper()
	return newTestServerWith(t, httpapi.DefaultConfig())
}

func newTestServerWith(t testing.TB, cfg httpapi.Config) *testServer {
	t.Helper()
	ts, _ := newServer(t, cfg, nil)
	return ts
}

// newServer is the one constructor of test servers: the real handler,
// made with cfg, over a memory store (ts.store), with one token of each
// role; with, when not nil, changes the handler's dependencies before
// the handler is made.
func newServer(t testing.TB, cfg httpapi.Config, with func(ts *testServer, deps *httpapi.Deps)) (*testServer, *httpapi.Handler) {
	t.Helper()
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	counts := &testserver.Counting{Store: mem}
	ts := &testServer{mem: mem, store: &testserver.Faulty{Store: counts}, counts: counts, logs: &testserver.Log{}}
	ts.userToken = addToken(t, mem, "alice", items.RoleUser)
	ts.adminToken = addToken(t, mem, "root", items.RoleAdmin)
	deps := httpapi.Deps{Store: ts.store, Broker: mem, Logger: slog.New(slog.NewTextHandler(ts.logs, nil))}
	if with != nil {
		with(ts, &deps)
	}
	h := httpapi.NewHandler(cfg, deps)
	ts.Server = httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts, h
}

func addToken(t testing.TB, store items.Store, user string, role items.Role) string {
	t.Helper()
	token, hash := items.NewToken()
	if _, err := store.AddToken(t.Context(), user, role, hash); err != nil {
		t.Fatalf("AddToken(%q): %v", user, err)
	}
	return token
}

// wantRefusedAdd fails t unless r, the answer to an addItem, has one
// error, of code, and the store still holds the before items it held.
func (ts *testServer) wantRefusedAdd(t *testing.T, r gqlResponse, code string, before int) {
	t.Helper()
	if diff := cmp.Diff([]string{code}, r.codes()); diff != "" {
		t.Errorf("codes (-want +got):\n%s", diff)
	}
	if after := count(t, ts.store); after != before {
		t.Errorf("refused addItem stored something: %d items, want %d", after, before)
	}
}

// gqlResponse is a GraphQL response as a client sees it.
type gqlResponse struct {
	Status  int
	Header  http.Header
	Data    json.RawMessage `json:"data"`
	Errors  []gqlError      `json:"errors"`
	HasData bool
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (e gqlError) Code() string { s, _ := e.Extensions["code"].(string); return s }

// codes returns the extensions.code of each error.
func (r gqlResponse) codes() []string {
	var codes []string
	for _, e := range r.Errors {
		codes = append(codes, e.Code())
	}
	return codes
}

// check checks r's data, and that its errors carry wantCode alone (none
// when wantCode is "").
func (r gqlResponse) check(t testing.TB, wantData, wantCode string) {
	t.Helper()
	if string(r.Data) != wantData {
		t.Errorf("data = %s, want %s", r.Data, wantData)
	}
	var wantCodes []string
	if wantCode != "" {
		wantCodes = []string{wantCode}
	}
	if diff := cmp.Diff(wantCodes, r.codes()); diff != "" {
		t.Errorf("codes (-want +got):\n%s", diff)
	}
}

// post sends a GraphQL request over POST with token, when not empty, as a
// bearer token.
func (ts *testServer) post(t testing.TB, token, query string, vars map[string]any) gqlResponse {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return ts.do(t, req)
}

func (ts *testServer) do(t testing.TB, req *http.Request) gqlResponse {
	t.Helper()
	resp, raw := roundTrip(t, ts.Client(), req)
	r := gqlResponse{Status: resp.StatusCode, Header: resp.Header}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("%s %s: body is not JSON: %v\n%s", req.Method, req.URL, err, raw)
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(raw, &keys)
	_, r.HasData = keys["data"]
	return r
}

// roundTrip sends req through client and returns the answer with its
// body read; it fails t if there is none.
func roundTrip(t testing.TB, client *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// decode unmarshals the response's data into v, failing on any error.
func (r gqlResponse) decode(t testing.TB, v any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected errors: %+v", r.Errors)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decoding data %s: %v", r.Data, err)
	}
}

type item struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
	CreatedAt   string  `json:"createdAt"`
	CreatedBy   *user   `json:"createdBy"`
}

type user struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

type connection struct {
	TotalCount int `json:"totalCount"`
	Nodes      []item
	Edges      []struct {
		Cursor string `json:"cursor"`
		Node   item   `json:"node"`
	} `json:"edges"`
	PageInfo struct {
		HasNextPage     bool    `json:"hasNextPage"`
		HasPreviousPage bool    `json:"hasPreviousPage"`
		StartCursor     *string `json:"startCursor"`
		EndCursor       *string `json:"endCursor"`
	} `json:"pageInfo"`
}

func TestDemoItems(t *testing.T) {
	ts := newTestServer(t)
	var got struct{ Items connection }
	ts.post(t, "", `{ items { totalCount nodes { id name description createdBy { id } } } }`, nil).decode(t, &got)
	want := []item{{ID: "1", Name: "Apple"}, {ID: "2", Name: "Banana"}}
	if diff := cmp.Diff(want, got.Items.Nodes); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	if got.Items.TotalCount != 2 {
		t.Errorf("totalCount = %d, want 2", got.Items.TotalCount)
	}
}

func TestItemByID(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		name     string
		id       any
		wantData string
		wantCode string
	}{
		{"existing", "1", `{"item":{"id":"1","name":"Apple"}}`, ""},
		{"integer id", 2, `{"item":{"id":"2","name":"Banana"}}`, ""},
		{"missing", "999", `{"item":null}`, ""},
		{"malformed", "abc", `{"item":null}`, "BAD_USER_INPUT"},
		{"negative", "-1", `{"item":null}`, "BAD_USER_INPUT"},
		{"leading zero", "01", `{"item":null}`, "BAD_USER_INPUT"},
		{"too large", "99999999999999999999", `{"item":null}`, "BAD_USER_INPUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts.post(t, "", `query($id: ID!) { item(id: $id) { id name } }`, map[string]any{"id": tt.id}).check(t, tt.wantData, tt.wantCode)
		})
	}
}

func TestPaginationWalk(t *testing.T) {
	ts := newTestServer(t)
	const added = 250
	storetest.AddNumbered(t, ts.store, added)
	seen := map[string]bool{}
	var order []string
	var after *string
	pages := 0
	for {
		var got struct{ Items connection }
		ts.post(t, "", `query($after: String) { items(first: 100, after: $after) {
			totalCount edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`,
			map[string]any{"after": after}).decode(t, &got)
		pages++
		c := got.Items
		if c.TotalCount != added+2 {
			t.Errorf("page %d: totalCount = %d, want %d", pages, c.TotalCount, added+2)
		}
		if c.PageInfo.HasPreviousPage != (after != nil) {
			t.Errorf("page %d: hasPreviousPage = %v, want %v", pages, c.PageInfo.HasPreviousPage, after != nil)
		}
		for _, e := range c.Edges {
			if seen[e.Node.ID] {
				t.Fatalf("page %d: item %s seen twice", pages, e.Node.ID)
			}
			seen[e.Node.ID] = true
			order = append(order, e.Node.ID)
		}
		if n := len(c.Edges); n > 0 {
			if *c.PageInfo.StartCursor != c.Edges[0].Cursor || *c.PageInfo.EndCursor != c.Edges[n-1].Cursor {
				t.Errorf("page %d: start/end cursors do not match the edges", pages)
			}
		}
		if !c.PageInfo.HasNextPage {
			break
		}
		after = c.PageInfo.EndCursor
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
	}
	if pages != 3 {
		t.Errorf("walked %d pages, want 3", pages)
	}
	for i, id := range order {
		if want := fmt.Sprint(i + 1); id != want {
			t.Fatalf("item %d of the walk has id %s, want %s (gap or disorder)", i, id, want)
		}
	}
}

func TestPageArguments(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		name     string
		query    string
		vars     map[string]any
		wantCode string
		wantLen  int
	}{
		{"default first", `{ items { nodes { id } } }`, nil, "", 2},
		{"first 0", `{ items(first: 0) { nodes { id } } }`, nil, "", 0},
		{"first 1", `{ items(first: 1) { nodes { id } } }`, nil, "", 1},
		{"first 100", `{ items(first: 100) { nodes { id } } }`, nil, "", 2},
		{"first 101", `{ items(first: 101) { nodes { id } } }`, nil, "BAD_USER_INPUT", 0},
		{"first -1", `{ items(first: -1) { nodes { id } } }`, nil, "BAD_USER_INPUT", 0},
		{"first huge variable", `query($n: Int) { items(first: $n) { nodes { id } } }`, map[string]any{"n": 1000000}, "BAD_USER_INPUT", 0},
		{"search first 101", `{ search(query: "a", first: 101) { nodes { id } } }`, nil, "BAD_USER_INPUT", 0},
		{"garbage cursor", `{ items(after: "garbage!") { nodes { id } } }`, nil, "BAD_USER_INPUT", 0},
		{"cursor of another shape", `{ items(after: "aXRlbTphYmM") { nodes { id } } }`, nil, "BAD_USER_INPUT", 0},
		{"empty cursor is no cursor", `{ items(after: "") { nodes { id } } }`, nil, "", 2},
		{"empty cursor variable", `query($a: String) { items(after: $a) { nodes { id } } }`, map[string]any{"a": ""}, "", 2},
		{"search with an empty cursor", `{ items: search(query: "an", after: "") { nodes { id } } }`, nil, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.post(t, "", tt.query, tt.vars)
			if tt.wantCode != "" {
				if diff := cmp.Diff([]string{tt.wantCode}, r.codes()); diff != "" {
					t.Errorf("codes (-want +got):\n%s", diff)
				}
				if string(r.Data) != "null" {
					t.Errorf("data = %s, want null", r.Data)
				}
				return
			}
			var got struct{ Items connection }
			r.decode(t, &got)
			if len(got.Items.Nodes) != tt.wantLen {
				t.Errorf("got %d items, want %d", len(got.Items.Nodes), tt.wantLen)
			}
		})
	}
}

// TestSearch runs the store suite's searches through GraphQL, and a null
// query, which finds every item as "" does.
func TestSearch(t *testing.T) {
	ts := newTestServer(t)
	names, tests := storetest.SearchCases()
	storetest.AddItems(t, ts.store, names...)
	search := func(query any, want []string) {
		t.Run(fmt.Sprint(query), func(t *testing.T) {
			var got struct{ Search connection }
			ts.post(t, "", `query($q: String) { search(query: $q, first: 100) { totalCount nodes { name } } }`,
				map[string]any{"q": query}).decode(t, &got)
			names := []string{}
			for _, n := range got.Search.Nodes {
				names = append(names, n.Name)
			}
			if diff := cmp.Diff(want, names); diff != "" {
				t.Errorf("search(%q) (-want +got):\n%s", query, diff)
			}
			if got.Search.TotalCount != len(want) {
				t.Errorf("search(%q) totalCount = %d, want %d", query, got.Search.TotalCount, len(want))
			}
		})
	}
	for _, tt := range tests {
		search(tt.Query, tt.Want)
	}
	search(nil, tests[0].Want) // that of ""
}

func TestSearchPagination(t *testing.T) {
	ts := newTestServer(t)
	for i := range 30 {
		name := fmt.Sprintf("pear %d", i)
		if i%3 == 0 {
			name = fmt.Sprintf("plum %d", i)
		}
		if _, err := ts.store.AddItem(t.Context(), items.NewItem{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	var after *string
	for range 10 {
		var got struct{ Search connection }
		ts.post(t, "", `query($after: String) { search(query: "PLUM", first: 3, after: $after) {
			nodes { name } pageInfo { hasNextPage endCursor } } }`, map[string]any{"after": after}).decode(t, &got)
		for _, n := range got.Search.Nodes {
			names = append(names, n.Name)
		}
		if !got.Search.PageInfo.HasNextPage {
			break
		}
		after = got.Search.PageInfo.EndCursor
	}
	want := []string{"plum 0", "plum 3", "plum 6", "plum 9", "plum 12", "plum 15", "plum 18", "plum 21", "plum 24", "plum 27"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("search walk (-want +got):\n%s", diff)
	}
}

func TestAddItemAuth(t *testing.T) {
	ts := newTestServer(t)
	const mutation = `mutation($input: AddItemInput!) { addItem(input: $input) { id name description createdBy { name } } }`
	input := map[string]any{"input": map[string]any{"name": "  Cherry \t", "description": "red"}}
	tests := []struct {
		name     string
		token    string
		wantCode string
	}{
		{"no token", "", "UNAUTHENTICATED"},
		{"unknown token", "itm_not-a-real-token", "UNAUTHENTICATED"},
		{"user token", ts.userToken, ""},
		{"admin token", ts.adminToken, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := count(t, ts.store)
			r := ts.post(t, tt.token, mutation, input)
			if tt.wantCode != "" {
				ts.wantRefusedAdd(t, r, tt.wantCode, before)
				return
			}
			var got struct{ AddItem item }
			r.decode(t, &got)
			if got.AddItem.Name != "Cherry" || got.AddItem.Description == nil || *got.AddItem.Description != "red" {
				t.Errorf("addItem = %+v, want name Cherry (trimmed), description red", got.AddItem)
			}
			if got.AddItem.CreatedBy == nil {
				t.Errorf("addItem createdBy = null, want the caller")
			}
			if after := count(t, ts.store); after != before+1 {
				t.Errorf("after addItem: %d items, want %d", after, before+1)
			}
		})
	}
}

func TestAddItemValidation(t *testing.T) {
	ts := newTestServer(t)
	const mutation = `mutation($input: AddItemInput!) { addItem(input: $input) { id name } }`
	tests := []struct {
		name     string
		input    map[string]any
		wantCode string
	}{
		{"empty name", map[string]any{"name": ""}, "BAD_USER_INPUT"},
		{"blank name", map[string]any{"name": " \u00a0\u3000\t"}, "BAD_USER_INPUT"},
		{"name of 201", map[string]any{"name": strings.Repeat("é", 201)}, "BAD_USER_INPUT"},
		{"name with newline", map[string]any{"name": "a\nb"}, "BAD_USER_INPUT"},
		{"name with tab inside", map[string]any{"name": "a\tb"}, "BAD_USER_INPUT"},
		{"name with NUL", map[string]any{"name": "a\x00b"}, "BAD_USER_INPUT"},
		{"description of 2001", map[string]any{"name": "ok", "description": strings.Repeat("x", 2001)}, "BAD_USER_INPUT"},
		{"description with NUL", map[string]any{"name": "ok", "description": "a\x00"}, "BAD_USER_INPUT"},
		{"number for name", map[string]any{"name": 12345}, "GRAPHQL_VALIDATION_FAILED"},
		{"missing name", map[string]any{"description": "x"}, "GRAPHQL_VALIDATION_FAILED"},
		{"unknown field", map[string]any{"name": "x", "price": 3}, "GRAPHQL_VALIDATION_FAILED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := count(t, ts.store)
			r := ts.post(t, ts.userToken, mutation, map[string]any{"input": tt.input})
			if diff := cmp.Diff([]string{tt.wantCode}, r.codes()); diff != "" {
				t.Errorf("codes (-want +got):\n%s", diff)
			}
			if after := count(t, ts.store); after != before {
				t.Errorf("refused addItem stored something: %d items, want %d", after, before)
			}
		})
	}
	t.Run("name of 200 with description of 2000", func(t *testing.T) {
		var got struct{ AddItem item }
		ts.post(t, ts.userToken, mutation, map[string]any{"input": map[string]any{
			"name": strings.Repeat("é", 200), "description": strings.Repeat("ü\n", 1000)}}).decode(t, &got)
		if got.AddItem.ID == "" {
			t.Error("addItem at the limits was refused")
		}
	})
	t.Run("literal number for name", func(t *testing.T) {
		r := ts.post(t, ts.userToken, `mutation { addItem(input: {name: 12345}) { id } }`, nil)
		if diff := cmp.Diff([]string{"GRAPHQL_VALIDATION_FAILED"}, r.codes()); diff != "" {
			t.Errorf("codes (-want +got):\n%s", diff)
		}
	})
}

func count(t testing.TB, s items.Store) int {
	t.Helper()
	n, err := s.CountItems(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreateToken(t *testing.T) {
	ts := newTestServer(t)
	const mutation = `mutation($user: String!, $role: Role) { createToken(user: $user, role: $role) }`
	tests := []struct {
		name     string
		token    string
		role     any
		wantCode string
	}{
		{"no token", "", nil, "UNAUTHENTICATED"},
		{"user token", ts.userToken, nil, "FORBIDDEN"},
		{"admin makes user token", ts.adminToken, nil, ""},
		{"admin makes admin token", ts.adminToken, "ADMIN", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.post(t, tt.token, mutation, map[string]any{"user": "bob", "role": tt.role})
			if tt.wantCode != "" {
				if diff := cmp.Diff([]string{tt.wantCode}, r.codes()); diff != "" {
					t.Errorf("codes (-want +got):\n%s", diff)
				}
				return
			}
			var got struct{ CreateToken string }
			r.decode(t, &got)
			wantRole := "USER"
			if tt.role != nil {
				wantRole = tt.role.(string)
			}
			var me struct{ Me user }
			ts.post(t, got.CreateToken, `{ me { name role } }`, nil).decode(t, &me)
			if me.Me.Name != "bob" || me.Me.Role != wantRole {
				t.Errorf("me with the new token = %+v, want bob with role %s", me.Me, wantRole)
			}
		})
	}
	t.Run("empty user", func(t *testing.T) {
		r := ts.post(t, ts.adminToken, mutation, map[string]any{"user": "  "})
		if diff := cmp.Diff([]string{"BAD_USER_INPUT"}, r.codes()); diff != "" {
			t.Errorf("codes (-want +got):\n%s", diff)
		}
	})
	t.Run("unknown role", func(t *testing.T) {
		r := ts.post(t, ts.adminToken, mutation, map[string]any{"user": "x", "role": "ROOT"})
		if diff := cmp.Diff([]string{"GRAPHQL_VALIDATION_FAILED"}, r.codes()); diff != "" {
			t.Errorf("codes (-want +got):\n%s", diff)
		}
	})
}

func TestMe(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		name     string
		header   string
		value    string
		want     string
		wantCode string
	}{
		{"bearer", "Authorization", "Bearer " + ts.userToken, `{"me":{"name":"alice","role":"USER"}}`, ""},
		{"bearer in lower case", "Authorization", "bearer " + ts.adminToken, `{"me":{"name":"root","role":"ADMIN"}}`, ""},
		{"token header", "token", ts.userToken, `{"me":{"name":"alice","role":"USER"}}`, ""},
		{"no token", "", "", "null", "UNAUTHENTICATED"},
		{"unknown token", "Authorization", "Bearer nope", "null", "UNAUTHENTICATED"},
		{"basic scheme", "Authorization", "Basic " + ts.userToken, "null", "UNAUTHENTICATED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/graphql",
				strings.NewReader(`{"query":"{ me { name role } }"}`))
			req.Header.Set("Content-Type", "application/json")
			if tt.header != "" {
				req.Header.Set(tt.header, tt.value)
			}
			ts.do(t, req).check(t, tt.want, tt.wantCode)
		})
	}
}

func TestCreatedBy(t *testing.T) {
	ts := newTestServer(t)
	ts.post(t, ts.userToken, `mutation { addItem(input: {name: "Cherry"}) { id } }`, nil).decode(t, &struct{}{})
	var got struct{ Items connection }
	ts.post(t, "", `{ items { nodes { name createdBy { name role } } } }`, nil).decode(t, &got)
	want := []item{{Name: "Apple"}, {Name: "Banana"}, {Name: "Cherry", CreatedBy: &user{Name: "alice", Role: "USER"}}}
	if diff := cmp.Diff(want, got.Items.Nodes); diff != "" {
		t.Errorf("createdBy (-want +got):\n%s", diff)
	}
}

// TestCreatedByOneStoreCall: the creators of a whole page, however large,
// and of the same items in a second list of the response, cost one store
// call.
func TestCreatedByOneStoreCall(t *testing.T) {
	ts := newTestServer(t)
	tokens := []string{ts.userToken, ts.adminToken, addToken(t, ts.store, "carol", items.RoleUser)}
	for i := range 99 {
		ts.post(t, tokens[i%3], `mutation($n: String!) { addItem(input: {name: $n}) { id } }`,
			map[string]any{"n": fmt.Sprintf("item %d", i)}).decode(t, &struct{}{})
	}
	for _, size := range []int{1, 20, 100} {
		ts.counts.UserCalls.Store(0)
		var got struct {
			Items struct {
				Nodes []item
				Edges []struct{ Node item }
			}
		}
		ts.post(t, "", `query($n: Int) { items(first: $n) {
			nodes { name createdBy { name } } edges { node { createdBy { name role } } } } }`,
			map[string]any{"n": size}).decode(t, &got)
		if len(got.Items.Nodes) != size || len(got.Items.Edges) != size {
			t.Fatalf("first %d: got %d nodes, %d edges", size, len(got.Items.Nodes), len(got.Items.Edges))
		}
		for i, n := range got.Items.Nodes {
			if n.CreatedBy == nil && i >= 2 || got.Items.Edges[i].Node.CreatedBy == nil && i >= 2 {
				t.Fatalf("first %d: item %d (%s) has no creator", size, i, n.Name)
			}
		}
		want := int64(1)
		if size <= 2 {
			want = 0 // the demo items have no creator to load
		}
		if calls := ts.counts.UserCalls.Load(); calls != want {
			t.Errorf("first %d: %d store calls for createdBy, want %d", size, calls, want)
		}
	}
}

func TestGetRequests(t *testing.T) {
	ts := newTestServer(t)
	t.Run("query", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet,
			ts.URL+"/graphql?query="+url.QueryEscape(`{ item(id: "1") { name } }`), nil)
		r := ts.do(t, req)
		if r.Status != http.StatusOK || string(r.Data) != `{"item":{"name":"Apple"}}` {
			t.Errorf("GET query = %d %s, want 200 with Apple", r.Status, r.Data)
		}
	})
	t.Run("mutation is refused", func(t *testing.T) {
		before := count(t, ts.store)
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet,
			ts.URL+"/graphql?query="+url.QueryEscape(`mutation { addItem(input: {name: "x"}) { id } }`), nil)
		req.Header.Set("Authorization", "Bearer "+ts.userToken)
		r := ts.do(t, req)
		if r.Status/100 != 4 || len(r.Errors) == 0 {
			t.Errorf("GET mutation = %d %v, want a 4xx with errors", r.Status, r.Errors)
		}
		if after := count(t, ts.store); after != before {
			t.Errorf("GET mutation stored an item")
		}
	})
}

func TestErrorsDoNotLeak(t *testing.T) {
	ts := newTestServer(t)
	ts.store.Fail.Store(true)
	r := ts.post(t, "", `{ items { nodes { id } } }`, nil)
	if diff := cmp.Diff([]string{"INTERNAL_SERVER_ERROR"}, r.codes()); diff != "" {
		t.Fatalf("codes (-want +got):\n%s", diff)
	}
	if msg := r.Errors[0].Message; msg != "internal server error" {
		t.Errorf("message = %q, want the generic one", msg)
	}
	if strings.Contains(r.Errors[0].Message, "secret") {
		t.Errorf("the message leaks the internal error: %q", r.Errors[0].Message)
	}
	if !strings.Contains(ts.logs.String(), testserver.ErrSecret.Error()) {
		t.Errorf("the internal error was not logged:\n%s", ts.logs)
	}
}

func TestPanicIsRecovered(t *testing.T) {
	ts := newTestServer(t)
	ts.store.Panic.Store(true)
	r := ts.post(t, "", `{ item(id: "1") { name } }`, nil)
	if diff := cmp.Diff([]string{"INTERNAL_SERVER_ERROR"}, r.codes()); diff != "" {
		t.Fatalf("codes (-want +got):\n%s", diff)
	}
	if strings.Contains(r.Errors[0].Message, "secret") {
		t.Errorf("the message leaks the panic: %q", r.Errors[0].Message)
	}
	if !strings.Contains(ts.logs.String(), "nil map in /srv/secret") {
		t.Errorf("the panic was not logged:\n%s", ts.logs)
	}
	ts.store.Panic.Store(false)
	var got struct{ Item item }
	ts.post(t, "", `{ item(id: "1") { name } }`, nil).decode(t, &got)
	if got.Item.Name != "Apple" {
		t.Errorf("after a panic, item(1) = %+v, want Apple", got.Item)
	}
}

func TestParseAndValidationErrors(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		name, query, wantCode string
	}{
		{"parse", `{ items { `, "GRAPHQL_PARSE_FAILED"},
		{"unknown field", `{ nope }`, "GRAPHQL_VALIDATION_FAILED"},
		{"wrong literal type", `{ item(id: 1.5) { id } }`, "GRAPHQL_VALIDATION_FAILED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.post(t, "", tt.query, nil)
			if len(r.Errors) == 0 || r.Errors[0].Code() != tt.wantCode {
				t.Errorf("codes = %v, want %s", r.codes(), tt.wantCode)
			}
			if r.HasData {
				t.Errorf("a response where nothing executed has a data key")
			}
		})
	}
}

func TestHealth(t *testing.T) {
	ts := newTestServer(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := ts.Client().Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, resp.StatusCode)
		}
	}
	ts.store.Fail.Store(true)
	resp, err := ts.Client().Get(ts.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz with the store closed = %d, want 503", resp.StatusCode)
	}
}

func TestIntrospection(t *testing.T) {
	ts := newTestServer(t)
	var got struct {
		Schema struct {
			Types []struct{ Name string } `json:"types"`
		} `json:"__schema"`
	}
	ts.post(t, "", `{ __schema { types { name } } }`, nil).decode(t, &got)
	names := map[string]bool{}
	for _, ty := range got.Schema.Types {
		names[ty.Name] = true
	}
	for _, want := range []string{"Item", "User", "Role", "Time", "ItemConnection", "ItemEdge", "PageInfo", "AddItemInput", "Query", "Mutation", "Subscription"} {
		if !names[want] {
			t.Errorf("introspection lacks type %s", want)
		}
	}

	var timeType struct {
		Type struct {
			SpecifiedByURL string `json:"specifiedByURL"`
		} `json:"__type"`
	}
	ts.post(t, "", `{ __type(name: "Time") { specifiedByURL } }`, nil).decode(t, &timeType)
	if got, want := timeType.Type.SpecifiedByURL, "https://scalars.graphql.org/andimarek/date-time"; got != want {
		t.Errorf("Time's specifiedByURL = %q, want %q (code generators type Time from it)", got, want)
	}

	off := httpapi.DefaultConfig()
	off.Introspection = false
	prod := newTestServerWith(t, off)
	for _, q := range []string{
		`{ __schema { types { name } } }`,
		`{ items { totalCount } __type(name: "Item") { name } }`,
		`query { ...F } fragment F on Query { ... on Query { __schema { queryType { name } } } }`,
	} {
		r := prod.post(t, "", q, nil)
		if len(r.Errors) != 1 || r.Errors[0].Code() != "GRAPHQL_VALIDATION_FAILED" ||
			!strings.Contains(r.Errors[0].Message, "introspection is not allowed") || r.Data != nil {
			t.Errorf("%s with introspection off: data %s, errors %+v; want GRAPHQL_VALIDATION_FAILED saying introspection is off, no data", q, r.Data, r.Errors)
		}
	}
	if r := prod.post(t, "", `{ __typename items(first: 1) { nodes { __typename id } } }`, nil); len(r.Errors) != 0 {
		t.Errorf("__typename with introspection off: errors %+v, want none", r.Errors)
	}
	if logs := prod.logs.String(); strings.Contains(logs, "level=ERROR") {
		t.Errorf("refused introspection logged an error:\n%s", logs)
	}
	// No error suggests a name of the schema: not a field's, an
	// argument's, an input field's, an enum value's or a type's. With
	// introspection on, each of these documents gets a suggestion.
	for _, q := range []string{
		`{ itemz { totalCount } }`,
		`{ items(frst: 1) { totalCount } }`,
		`{ items(orderBy: {field: NAM, direction: ASC}) { totalCount } }`,
		`mutation { addItem(input: {nme: "x"}) { id } }`,
	} {
		on := ts.post(t, ts.userToken, q, nil)
		if !slices.ContainsFunc(on.Errors, func(e gqlError) bool { return strings.Contains(e.Message, "Did you mean") }) {
			t.Errorf("%s with introspection on: errors %+v, want a suggestion", q, on.Errors)
		}
		off := prod.post(t, prod.userToken, q, nil)
		if len(off.Errors) == 0 {
			t.Errorf("%s with introspection off: no error", q)
		}
		for _, e := range off.Errors {
			if strings.Contains(e.Message, "Did you mean") {
				t.Errorf("%s with introspection off: %q suggests a name", q, e.Message)
			}
		}
	}
}

func TestPlaygroundServed(t *testing.T) {
	ts := newTestServer(t)
	resp, err := ts.Client().Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s, want 200 text/html", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, bad := range []string{"http://", "https://", "//cdn", "unpkg", "jsdelivr"} {
		if strings.Contains(string(body), bad) {
			t.Errorf("the playground page references %q: it must load only local assets", bad)
		}
	}
	if !strings.Contains(string(body), "/graphql") {
		t.Errorf("the playground page does not point at /graphql")
	}
}
