package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"itemsapi/graph"
	"itemsapi/graph/model"
	"itemsapi/httpapi"
	"itemsapi/internal/testserver"
	"itemsapi/items"
	"itemsapi/store/memory"
)

// FuzzCompiledPlans is the proof that compiled plans answer as gqlgen's
// executor does: each input is turned into a valid query (opgen_test.go)
// and sent to two handlers over one store, one with compiled plans and one
// without, which must answer with the same status, the same headers (but
// the request ID) and the same bytes. The store holds items whose names
// and descriptions carry every JSON-escaping hazard, added by three users,
// some updated and some deleted. The response cache is off on both, so
// that every request is executed.
//
// On a difference it prints the request: paste it into
// /work/wt/prompts/engine-bugs.md, or reproduce it with
// go test -run 'FuzzCompiledPlans/NAME' ./httpapi.
func FuzzCompiledPlans(f *testing.F) {
	env := newPlanEnv(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		op := env.gen.generate(in)
		env.compare(t, op)
	})
}

// planEnv is a store seeded for the comparison and the two handlers that
// serve it.
type planEnv struct {
	store    *testserver.Counting
	compiled http.Handler
	gqlgen   http.Handler
	tokens   map[feature]string
	gen      *opGen
}

// planEnvs caches the environment of a process: seeding it takes a while
// and every test here only reads it.
var planEnvs = sync.OnceValues(func() (*planEnv, error) { return seedPlanEnv() })

