package plan

import (
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"itemsapi/items"
)

// sel is one field of a compiled selection: the fields of one response
// key, merged as gqlgen's CollectFields merges them.
type sel struct {
	// key is the response key, quoted, with its colon: `"alias":`.
	key string
	// id names the field (types_gen.go); fieldTypename is __typename.
	id fieldID
	// lit is what __typename writes: the type's name, quoted.
	lit string
	// sub is the selection of an object field, compiled.
	sub []sel
	// args are the field's arguments, in the order of its definition.
	args []arg
	// field is the field as gqlgen collects it, for the field context of
	// a resolver that reads it (Query's fields).
	field *graphql.CollectedField
	// auth is what @auth requires of the caller, when the field has it.
	auth *items.Role
}

// argKind says where an argument's value comes from.
type argKind uint8

const (
	argAbsent   argKind = iota // not given: the default, if any
	argConst                   // a literal without variables
	argVariable                // a variable: its value, else the default
	argDynamic                 // a literal holding variables
)

// arg is an argument of a field, as gqlparser's ArgumentMap finds it.
type arg struct {
	kind argKind
	// value is a constant's value.
	value any
	// name is the variable's name.
	name string
	// raw is a literal holding variables.
	raw *ast.Value
	// def is the default value of the definition, and hasDef whether
	// there is one.
	def    any
	hasDef bool
}

// compiler compiles one operation for one set of directive values.
type compiler struct {
	schema *ast.Schema
	oc     *graphql.OperationContext
	// root is the operation's root type: Query or Mutation.
	root  string
	users bool
}

// compile compiles oc's operation for the values of its variables: a
// query, or a mutation of one field (whose resolver a plan then calls
// once, and last).
func compile(schema *ast.Schema, oc *graphql.OperationContext) (*compiled, error) {
	c := &compiler{schema: schema, oc: oc, root: "Query"}
	if oc.Operation.Operation == ast.Mutation {
		c.root = "Mutation"
	}
	root, err := c.selections(oc.Operation.SelectionSet, c.root)
	if err != nil {
		return nil, err
	}
	if c.root == "Mutation" && (len(root) != 1 || root[0].id == fieldTypename) {
		return nil, errUnsupported
	}
	return &compiled{root: root, users: c.users, object: c.root}, nil
}

// collected is a field of a selection set with the selections of every
// field merged into it.
type collected struct {
	*ast.Field
	sels ast.SelectionSet
}

