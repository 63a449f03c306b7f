package workload

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"itemsapi/items"
)

// Sizes of the scenarios' requests.
const (
	// PageSize is the first: of list and search.
	PageSize = 20
	// DeepPageSize is the first: of deep, the largest page the API allows.
	DeepPageSize = 100
	// GetIDs is how many IDs get rotates over, from 1.
	GetIDs = 1000
	// UpdateIDs is how many IDs update rotates over, from GetIDs+1: none
	// that another scenario reads.
	UpdateIDs = 1000
)

// Item is an item as a check expects it back: what the API returns of it,
// less createdAt, which the store assigns.
type Item struct {
	ID          int64
	Name        string
	Description *string
}

// Expect is what a store loaded with Generate(Total) must answer. It is
// computed from the generator, not asked of any store, so that a check
// against it is independent of the code under test; and it matches names
// with strings.ToLower, not with the store's folding (the names are ASCII).
type Expect struct {
	Total int
	// head holds the items with IDs 1, 2, …, as many as any scenario reads.
	head []Item
	// tail holds the last PageSize items, in ID order.
	tail    []Item
	matches map[string]*matches
}

type matches struct {
	first []Item // the first PageSize+1 matches, in ID order
	count int
}

// NewExpect computes what a store of total generated items must answer,
// including the searches for each of queries (lower case).
func NewExpect(total int, queries ...string) *Expect {
	e := &Expect{Total: total, matches: make(map[string]*matches)}
	for _, q := range queries {
		e.matches[q] = &matches{}
	}
	headLen := max(GetIDs, DeepPageSize, PageSize)
	observe := func(it Item) {
		if len(e.head) < headLen {
			e.head = append(e.head, it)
		}
		if e.tail = append(e.tail, it); len(e.tail) > PageSize {
			e.tail = e.tail[1:]
		}
		name := strings.ToLower(it.Name)
		for q, m := range e.matches {
			if strings.Contains(name, q) {
				m.count++
				if len(m.first) <= PageSize {
					m.first = append(m.first, it)
				}
			}
		}
	}
	id := int64(1)
	for _, n := range items.DemoItems {
		observe(Item{ID: id, Name: n.Name, Description: n.Description})
		id++
	}
	for n := range Generate(total) {
		observe(Item{ID: id, Name: n.Name, Description: n.Description})
		id++
	}
	return e
}

// Matches returns how many items match query, one of those given to
// NewExpect.
func (e *Expect) Matches(query string) int { return e.matches[query].count }

// Scenario is one kind of request a load run sends, over and over.
type Scenario struct {
	// Name names the scenario in the results: list, get, search, deep,
	// add, search-rare.
	Name string
	// Bodies are the JSON request bodies, one line each, that a load run
	// sends in turn.
	Bodies []string
	// Auth says the requests need a token (Authorization: Bearer …).
	Auth bool
	// Check reports whether resp is the right answer to Bodies[i].
	Check func(i int, resp []byte) error
}

// Scenario names.
const (
	NameList       = "list"
	NameGet        = "get"
	NameSearch     = "search"
	NameDeep       = "deep"
	NameAdd        = "add"
	NameSearchRare = "search-rare"
	NameListDesc   = "list-desc"
	NameUpdate     = "update"
	NameMixed      = "mixed"
	// NameCounts is not a load scenario: the checker asks it once to
	// verify the totals that the pages alone do not show.
	NameCounts = "counts"
)

// ByName returns the scenario called name. addPrefix starts the names
// that add sends, so that runs can be told apart.
func (e *Expect) ByName(name, addPrefix string) (Scenario, error) {
	switch name {
	case NameList:
		return e.List(), nil
	case NameGet:
		return e.Get(), nil
	case NameSearch:
		return e.Search(NameSearch, CommonQuery), nil
	case NameSearchRare:
		return e.Search(NameSearchRare, Marker), nil
	case NameDeep:
		return e.Deep(), nil
	case NameAdd:
		return e.Add(addPrefix, 10_000), nil
	case NameListDesc:
		return e.ListDesc(), nil
	case NameUpdate:
		return e.Update(), nil
	case NameMixed:
		return e.Mixed(addPrefix), nil
	case NameCounts:
		return e.Counts(), nil
	}
	return Scenario{}, fmt.Errorf("unknown scenario %q", name)
}

// List is the first page of items: items(first: 20) { nodes { id name } }.
func (e *Expect) List() Scenario {
	return pageScenario(NameList, `query List { items(first: 20) { nodes { id name } } }`, "items", e.head[:min(PageSize, len(e.head))])
}