func newPlanEnv(t testing.TB) *planEnv {
	t.Helper()
	env, err := planEnvs()
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// seedPlanEnv fills a memory store from a fixed seed and builds the two
// handlers over it.
func seedPlanEnv() (*planEnv, error) {
	ctx := context.Background()
	mem := memory.New()
	store := &testserver.Counting{Store: mem}
	env := &planEnv{store: store, tokens: map[feature]string{featTokenBogus: "itm_1_notatokenatall"}}
	rng := rand.New(rand.NewPCG(13, 4))

	var users []items.User
	for _, u := range []struct {
		name string
		role items.Role
		tok  feature
	}{{"alice", items.RoleUser, featTokenUser}, {"root", items.RoleAdmin, featTokenAdmin}, {"bob", items.RoleUser, ""}} {
		token, hash := items.NewToken()
		user, err := mem.AddToken(ctx, u.name, u.role, hash)
		if err != nil {
			return nil, err
		}
		users = append(users, user)
		if u.tok != "" {
			env.tokens[u.tok] = token
		}
	}
	const n = 120
	for range n {
		name, err := items.ValidateName(hazardText(rng, 1+rng.IntN(6), false))
		if err != nil {
			name = "Plain " + strconv.Itoa(rng.IntN(1000))
		}
		it := items.NewItem{Name: name}
		if rng.IntN(3) > 0 {
			d := hazardText(rng, rng.IntN(10), true)
			it.Description = &d
		}
		if k := rng.IntN(4); k < len(users) {
			it.CreatedByID = users[k].ID
		}
		if _, err := it.Validate(); err != nil {
			return nil, fmt.Errorf("seeding %q: %v", it.Name, err)
		}
		if _, err := mem.AddItem(ctx, it); err != nil {
			return nil, err
		}
	}
	admin := items.Caller{User: users[1], Role: items.RoleAdmin}
	var deleted []string
	for i := range 30 {
		id := int64(3 + rng.IntN(n))
		var err error
		switch {
		case i < 5:
			if err = mem.DeleteItem(ctx, id, items.ItemDelete{By: admin}); err == nil {
				deleted = append(deleted, strconv.FormatInt(id, 10))
			}
		case i%3 == 0:
			_, err = mem.UpdateItem(ctx, id, items.ItemUpdate{ClearDescription: true, By: admin})
		default:
			d := hazardText(rng, 3, true)
			_, err = mem.UpdateItem(ctx, id, items.ItemUpdate{Description: &d, By: admin})
		}
		if err != nil && !errors.As(err, new(*items.Error)) {
			return nil, fmt.Errorf("changing item %d: %v", id, err)
		}
	}

	env.compiled = newPlanHandler(store, mem, true)
	env.gqlgen = newPlanHandler(store, mem, false)

	data := opData{
		ids:    append([]string{"1", "2", "3", "4", "17", "60", "122", "99999"}, deleted...),
		badIDs: []string{"0", "-1", "abc", "", " 1", "1.0", "9223372036854775808"},
		terms:  []string{"", "a", "an", "e", "\"", "\\", "é", "É", "😀", "%", "_", "ß", "\u2028", "x\\u0000", "</", "zzzzqqq"},
		users:  []string{"alice", "root", "bob", "ALICE", "nobody", ""},
	}
	// Real cursors of every list and order, from the reference executor,
	// and the empty string (no cursor).
	data.cursors = map[string][]string{}
	lists := map[string]string{"search": `search(query: "", first: 100)`, "tokens": "tokens(first: 100)"}
	for _, field := range []string{"ID", "NAME", "UPDATED_AT"} {
		for _, dir := range []string{"ASC", "DESC"} {
			lists["items "+field+" "+dir] = "items(first: 100, orderBy: {field: " + field + ", direction: " + dir + "})"
		}
	}
	for key, list := range lists {
		var page struct {
			Data map[string]struct{ Edges []struct{ Cursor string } }
		}
		w := serve(env.gqlgen, genOp{Query: "{ list: " + list + " { edges { cursor } } }", Token: featTokenAdmin}, env.tokens)
		if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil || len(page.Data["list"].Edges) < 3 {
			return nil, fmt.Errorf("cursors of %s: %v: %s", list, err, w.Body)
		}
		edges := page.Data["list"].Edges
		cursors := []string{""}
		for i := 0; i < len(edges); i += 1 + len(edges)/5 {
			cursors = append(cursors, edges[i].Cursor)
		}
		data.cursors[key] = cursors
		data.badCursors = append(data.badCursors, cursors[1:]...)
	}
	data.cursors["items ID ASC"] = append(data.cursors["items ID ASC"], model.EncodeCursor(99999))
	data.badCursors = append(data.badCursors, "not a cursor", base64.RawURLEncoding.EncodeToString([]byte("item:0")), base64.RawURLEncoding.EncodeToString([]byte("item:x")))
	env.gen = &opGen{schema: graph.NewSchema(&graph.Resolver{}).Schema(), data: data}
	return env, nil
}

// newPlanHandler is the handler as server.go builds it, with metrics and
// without the response cache, with compiled plans on or off.
func newPlanHandler(store items.Store, broker items.Broker, compiled bool) http.Handler {
	cfg := httpapi.DefaultConfig()
	cfg.ResponseCacheBytes = 0
	cfg.CompiledPlans = compiled
	return testserver.Handler(cfg, store, broker)
}

// hazards are pieces of text that JSON writers get wrong: quotes and
// backslashes, text that looks like escapes or invalid UTF-8 once
// escaped, HTML, non-BMP characters, the Unicode line separators,
// noncharacters, combining marks, bidirectional marks, and (in
// descriptions only, as names refuse them) control characters.
var hazards = []string{
	`"`, `\`, `\"`, `\\`, `\u0000`, `\ud800`, `\xff`, `\x00`, `%00`, `</script>`, `&amp;`, `<`, `>`, `'`, "`",
	"é", "e\u0301", "ß", "Ω", "中文", "😀", "👩‍👩‍👧", "𝄞", "\U0010FFFF", "\uFFFD", "\uFFFF", "\uFEFF", "\u00A0",
	"\u200F", "\u00AD", "{", "}", "$", "an", "An", "Apple", " ", "\u2028", "\u2029",
}

// controls may stand in descriptions only.
var controls = []string{"\t", "\n", "\r", "\x01", "\x08", "\x0c", "\x1b[31m", "\x1f", "\x7f", "\u0085", "\u2028", "\u2029"}

// hazardText joins n pieces of hazards (and controls when withControls)
// with letters between them.
func hazardText(rng *rand.Rand, n int, withControls bool) string {
	var b strings.Builder
	for i := range n {
		if i > 0 && rng.IntN(2) == 0 {
			b.WriteByte("abcXYZ 09"[rng.IntN(9)])
		}
		if withControls && rng.IntN(4) == 0 {
			b.WriteString(controls[rng.IntN(len(controls))])
			continue
		}
		b.WriteString(hazards[rng.IntN(len(hazards))])
	}
	return b.String()
}

// serve sends op to h as a client would (POST with JSON, or GET), with the
// token op says, and returns the recorded answer.
func serve(h http.Handler, op genOp, tokens map[feature]string) *httptest.ResponseRecorder {
	var req *http.Request
	if op.Get {
		v := url.Values{"query": {op.Query}}
		if op.OperationName != "" {
			v.Set("operationName", op.OperationName)
		}
		if op.Variables != nil {
			b, err := json.Marshal(op.Variables)
			if err != nil {
				panic(err)
			}
			v.Set("variables", string(b))
		}
		req = httptest.NewRequest(http.MethodGet, "/graphql?"+v.Encode(), nil)
	} else {
		body, err := json.Marshal(map[string]any{"query": op.Query, "operationName": op.OperationName, "variables": op.Variables})
		if err != nil {
			panic(err)
		}
		req = httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := tokens[op.Token]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// compare serves op on both handlers and fails t unless the answers are
// the same: status, headers but X-Request-Id, body bytes.
func (env *planEnv) compare(t testing.TB, op genOp) (compiled, reference *httptest.ResponseRecorder) {
	t.Helper()
	compiled = serve(env.compiled, op, env.tokens)
	reference = serve(env.gqlgen, op, env.tokens)
	if diff := answerDiff(compiled, reference); diff != "" {
		t.Fatalf("compiled plans and gqlgen answer differently (%s)\n%s", diff, describe(op, compiled, reference))
	}
	return compiled, reference
}

// answerDiff says how two answers differ, or "" when they do not.
func answerDiff(a, b *httptest.ResponseRecorder) string {
	if a.Code != b.Code {
		return fmt.Sprintf("status %d, gqlgen %d", a.Code, b.Code)
	}
	ha, hb := a.Header().Clone(), b.Header().Clone()
	ha.Del("X-Request-Id")
	hb.Del("X-Request-Id")
	if fmt.Sprint(ha) != fmt.Sprint(hb) {
		return fmt.Sprintf("headers %v, gqlgen %v", ha, hb)
	}
	if !sameBody(a.Body.Bytes(), b.Body.Bytes()) {
		return "body"
	}
	return ""
}

// sameBody reports whether two answers are the same bytes, or the same
// bytes but for the order of their errors. gqlgen resolves the fields of
// Query concurrently and lists their errors as they come, so two runs of
// one request on gqlgen alone may order them differently; everything
// else, data above all, must be the same to the byte.
func sameBody(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var ma, mb map[string]json.RawMessage
	if len(a) != len(b) || json.Unmarshal(a, &ma) != nil || json.Unmarshal(b, &mb) != nil || len(ma) != len(mb) {
		return false
	}
	for k, va := range ma {
		vb, ok := mb[k]
		if !ok {
			return false
		}
		if k != "errors" {
			if !bytes.Equal(va, vb) {
				return false
			}
			continue
		}
		var ea, eb []json.RawMessage
		if json.Unmarshal(va, &ea) != nil || json.Unmarshal(vb, &eb) != nil {
			return false
		}
		sortRaw := func(s []json.RawMessage) {
			slices.SortFunc(s, func(x, y json.RawMessage) int { return bytes.Compare(x, y) })
		}
		sortRaw(ea)
		sortRaw(eb)
		if !slices.EqualFunc(ea, eb, func(x, y json.RawMessage) bool { return bytes.Equal(x, y) }) {
			return false
		}
	}
	return true
}

// describe writes a request and both answers, as engine-bugs.md wants
// them.
func describe(op genOp, compiled, reference *httptest.ResponseRecorder) string {
	vars, _ := json.Marshal(op.Variables)
	method := "POST"
	if op.Get {
		method = "GET"
	}
	return fmt.Sprintf("%s, token: %s, operationName: %q\nquery:\n%s\nvariables: %s\ncompiled (%d, %s):\n%s\ngqlgen (%d, %s):\n%s",
		method, op.Token, op.OperationName, op.Query, vars,
		compiled.Code, compiled.Header().Get("Content-Type"), compiled.Body,
		reference.Code, reference.Header().Get("Content-Type"), reference.Body)
}

// TestCompiledPlansAnswer checks that the fuzz target tests the compiled
// path, not only its fallback: of the generated operations that gqlgen
// answers without errors, most are answered by a compiled plan on the
// handler that has them (itemsapi_graphql_plans_total{outcome="compiled"}),
// and none on the handler without them.
func TestCompiledPlansAnswer(t *testing.T) {
	env := newPlanEnv(t)
	rng := rand.New(rand.NewPCG(3, 3))
	const n = 400
	clean, compiled := 0, 0
	for range n {
		in := make([]byte, rng.IntN(300))
		for j := range in {
			in[j] = byte(rng.Uint32())
		}
		op := env.gen.generate(in)
		before := plansCompiled(t, env.compiled)
		_, ref := env.compare(t, op)
		if ref.Code != http.StatusOK || bytes.Contains(ref.Body.Bytes(), []byte(`"errors":`)) {
			continue
		}
		clean++
		if plansCompiled(t, env.compiled) > before {
			compiled++
		}
	}
	if got := plansCompiled(t, env.gqlgen); got != 0 {
		t.Errorf("the handler without compiled plans answered %v operations with plans", got)
	}
	t.Logf("compiled plans answered %d of the %d operations answered without errors (of %d generated)", compiled, clean, n)
	if clean < n/2 || compiled < clean*6/10 {
		t.Errorf("compiled plans answered %d of the %d operations answered without errors (of %d generated), want 60%%", compiled, clean, n)
	}
}

// plansCompiled returns h's itemsapi_graphql_plans_total{outcome="compiled"}.
func plansCompiled(t testing.TB, h http.Handler) float64 {
	t.Helper()
	return testserver.HandlerMetrics(t, h)[`itemsapi_graphql_plans_total{outcome="compiled"}`]
}
