package httpapi_test

import (
	"slices"
	"testing"
)

// TestUpdateAndDeleteItem drives updateItem and deleteItem through the
// router, with the response cache on: every answer after a change shows
// it, and each refusal has the code of the contract, checked in its order.
func TestUpdateAndDeleteItem(t *testing.T) {
	ts := newTestServer(t)
	var added struct{ AddItem struct{ ID string } }
	ts.post(t, ts.userToken, `mutation { addItem(input: {name: "Cherry", description: "red"}) { id } }`, nil).decode(t, &added)
	id := added.AddItem.ID

	const read = `query($id: ID!) {
		item(id: $id) { name description version updatedAt }
		items(first: 100) { totalCount nodes { id name } }
		search(query: "cher") { totalCount nodes { id } }
	}`
	type state struct {
		Item *struct {
			Name        string
			Description *string
			Version     int
			UpdatedAt   *string
		}
		Items struct {
			TotalCount int
			Nodes      []struct{ ID, Name string }
		}
		Search struct {
			TotalCount int
			Nodes      []struct{ ID string }
		}
	}
	get := func() state {
		t.Helper()
		var s state
		ts.post(t, "", read, map[string]any{"id": id}).decode(t, &s)
		return s
	}
	before := get()
	if before.Item == nil || before.Item.Version != 1 || before.Item.UpdatedAt != nil {
		t.Fatalf("item before any update = %+v, want version 1 and no updatedAt", before.Item)
	}
	get() // from the response cache

	codes := []struct {
		name, token, query string
		want               string
	}{
		{"no token", "", `mutation { updateItem(id: "` + id + `", input: {name: "x"}) { id } }`, "UNAUTHENTICATED"},
		{"unknown id first", ts.userToken, `mutation { updateItem(id: "999", input: {name: ""}) { id } }`, "BAD_USER_INPUT"},
		{"demo item by a USER", ts.userToken, `mutation { updateItem(id: "1", input: {name: ""}) { id } }`, "FORBIDDEN"},
		{"input before version", ts.userToken, `mutation { updateItem(id: "` + id + `", input: {name: " ", expectedVersion: 7}) { id } }`, "BAD_USER_INPUT"},
		{"nothing to change", ts.userToken, `mutation { updateItem(id: "` + id + `", input: {expectedVersion: 1}) { id } }`, "BAD_USER_INPUT"},
		{"stale version", ts.userToken, `mutation { updateItem(id: "` + id + `", input: {name: "x", expectedVersion: 7}) { id } }`, "CONFLICT"},
		{"stale delete", ts.userToken, `mutation { deleteItem(id: "` + id + `", expectedVersion: 7) }`, "CONFLICT"},
		{"delete demo item by a USER", ts.userToken, `mutation { deleteItem(id: "2") }`, "FORBIDDEN"},
	}
	for _, tt := range codes {
		r := ts.post(t, tt.token, tt.query, nil)
		if got := r.codes(); !slices.Equal(got, []string{tt.want}) {
			t.Errorf("%s: codes = %v, want [%s]: %+v", tt.name, got, tt.want, r.Errors)
		}
	}
	if s := get(); s.Item.Version != 1 || s.Item.Name != "Cherry" {
		t.Fatalf("item after refused changes = %+v, want it unchanged", s.Item)
	}

	var up struct {
		UpdateItem struct {
			Name        string
			Description *string
			Version     int
			UpdatedAt   *string
		}
	}
	ts.post(t, ts.userToken, `mutation { updateItem(id: "`+id+`", input: {name: "Grape", description: null, expectedVersion: 1}) { name description version updatedAt } }`, nil).decode(t, &up)
	if u := up.UpdateItem; u.Name != "Grape" || u.Description != nil || u.Version != 2 || u.UpdatedAt == nil {
		t.Fatalf("updateItem = %+v, want Grape, no description, version 2, an updatedAt", u)
	}
	s := get()
	if s.Item.Name != "Grape" || s.Item.Description != nil || s.Item.Version != 2 {
		t.Errorf("item after updateItem = %+v", s.Item)
	}
	if s.Search.TotalCount != 0 || len(s.Search.Nodes) != 0 {
		t.Errorf("search for the old name after updateItem = %+v, want nothing", s.Search)
	}
	if n := s.Items.Nodes[len(s.Items.Nodes)-1]; n.ID != id || n.Name != "Grape" {
		t.Errorf("last of items after updateItem = %+v, want %s Grape", n, id)
	}

	// An ADMIN may delete it; the answer is the ID.
	var del struct{ DeleteItem string }
	ts.post(t, ts.adminToken, `mutation { deleteItem(id: "`+id+`", expectedVersion: 2) }`, nil).decode(t, &del)
	if del.DeleteItem != id {
		t.Errorf("deleteItem = %q, want %q", del.DeleteItem, id)
	}
	s = get()
	if s.Item != nil || s.Items.TotalCount != before.Items.TotalCount-1 || slices.ContainsFunc(s.Items.Nodes, func(n struct{ ID, Name string }) bool { return n.ID == id }) {
		t.Errorf("after deleteItem: %+v, want no item %s and a count of %d", s, id, before.Items.TotalCount-1)
	}
	r := ts.post(t, ts.adminToken, `mutation { deleteItem(id: "`+id+`") }`, nil)
	if got := r.codes(); !slices.Equal(got, []string{"BAD_USER_INPUT"}) {
		t.Errorf("deleting again: codes = %v, want [BAD_USER_INPUT]", got)
	}
}