// ListDesc is the last page of items, asked for first:
// items(last: 20) { nodes { id name } }, oldest first within the page.
func (e *Expect) ListDesc() Scenario {
	return pageScenario(NameListDesc, `query ListDesc { items(last: 20) { nodes { id name } } }`, "items", e.tail)
}

// pageScenario is the scenario of query, which reads one page of items
// as field: its nodes must be want, in order.
func pageScenario(name, query, field string, want []Item) Scenario {
	return Scenario{
		Name:   name,
		Bodies: []string{body(query, nil)},
		Check: func(_ int, resp []byte) error {
			var data map[string]*struct{ Nodes []wireItem }
			if err := decode(resp, &data); err != nil {
				return err
			}
			page := data[field]
			if page == nil {
				return fmt.Errorf("no %s in the answer", field)
			}
			return sameItems(page.Nodes, want, false)
		},
	}
}

// Update changes the description of an item, as the admin, and reads back
// its id and version, the IDs rotating over GetIDs+1..GetIDs+UpdateIDs,
// which no other scenario reads. A load run sends each body many times, so
// a check wants a version above 1, not a particular one.
func (e *Expect) Update() Scenario {
	n := min(UpdateIDs, max(e.Total+len(items.DemoItems)-GetIDs, 0))
	s := Scenario{Name: NameUpdate, Auth: true, Bodies: make([]string, n)}
	for i := range n {
		s.Bodies[i] = body(`mutation Update($id: ID!, $d: String) { updateItem(id: $id, input: {description: $d}) { id version } }`,
			map[string]any{"id": strconv.Itoa(GetIDs + 1 + i), "d": "updated by the benchmark"})
	}
	s.Check = func(i int, resp []byte) error {
		var data struct {
			UpdateItem struct {
				ID      string
				Version int
			}
		}
		if err := decode(resp, &data); err != nil {
			return err
		}
		if want := strconv.Itoa(GetIDs + 1 + i); data.UpdateItem.ID != want || data.UpdateItem.Version < 2 {
			return fmt.Errorf("updateItem = %+v, want id %s at a version above 1", data.UpdateItem, want)
		}
		return nil
	}
	return s
}

// Get is one item by ID, the IDs rotating over 1..GetIDs.
func (e *Expect) Get() Scenario {
	n := min(GetIDs, len(e.head))
	s := Scenario{Name: NameGet, Bodies: make([]string, n)}
	for i := range n {
		s.Bodies[i] = body(`query Get($id: ID!) { item(id: $id) { id name description } }`,
			map[string]any{"id": strconv.Itoa(i + 1)})
	}
	s.Check = func(i int, resp []byte) error {
		var data struct{ Item *wireItem }
		if err := decode(resp, &data); err != nil {
			return err
		}
		if data.Item == nil {
			return fmt.Errorf("item %d: null", i+1)
		}
		return sameItems([]wireItem{*data.Item}, e.head[i:i+1], true)
	}
	return s
}

// Search is the first page of items whose name contains query:
// search(query: "an", first: 20) { nodes { id name } }.
func (e *Expect) Search(name, query string) Scenario {
	m := e.matches[query]
	if m == nil {
		panic("workload: Search(" + query + ") needs NewExpect(…, " + query + ")")
	}
	want := m.first[:min(PageSize, len(m.first))]
	q := fmt.Sprintf(`query Search { search(query: %q, first: 20) { nodes { id name } } }`, query)
	return pageScenario(name, q, "search", want)
}

// Deep is a large page with everything a connection offers: 100 edges
// with cursors and every scalar field, page info and the total count.
func (e *Expect) Deep() Scenario { return e.deep(false) }

