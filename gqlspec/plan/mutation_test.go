package plan_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"itemsapi/httpapi"
	"itemsapi/internal/testserver"
	"itemsapi/items"
	"itemsapi/store/memory"
)

// twin is two stores made alike (the demo items 1 and 2, two tokens), one served with compiled plans and one
// without, each with the same tokens: the same mutations, sent to both in
// the same order, must get the same answers.
type twin struct {
	plans, gqlgen http.Handler
	user, admin   string
}

func newTwin(t *testing.T) *twin {
	t.Helper()
	userToken, userHash := items.NewToken()
	adminToken, adminHash := items.NewToken()
	handler := func(compiled bool) http.Handler {
		mem := memory.New()
		t.Cleanup(func() { mem.Close() })
		ctx := t.Context()
		if _, err := mem.AddToken(ctx, "ann", items.RoleUser, userHash); err != nil {
			t.Fatal(err)
		}
		if _, err := mem.AddToken(ctx, "root", items.RoleAdmin, adminHash); err != nil {
			t.Fatal(err)
		}
		cfg := httpapi.DefaultConfig()
		cfg.ResponseCacheBytes = 0
		cfg.CompiledPlans = compiled
		return testserver.Handler(cfg, mem, mem)
	}
	return &twin{plans: handler(true), gqlgen: handler(false), user: userToken, admin: adminToken}
}

// TestMutationsSameBytes sends one sequence of mutations, and queries
// that show what they changed, to both stores of a twin: every answer is
// the same, byte for byte, and a plan answered the mutations that
// succeed. Times are left out of the selections: the two stores make
// their changes a moment apart.
func TestMutationsSameBytes(t *testing.T) {
	tw := newTwin(t)
	add := `mutation Add($input: AddItemInput!) { addItem(input: $input) { id name description version updatedAt createdBy { name role } __typename } }`
	update := `mutation Up($id: ID!, $input: UpdateItemInput!) { updateItem(id: $id, input: $input) { id name description version } }`
	list := `{ items(first: 100) { totalCount nodes { id name description version createdBy { name } } } }`
	cases := []struct {
		name     string
		query    string
		vars     map[string]any
		token    string
		compiled bool
	}{
		{"add", add, map[string]any{"input": map[string]any{"name": "pear", "description": "green"}}, tw.user, true},
		{"add without description", add, map[string]any{"input": map[string]any{"name": "fig"}}, tw.admin, true},
		{"add, null description", add, map[string]any{"input": map[string]any{"name": "kiwi", "description": nil}}, tw.user, true},
		{"add, literal and aliases", `mutation { a: addItem(input: {name: " plum\u0301 ", description: "x"}) { b: id c: name ...F } }
			fragment F on Item { version }`, nil, tw.user, true},
		{"add, typename", `mutation { __typename }`, nil, tw.user, false},
		{"add without a token", add, map[string]any{"input": map[string]any{"name": "nope"}}, "", false},
		{"add, bad name", add, map[string]any{"input": map[string]any{"name": "  "}}, tw.user, false},
		{"add, name too long", add, map[string]any{"input": map[string]any{"name": strings.Repeat("n", 201)}}, tw.user, false},
		{"update name", update, map[string]any{"id": "3", "input": map[string]any{"name": "pear 2"}}, tw.user, true},
		{"update, clear description", update, map[string]any{"id": "3", "input": map[string]any{"description": nil}}, tw.user, true},
		{"update, expected version", update, map[string]any{"id": "3", "input": map[string]any{"name": "pear 3", "expectedVersion": 3}}, tw.user, true},
		{"update, stale version", update, map[string]any{"id": "3", "input": map[string]any{"name": "pear 4", "expectedVersion": 1}}, tw.user, false},
		{"update, nothing to change", update, map[string]any{"id": "3", "input": map[string]any{"expectedVersion": 4}}, tw.user, false},
		{"update, another's item", update, map[string]any{"id": "4", "input": map[string]any{"name": "mine"}}, tw.user, false},
		{"update, a demo item", update, map[string]any{"id": "1", "input": map[string]any{"name": "mine"}}, tw.user, false},
		{"update, unknown item", update, map[string]any{"id": "99", "input": map[string]any{"name": "x"}}, tw.admin, false},
		{"update, bad id", update, map[string]any{"id": "x", "input": map[string]any{"name": "x"}}, tw.admin, false},
		{"update, admin", update, map[string]any{"id": "1", "input": map[string]any{"name": "demo", "description": "d"}}, tw.admin, true},
		{"delete, stale version", `mutation { deleteItem(id: 4, expectedVersion: 2) }`, nil, tw.admin, false},
		{"delete", `mutation($v: Int) { gone: deleteItem(id: 4, expectedVersion: $v) }`, map[string]any{"v": 1}, tw.admin, true},
		{"delete again", `mutation { deleteItem(id: 4) }`, nil, tw.admin, false},
		{"delete, another's item", `mutation { deleteItem(id: 2) }`, nil, tw.user, false},
		{"two fields", `mutation { a: deleteItem(id: 5) b: deleteItem(id: 5) }`, nil, tw.user, false},
		{"skipped field", `mutation($s: Boolean!) { deleteItem(id: 6) @skip(if: $s) }`, map[string]any{"s": true}, tw.user, false},
		{"the store after", list, nil, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := compiledCount(t, tw.plans)
			status, got := serve(tw.plans, c.query, c.vars, c.token)
			compiled := compiledCount(t, tw.plans) > before
			wantStatus, want := serve(tw.gqlgen, c.query, c.vars, c.token)
			if status != wantStatus || got != want {
				t.Errorf("compiled: %d %s\ngqlgen:   %d %s", status, got, wantStatus, want)
			}
			if compiled != c.compiled {
				t.Errorf("answered by a plan: %v, want %v (%s)", compiled, c.compiled, got)
			}
		})
	}
}