// selections compiles the selection set of an object of type typ.
func (c *compiler) selections(set ast.SelectionSet, typ string) ([]sel, error) {
	fields, err := c.collect(set, typ, map[string]bool{})
	if err != nil {
		return nil, err
	}
	out := make([]sel, len(fields))
	for i, f := range fields {
		s := &out[i]
		s.key = `"` + f.Alias + `":`
		if f.Name == "__typename" {
			s.id, s.lit = fieldTypename, `"`+typ+`"`
			continue
		}
		id, ok := fieldIDs[typ][f.Name]
		def := f.Definition
		if !ok || def == nil {
			return nil, errUnsupported
		}
		s.id = id
		if needsUsers[id] {
			c.users = true
		}
		if s.args, err = c.arguments(f.Field); err != nil {
			return nil, err
		}
		if need, has, err := c.authOf(def); err != nil {
			return nil, err
		} else if has {
			s.auth = &need
		}
		if s.auth != nil && typ != c.root {
			return nil, errUnsupported // resolvers.go checks @auth on root fields alone
		}
		if typ == c.root {
			s.field = &graphql.CollectedField{Field: f.Field, Selections: f.sels}
		}
		if t := c.schema.Types[def.Type.Name()]; t != nil && t.Kind == ast.Object {
			if s.sub, err = c.selections(f.sels, t.Name); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// collect returns the fields of set for an object of type typ, merged by
// response key, in gqlgen's order (graphql.CollectFields): fields skipped
// by @skip or @include and fragments of another type left out, a named
// fragment expanded once per selection set.
func (c *compiler) collect(set ast.SelectionSet, typ string, visited map[string]bool) ([]collected, error) {
	out := make([]collected, 0, len(set))
	add := func(f collected) {
		for i := range out {
			if out[i].Name == f.Name && out[i].Alias == f.Alias {
				out[i].sels = append(out[i].sels[:len(out[i].sels):len(out[i].sels)], f.sels...)
				return
			}
		}
		out = append(out, f)
	}
	for _, s := range set {
		// A fragment's type condition and selections, for the fragments.
		var (
			cond string
			sels ast.SelectionSet
		)
		switch s := s.(type) {
		case *ast.Field:
			if in, err := c.included(s.Directives); err != nil || !in {
				if err != nil {
					return nil, err
				}
				continue
			}
			add(collected{Field: s, sels: s.SelectionSet})
			continue
		case *ast.InlineFragment:
			if in, err := c.included(s.Directives); err != nil || !in {
				if err != nil {
					return nil, err
				}
				continue
			}
			cond, sels = s.TypeCondition, s.SelectionSet
		case *ast.FragmentSpread:
			if visited[s.Name] {
				continue
			}
			if in, err := c.included(s.Directives); err != nil || !in {
				if err != nil {
					return nil, err
				}
				continue
			}
			visited[s.Name] = true
			frag := c.oc.Doc.Fragments.ForName(s.Name)
			if frag == nil {
				return nil, errUnsupported
			}
			cond, sels = frag.TypeCondition, frag.SelectionSet
		default:
			return nil, errUnsupported
		}
		if cond != "" && cond != typ {
			continue
		}
		children, err := c.collect(sels, typ, visited)
		if err != nil {
			return nil, err
		}
		for _, f := range children {
			add(f)
		}
	}
	return out, nil
}

// included applies @skip and @include, as gqlgen's shouldIncludeNode
// does; @defer, or any other directive on a selection, is unsupported.
func (c *compiler) included(dirs ast.DirectiveList) (bool, error) {
	skip, include := false, true
	for _, d := range dirs {
		switch d.Name {
		case "skip", "include":
			a := d.Arguments.ForName("if")
			if a == nil {
				return false, errUnsupported
			}
			v, err := a.Value.Value(c.oc.Variables)
			b, ok := v.(bool)
			if err != nil || !ok {
				return false, errUnsupported
			}
			if d.Name == "skip" {
				skip = b
			} else {
				include = b
			}
		default:
			return false, errUnsupported
		}
	}
	return !skip && include, nil
}

// arguments compiles the arguments of f, in the order of its definition.
func (c *compiler) arguments(f *ast.Field) ([]arg, error) {
	defs := f.Definition.Arguments
	out := make([]arg, len(defs))
	for i, d := range defs {
		a := &out[i]
		if d.DefaultValue != nil {
			v, err := d.DefaultValue.Value(nil)
			if err != nil {
				return nil, errUnsupported
			}
			a.def, a.hasDef = v, true
		}
		given := f.Arguments.ForName(d.Name)
		switch {
		case given == nil:
			a.kind = argAbsent
		case given.Value.Kind == ast.Variable:
			a.kind, a.name = argVariable, given.Value.Raw
		case hasVariables(given.Value):
			a.kind, a.raw = argDynamic, given.Value
		default:
			v, err := given.Value.Value(nil)
			if err != nil {
				return nil, errUnsupported
			}
			a.kind, a.value = argConst, v
		}
	}
	return out, nil
}

// hasVariables reports whether a literal holds a variable.
func hasVariables(v *ast.Value) bool {
	if v.Kind == ast.Variable {
		return true
	}
	for _, child := range v.Children {
		if hasVariables(child.Value) {
			return true
		}
	}
	return false
}

// authOf returns what @auth on def requires, and whether def has @auth.
func (c *compiler) authOf(def *ast.FieldDefinition) (items.Role, bool, error) {
	d := def.Directives.ForName("auth")
	if d == nil {
		return "", false, nil
	}
	var v *ast.Value
	if a := d.Arguments.ForName("requires"); a != nil {
		v = a.Value
	} else if dd := c.schema.Directives["auth"]; dd != nil {
		if a := dd.Arguments.ForName("requires"); a != nil {
			v = a.DefaultValue
		}
	}
	role := items.RoleUser
	if v != nil {
		raw, err := v.Value(nil)
		s, ok := raw.(string)
		if err != nil || !ok || !items.Role(s).Valid() {
			return "", false, errUnsupported
		}
		role = items.Role(s)
	}
	return role, true, nil
}

// directiveVariables returns the variables that the @skip and @include of
// op and its fragments read; an operation with @defer, or a directive the
// compiler does not know, is unsupported.
func directiveVariables(doc *ast.QueryDocument, op *ast.OperationDefinition) ([]string, error) {
	var names []string
	seen := map[string]bool{}
	var walk func(set ast.SelectionSet) error
	dirs := func(list ast.DirectiveList) error {
		for _, d := range list {
			if d.Name != "skip" && d.Name != "include" {
				return errUnsupported
			}
			a := d.Arguments.ForName("if")
			if a == nil {
				return errUnsupported
			}
			if a.Value.Kind == ast.Variable && !seen["$"+a.Value.Raw] {
				seen["$"+a.Value.Raw] = true
				names = append(names, a.Value.Raw)
			}
		}
		return nil
	}
	walk = func(set ast.SelectionSet) error {
		for _, s := range set {
			switch s := s.(type) {
			case *ast.Field:
				if err := dirs(s.Directives); err != nil {
					return err
				}
				if err := walk(s.SelectionSet); err != nil {
					return err
				}
			case *ast.InlineFragment:
				if err := dirs(s.Directives); err != nil {
					return err
				}
				if err := walk(s.SelectionSet); err != nil {
					return err
				}
			case *ast.FragmentSpread:
				if err := dirs(s.Directives); err != nil {
					return err
				}
				if seen[s.Name] {
					continue
				}
				seen[s.Name] = true
				f := doc.Fragments.ForName(s.Name)
				if f == nil {
					return errUnsupported
				}
				if err := dirs(f.Directives); err != nil {
					return err
				}
				if err := walk(f.SelectionSet); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if len(op.Directives) > 0 {
		return nil, errUnsupported
	}
	return names, walk(op.SelectionSet)
}