// deep is Deep; growing says items may have been added since the dataset
// was loaded, so that the total count may be above it. Its operation is
// then called MixedDeep: the ceiling answers by body, and the two answers
// differ.
func (e *Expect) deep(growing bool) Scenario {
	want := e.head[:min(DeepPageSize, len(e.head))]
	op := "Deep"
	if growing {
		op = "MixedDeep"
	}
	return Scenario{
		Name: NameDeep,
		Bodies: []string{body(`query `+op+` { items(first: 100) { totalCount pageInfo { hasNextPage endCursor } `+
			`edges { cursor node { id name description createdAt } } } }`, nil)},
		Check: func(_ int, resp []byte) error {
			var data struct {
				Items struct {
					TotalCount int
					PageInfo   struct {
						HasNextPage bool
						EndCursor   *string
					}
					Edges []struct {
						Cursor string
						Node   struct {
							wireItem
							CreatedAt string
						}
					}
				}
			}
			if err := decode(resp, &data); err != nil {
				return err
			}
			c := data.Items
			if c.TotalCount != e.Total && !(growing && c.TotalCount > e.Total) {
				return fmt.Errorf("totalCount %d, want %d", c.TotalCount, e.Total)
			}
			if c.PageInfo.HasNextPage != (c.TotalCount > len(want)) {
				return fmt.Errorf("hasNextPage %v with %d items", c.PageInfo.HasNextPage, e.Total)
			}
			nodes := make([]wireItem, len(c.Edges))
			seen := make(map[string]bool)
			for i, edge := range c.Edges {
				nodes[i] = edge.Node.wireItem
				if edge.Cursor == "" || seen[edge.Cursor] {
					return fmt.Errorf("edge %d: empty or repeated cursor %q", i, edge.Cursor)
				}
				seen[edge.Cursor] = true
				if _, err := time.Parse(time.RFC3339Nano, edge.Node.CreatedAt); err != nil {
					return fmt.Errorf("edge %d: createdAt: %v", i, err)
				}
			}
			if n := len(c.Edges); n > 0 && (c.PageInfo.EndCursor == nil || *c.PageInfo.EndCursor != c.Edges[n-1].Cursor) {
				return errors.New("endCursor is not the last edge's cursor")
			}
			return sameItems(nodes, want, true)
		},
	}
}

// Add adds an item, as the admin, and reads back its id and name. It has
// n bodies with different names, each starting with prefix: a store may
// hold several items of one name, but distinct names make the added rows
// easy to tell apart.
func (e *Expect) Add(prefix string, n int) Scenario {
	names := make([]string, n)
	s := Scenario{Name: NameAdd, Auth: true, Bodies: make([]string, n)}
	for i := range n {
		names[i] = fmt.Sprintf("%s %06d", prefix, i)
		s.Bodies[i] = body(`mutation Add($input: AddItemInput!) { addItem(input: $input) { id name } }`,
			map[string]any{"input": map[string]any{"name": names[i], "description": "added by the benchmark"}})
	}
	s.Check = func(i int, resp []byte) error {
		var data struct{ AddItem wireItem }
		if err := decode(resp, &data); err != nil {
			return err
		}
		id, err := strconv.ParseInt(data.AddItem.ID, 10, 64)
		switch {
		case err != nil:
			return fmt.Errorf("id %q: %v", data.AddItem.ID, err)
		case id <= int64(e.Total):
			return fmt.Errorf("id %d: want one above the %d items loaded", id, e.Total)
		case data.AddItem.Name != names[i]:
			return fmt.Errorf("name %q, want %q", data.AddItem.Name, names[i])
		}
		return nil
	}
	return s
}

// The mixed scenario: real traffic, varied reads with writes flowing,
// which the response cache helps little: 1 request in MixedWriteEvery is
// an addItem, which empties it, and the reads ask different things.
const (
	MixedWriteEvery = 50
	// mixedBlocks is how many runs of MixedWriteEvery requests the
	// scenario's bodies hold: enough for the gets to go round their IDs
	// twice and each add to have its own name.
	mixedBlocks = 100
)

// MixedQueries are the searches of the mixed scenario: each matches more
// than a page of names, so that adds, whose names come last, never change
// the first page of results.
var MixedQueries = []string{"an", "re", "pe", "ch", "ra", "in", "er", "ta"}

// mixedReads is the order in which the reads of the mixed scenario come:
// half gets, a quarter searches, the first page and the 100-edge page an
// eighth each.
var mixedReads = []string{NameGet, NameList, NameGet, NameSearch, NameGet, NameSearch, NameGet, NameDeep}