// faulty is a store whose users cannot be read, and whose AddItem may
// panic; it counts the calls of AddItem.
type faulty struct {
	items.Store
	adds  atomic.Int64
	panic bool
}

func (s *faulty) AddItem(ctx context.Context, n items.NewItem) (items.Item, error) {
	s.adds.Add(1)
	if s.panic {
		panic("the store broke")
	}
	return s.Store.AddItem(ctx, n)
}

func (s *faulty) Users(context.Context, []int64) ([]items.User, error) {
	return nil, errors.New("users are unreadable")
}

// TestMutationRunsOnce: when a plan fails after a mutation's resolver ran
// (here, reading the new item's user fails; or the resolver panics),
// gqlgen answers with what the resolver did, over HTTP and over a
// websocket, and the item is added once.
func TestMutationRunsOnce(t *testing.T) {
	for _, panics := range []bool{false, true} {
		mem := memory.New()
		t.Cleanup(func() { mem.Close() })
		token, hash := items.NewToken()
		if _, err := mem.AddToken(t.Context(), "ann", items.RoleUser, hash); err != nil {
			t.Fatal(err)
		}
		store := &faulty{Store: mem, panic: panics}
		cfg := httpapi.DefaultConfig()
		cfg.ResponseCacheBytes = 0
		h := testserver.Handler(cfg, store, mem)
		query := `mutation { addItem(input: {name: "once"}) { id name createdBy { name } } }`

		status, body := serve(h, query, nil, token)
		wantErr := `"path":["addItem","createdBy"]`
		if panics {
			wantErr = `"code":"INTERNAL_SERVER_ERROR"`
		}
		if status != http.StatusOK || !strings.Contains(body, wantErr) {
			t.Errorf("panics %v: %d %s, want an error with %s", panics, status, body, wantErr)
		}
		if !panics && !strings.Contains(body, `"addItem":{"id":"3","name":"once","createdBy":null}`) {
			t.Errorf("the item added is not in the answer: %s", body)
		}
		if n := store.adds.Load(); n != 1 {
			t.Errorf("panics %v: AddItem called %d times over HTTP, want 1", panics, n)
		}

		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		ws := testserver.DialWS(t, srv.URL, nil, map[string]any{"Authorization": "Bearer " + token})
		ws.Subscribe(t, "1", query, nil)
		msg, err := ws.Read(t.Context())
		if err != nil || msg.Type != "next" || !strings.Contains(string(msg.Payload), wantErr) {
			t.Errorf("panics %v: over a websocket: %+v %s, %v; want an error with %s", panics, msg, msg.Payload, err, wantErr)
		}
		if n := store.adds.Load(); n != 2 {
			t.Errorf("panics %v: AddItem called %d times in all, want 2", panics, n)
		}
		stored, err := mem.CountItems(t.Context(), "once")
		want := 2
		if panics {
			want = 0
		}
		if err != nil || stored != want {
			t.Errorf("%d items stored (%v), want %d", stored, err, want)
		}
	}
}
