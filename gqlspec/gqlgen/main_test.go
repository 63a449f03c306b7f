package main

import (
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

const testSchema = `
type Query { items: [Item!]! item: Item me: User page: Page }
type Page { edges: [Edge!]! }
type Edge { node: Item! }
type Item { id: ID! createdBy: User }
type User { id: ID! tokens: Int }
`

func TestListRule(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Name: "t.graphqls", Input: testSchema})
	for _, tc := range []struct {
		name  string
		kinds map[field]fieldKind
		bad   string // "" when the schema passes
	}{
		{"values only", nil, ""},
		{"batch resolver under a list", map[field]fieldKind{{"Item", "createdBy"}: {resolver: true, batch: true}}, ""},
		{"root resolvers are not under a list", map[field]fieldKind{{"Query", "items"}: {resolver: true}, {"Query", "me"}: {resolver: true}}, ""},
		{"resolver of a list element", map[field]fieldKind{{"Item", "createdBy"}: {resolver: true}}, "Item.createdBy"},
		{"resolver two levels under a list", map[field]fieldKind{{"User", "tokens"}: {resolver: true}}, "User.tokens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkListResolvers(schema, tc.kinds)
			switch {
			case tc.bad == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)):
				t.Fatalf("got %v, want an error naming %s", err, tc.bad)
			}
		})
	}
}