// Mixed is the traffic of a real client population: gets of one item by
// ID over GetIDs IDs, the first page (List), searches for each of
// MixedQueries, the 100-edge page (Deep, whose total grows as items are
// added), and every MixedWriteEvery-th request an addItem whose name
// starts with addPrefix. Every request carries the token.
func (e *Expect) Mixed(addPrefix string) Scenario {
	get, list, deep := e.Get(), e.List(), e.deep(true)
	searches := make([]Scenario, len(MixedQueries))
	for i, q := range MixedQueries {
		searches[i] = e.Search(NameSearch, q)
	}
	add := e.Add(addPrefix+" mixed", mixedBlocks)
	// part says which request of which scenario a body is.
	type part struct {
		s *Scenario
		i int
	}
	var parts []part
	gets, searched, reads := 0, 0, 0
	for b := range mixedBlocks {
		for range MixedWriteEvery - 1 {
			switch mixedReads[reads%len(mixedReads)] {
			case NameGet:
				parts = append(parts, part{&get, gets % len(get.Bodies)})
				gets++
			case NameList:
				parts = append(parts, part{&list, 0})
			case NameSearch:
				parts = append(parts, part{&searches[searched%len(searches)], 0})
				searched++
			case NameDeep:
				parts = append(parts, part{&deep, 0})
			}
			reads++
		}
		parts = append(parts, part{&add, b})
	}
	s := Scenario{Name: NameMixed, Auth: true, Bodies: make([]string, len(parts))}
	for i, p := range parts {
		s.Bodies[i] = p.s.Bodies[p.i]
	}
	s.Check = func(i int, resp []byte) error {
		p := parts[i]
		if err := p.s.Check(p.i, resp); err != nil {
			return fmt.Errorf("%s: %w", p.s.Name, err)
		}
		return nil
	}
	return s
}

// Counts asks the totals that the load scenarios' pages do not show: of
// all items and of each search's matches.
func (e *Expect) Counts() Scenario {
	var q strings.Builder
	q.WriteString(`query Counts { items { totalCount }`)
	queries := make([]string, 0, len(e.matches))
	for query := range e.matches {
		queries = append(queries, query)
	}
	// One body, whatever the map's order: the ceiling looks bodies up.
	slices.Sort(queries)
	for i, query := range queries {
		fmt.Fprintf(&q, ` s%d: search(query: %q) { totalCount }`, i, query)
	}
	q.WriteString(` }`)
	return Scenario{
		Name:   NameCounts,
		Bodies: []string{body(q.String(), nil)},
		Check: func(_ int, resp []byte) error {
			var data map[string]struct{ TotalCount int }
			if err := decode(resp, &data); err != nil {
				return err
			}
			if got := data["items"].TotalCount; got != e.Total {
				return fmt.Errorf("items totalCount %d, want %d", got, e.Total)
			}
			for i, query := range queries {
				got, want := data[fmt.Sprintf("s%d", i)].TotalCount, e.matches[query].count
				if got != want {
					return fmt.Errorf("search %q totalCount %d, want %d", query, got, want)
				}
			}
			return nil
		},
	}
}

// body returns a GraphQL request body on one line.
func body(query string, vars map[string]any) string {
	req := struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables,omitempty"`
	}{query, vars}
	b, err := json.Marshal(req)
	if err != nil {
		panic(err) // strings and maps of strings always marshal
	}
	return string(b)
}

// wireItem is an item as JSON carries it.
type wireItem struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
}

// decode unmarshals a response's data into v, strictly: a response with
// errors, without data, or with a field v does not expect is wrong.
func decode(resp []byte, v any) error {
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(resp, &r); err != nil {
		return fmt.Errorf("response is not JSON: %v: %.200s", err, resp)
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("response has errors: %.500s", r.Errors)
	}
	if len(r.Data) == 0 || string(r.Data) == "null" {
		return fmt.Errorf("response has no data: %.200s", resp)
	}
	dec := json.NewDecoder(bytes.NewReader(r.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("data %.200s: %v", r.Data, err)
	}
	return nil
}

// sameItems compares got with want, descriptions too when withDesc.
func sameItems(got []wireItem, want []Item, withDesc bool) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d items, want %d", len(got), len(want))
	}
	for i, g := range got {
		w := want[i]
		if g.ID != strconv.FormatInt(w.ID, 10) || g.Name != w.Name {
			return fmt.Errorf("item %d is {id %s, name %q}, want {id %d, name %q}", i, g.ID, g.Name, w.ID, w.Name)
		}
		if withDesc && !sameString(g.Description, w.Description) {
			return fmt.Errorf("item %s: description %s, want %s", g.ID, show(g.Description), show(w.Description))
		}
	}
	return nil
}

func sameString(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func show(p *string) string {
	if p == nil {
		return "null"
	}
	return strconv.Quote(*p)
}

// Answer is one line of a ceiling's answer file (JSON lines): the exact
// response to send to a request whose body is exactly Body, or, when Any,
// to a request whose body no other line has.
type Answer struct {
	Body     string `json:"body,omitempty"`
	Any      bool   `json:"any,omitempty"`
	Response string `json:"response"`
}