// TestItemUpdatedAndDeletedSubscriptions follows updates and deletions
// over a websocket, and resumes each with after:.
func TestItemUpdatedAndDeletedSubscriptions(t *testing.T) {
	ts, subscribed := newSubscriptionServer(t)
	c := ts.dialWS(t, "graphql-transport-ws", nil)
	c.init(`{"Authorization":"Bearer ` + ts.userToken + `"}`)
	c.send(subscribeMsg("u", `subscription { itemUpdated { id name version } }`))
	c.send(subscribeMsg("d", `subscription { itemDeleted }`))
	waitSubscribed(t, subscribed, 2)

	var added struct{ AddItem struct{ ID string } }
	ts.post(t, ts.userToken, `mutation { addItem(input: {name: "one"}) { id } }`, nil).decode(t, &added)
	id := added.AddItem.ID
	ts.post(t, ts.userToken, `mutation { updateItem(id: "`+id+`", input: {name: "uno"}) { id } }`, nil).decode(t, &struct{}{})
	ts.post(t, ts.userToken, `mutation { deleteItem(id: "`+id+`") }`, nil).decode(t, &struct{}{})

	got := map[string]string{}
	for range 2 {
		m := c.read()
		if m.Type != "next" {
			t.Fatalf("got message %s %q %s, want next", m.Type, m.ID, m.Payload)
		}
		got[m.ID] = string(m.Payload)
	}
	want := map[string]string{
		"u": `{"data":{"itemUpdated":{"id":"` + id + `","name":"uno","version":2}}}`,
		"d": `{"data":{"itemDeleted":"` + id + `"}}`,
	}
	if got["u"] != want["u"] || got["d"] != want["d"] {
		t.Errorf("events = %v, want %v", got, want)
	}

	// Resuming from before: after item 1 (never updated or deleted), the
	// events after its addition.
	c.send(subscribeMsg("u2", `subscription { itemUpdated(after: "1") { name } }`))
	c.send(subscribeMsg("d2", `subscription { itemDeleted(after: "1") }`))
	waitSubscribed(t, subscribed, 2)
	got = map[string]string{}
	for range 2 {
		m := c.read()
		got[m.ID] = string(m.Payload)
	}
	if got["u2"] != `{"data":{"itemUpdated":{"name":"uno"}}}` || got["d2"] != `{"data":{"itemDeleted":"`+id+`"}}` {
		t.Errorf("resumed events = %v", got)
	}
}
