package httpapi_test

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"itemsapi/gqlspec"
)

// opgen turns any bytes into a valid GraphQL query over the schema: the
// operations that FuzzCompiledPlans sends to both executors. The bytes are
// a stream of decisions (which field, alias or not, which argument value,
// …), so the fuzzer's mutations of the input become mutations of the
// operation; once the bytes run out every decision takes its simplest
// branch and every selection set closes, so any input, even an empty one,
// gives a finite, valid operation.
//
// It walks the schema (graph.NewSchema's), not a copy of it: a field added
// to schema.graphqls is generated with no change here. Only the values of
// arguments know names: first/last, after/before, id, query and user get
// values that mean something for the seeded store (pages, real cursors of
// every order, existing and deleted IDs, search terms), besides invalid
// ones.
//
// Valid by construction: every alias is unique in the operation, so two
// fields of one response key are the same field with the same arguments
// (OverlappingFieldsCanBeMerged); variables are declared with their
// argument's type, or a nullable one with a default; fragments are
// declared once, used, acyclic, on the type they are spread in.
// TestOpGenValid holds it to that with gqlparser's validation.

// feature is a construct an operation uses; TestOpGenValid checks that
// random inputs reach every one, and TestCompiledPlansCorpus that the
// committed corpus does.
type feature string

const (
	featAlias           feature = "alias"
	featNamedFragment   feature = "named fragment"
	featFragmentReused  feature = "named fragment spread twice"
	featInlineFragment  feature = "inline fragment with a type condition"
	featInlineNoType    feature = "inline fragment without a type condition"
	featTypename        feature = "__typename"
	featSkipLiteral     feature = "@skip literal"
	featSkipVariable    feature = "@skip variable"
	featIncludeLiteral  feature = "@include literal"
	featIncludeVariable feature = "@include variable"
	featDirectiveDefVar feature = "@skip/@include variable with a default"
	featDefer           feature = "@defer"
	featArgLiteral      feature = "argument literal"
	featArgVariable     feature = "argument variable"
	featArgVarDefault   feature = "argument variable with a default, value omitted"
	featArgVarNull      feature = "argument variable null"
	featArgDefault      feature = "argument omitted (schema default)"
	featInputVarFields  feature = "input object literal with variable fields"
	featInvalidInt      feature = "invalid first/last value"
	featInvalidCursor   feature = "invalid cursor"
	featBadVariable     feature = "variable of a wrong type"
	featTokenNone       feature = "no token"
	featTokenUser       feature = "USER token"
	featTokenAdmin      feature = "ADMIN token"
	featTokenBogus      feature = "unknown token"
	featGet             feature = "GET request"
	featOperationName   feature = "operationName among two operations"
	featBlockString     feature = "block string literal"
	featIntrospection   feature = "introspection field"
	featLeafFieldPrefix feature = "field " // + Type.field, for every field reached
)

// opData are the values that arguments take: drawn from the seeded store.
type opData struct {
	ids    []string // existing, deleted and unknown IDs
	badIDs []string // malformed IDs
	// cursors holds the cursors of each list, by field name and, for
	// items, order ("items NAME DESC"), the empty string among them.
	cursors map[string][]string
	// badCursors are malformed cursors and cursors of every list and
	// order.
	badCursors []string
	terms      []string // search terms, hazards included
	users      []string // user names for tokens(user:)
}

// genOp is one generated request.
type genOp struct {
	Query         string
	OperationName string
	Variables     map[string]any
	Token         feature // featTokenNone, featTokenUser, featTokenAdmin or featTokenBogus
	Get           bool
	// Hostile says the operation may send what the server refuses.
	Hostile  bool
	Features map[feature]bool
}

// opGen generates operations over schema.
type opGen struct {
	schema *ast.Schema
	data   opData
}

// volatile fields change between the two requests of one comparison
// (Token.lastUsedAt is written as tokens are used), so the generator
// leaves them out: their difference would be the clock's, not the
// executors'.
var volatile = map[string]bool{"Token.lastUsedAt": true}

// Bounds that keep operations within the server's limits (depth 20, cost
// 10,000, 10 directives per field) most of the time; the rest check that
// both paths refuse alike.
const (
	genMaxDepth  = 7
	genMaxFields = 60
)

// choices reads the input as decisions. Past its end every intn is 0 and
// every chance false.
type choices struct {
	b []byte
	i int
}

func (c *choices) done() bool { return c.i >= len(c.b) }

func (c *choices) next() byte {
	if c.done() {
		return 0
	}
	v := c.b[c.i]
	c.i++
	return v
}

// intn returns a decision in [0, n).
func (c *choices) intn(n int) int {
	if n <= 1 {
		return 0
	}
	if n <= 256 {
		return int(c.next()) % n
	}
	return (int(c.next())<<8 | int(c.next())) % n
}

// chance is true for percent of the bytes, never past the end.
func (c *choices) chance(percent int) bool {
	if c.done() {
		return false
	}
	return int(c.next())%100 < percent
}

// genState is the making of one operation.
type genState struct {
	g        *opGen
	c        choices
	features map[feature]bool
	// hostile operations (a quarter) may send what the server refuses:
	// invalid values, variables of a wrong type, an unknown token, @auth
	// fields without a token, first and last together. The others are
	// mostly answered without errors, so that the compiled path answers
	// them: an error anywhere sends a request to gqlgen.
	hostile bool
	token   feature
	// cursors is the key in opData.cursors of the list whose arguments
	// are being drawn.
	cursors string
	vars    []string // declarations, in order
	values  map[string]any
	frags   []*genFragment
	aliases int
	fields  int
	// unaliased holds the fields with arguments (Type.field) already
	// selected without an alias: the next one gets one.
	unaliased map[string]bool
}

type genFragment struct {
	name, on, body string
	done           bool
}

// generate returns the operation that in describes.
func (g *opGen) generate(in []byte) genOp {
	s := &genState{g: g, c: choices{b: in}, features: map[feature]bool{}, values: map[string]any{}, unaliased: map[string]bool{}}
	op := genOp{Features: s.features}
	s.hostile = s.c.chance(25)
	op.Hostile = s.hostile
	op.Token = []feature{featTokenNone, featTokenUser, featTokenAdmin, featTokenBogus}[s.c.intn(3+b2i(s.hostile))]
	s.token = op.Token
	s.features[op.Token] = true
	op.Get = s.c.chance(10)
	if op.Get {
		s.features[featGet] = true
	}
	two := s.c.chance(8)
	named := two || s.c.chance(50)

	body := s.selectionSet(g.schema.Query, 1)

	var q strings.Builder
	q.WriteString("query")
	if named {
		q.WriteString(" Op")
		op.OperationName = "Op"
	}
	if len(s.vars) > 0 {
		q.WriteString("(" + strings.Join(s.vars, ", ") + ")")
	}
	q.WriteString(" " + body)
	// Fragments are declared in the order they were begun; the order of
	// definitions does not matter to GraphQL.
	for _, f := range s.frags {
		fmt.Fprintf(&q, "\nfragment %s on %s %s", f.name, f.on, f.body)
	}
	if two {
		s.features[featOperationName] = true
		q.WriteString("\nquery Other { __typename }")
	}
	op.Query = q.String()
	if len(s.values) > 0 {
		op.Variables = s.values
	}
	return op
}

// selectionSet returns a selection set on t, never empty.
func (s *genState) selectionSet(t *ast.Definition, depth int) string {
	var b strings.Builder
	b.WriteString("{")
	n := 1 + s.c.intn(5)
	for i := range n {
		if i > 0 && s.fields >= genMaxFields {
			break
		}
		b.WriteByte(' ')
		b.WriteString(s.selection(t, depth))
	}
	b.WriteString(" }")
	return b.String()
}

// selection returns one selection on t: a field, __typename, an inline
// fragment or a named fragment's spread.
func (s *genState) selection(t *ast.Definition, depth int) string {
	deeper := depth < genMaxDepth && s.fields < genMaxFields
	switch k := s.c.intn(20); {
	case k == 13:
		return s.typename()
	case k == 14 && deeper:
		return s.inlineFragment(t, depth)
	case k == 15 && deeper:
		return s.spread(t, depth)
	case k == 16 && deeper && t == s.g.schema.Query && s.c.chance(30):
		return s.introspection()
	}
	return s.field(t, depth)
}

func (s *genState) typename() string {
	s.features[featTypename] = true
	s.fields++
	return s.alias() + "__typename" + s.directives(false)
}

// alias returns "aN: " for a field now and then, N unique in the
// operation.
func (s *genState) alias() string {
	if !s.c.chance(15) {
		return ""
	}
	return s.newAlias()
}

func (s *genState) newAlias() string {
	s.features[featAlias] = true
	s.aliases++
	return "a" + strconv.Itoa(s.aliases) + ": "
}

func (s *genState) introspection() string {
	s.features[featIntrospection] = true
	s.fields++
	return s.alias() + `__type(name: "Item") { name fields { name } }`
}

func (s *genState) inlineFragment(t *ast.Definition, depth int) string {
	on := ""
	if s.c.chance(70) {
		on = " on " + t.Name
		s.features[featInlineFragment] = true
	} else {
		s.features[featInlineNoType] = true
	}
	return "..." + on + s.directives(true) + " " + s.selectionSet(t, depth+1)
}

// spread spreads a named fragment on t: a new one, or one made earlier.
func (s *genState) spread(t *ast.Definition, depth int) string {
	var made []*genFragment
	for _, f := range s.frags {
		if f.done && f.on == t.Name {
			made = append(made, f)
		}
	}
	if len(made) > 0 && s.c.chance(40) {
		s.features[featFragmentReused] = true
		return "..." + made[s.c.intn(len(made))].name + s.directives(true)
	}
	s.features[featNamedFragment] = true
	f := &genFragment{name: "F" + strconv.Itoa(len(s.frags)+1), on: t.Name}
	s.frags = append(s.frags, f)
	f.body = s.selectionSet(t, depth+1)
	f.done = true
	return "..." + f.name + s.directives(true)
}

// field returns a field of t with its arguments, directives and, for an
// object, selection set. Past the bounds, only fields without a selection
// are picked (__typename where t has none).
func (s *genState) field(t *ast.Definition, depth int) string {
	deeper := depth < genMaxDepth && s.fields < genMaxFields
	var fields []*ast.FieldDefinition
	for _, f := range t.Fields {
		if strings.HasPrefix(f.Name, "__") || volatile[t.Name+"."+f.Name] {
			continue
		}
		if !s.hostile && s.token == featTokenNone && f.Directives.ForName("auth") != nil {
			continue
		}
		if !deeper && s.g.schema.Types[f.Type.Name()].Kind == ast.Object {
			continue
		}
		fields = append(fields, f)
	}
	if len(fields) == 0 {
		return s.typename()
	}
	f := fields[s.c.intn(len(fields))]
	s.features[featLeafFieldPrefix+feature(t.Name+"."+f.Name)] = true
	s.fields++
	var b strings.Builder
	if len(f.Arguments) > 0 {
		// Every field with arguments is aliased, so that two of them never
		// share a response key with different arguments; but the first of
		// a name goes without an alias, unless chosen otherwise.
		key := t.Name + "." + f.Name
		alias := s.alias()
		if alias == "" && s.unaliased[key] {
			alias = s.newAlias()
		}
		if alias == "" {
			s.unaliased[key] = true
		}
		b.WriteString(alias)
	} else {
		b.WriteString(s.alias())
	}
	b.WriteString(f.Name)
	if args := s.arguments(f); args != "" {
		b.WriteString("(" + args + ")")
	}
	b.WriteString(s.directives(false))
	if def := s.g.schema.Types[f.Type.Name()]; def.Kind == ast.Object {
		b.WriteByte(' ')
		b.WriteString(s.selectionSet(def, depth+1))
	}
	return b.String()
}

// directives returns nothing mostly, else @skip and/or @include, with a
// literal or a variable, and on fragments now and then @defer.
func (s *genState) directives(fragment bool) string {
	var b strings.Builder
	include := s.c.chance(50)
	// At most one of each: neither is repeatable.
	for range 2 {
		if !s.c.chance(12) {
			break
		}
		name, lit, vari := "skip", featSkipLiteral, featSkipVariable
		if include {
			name, lit, vari = "include", featIncludeLiteral, featIncludeVariable
		}
		include = !include
		value := s.c.chance(50)
		switch s.c.intn(3) {
		case 0:
			s.features[lit] = true
			fmt.Fprintf(&b, " @%s(if: %t)", name, value)
		case 1:
			s.features[vari] = true
			fmt.Fprintf(&b, " @%s(if: %s)", name, s.variable("Boolean!", "", value, false))
		default:
			s.features[vari] = true
			s.features[featDirectiveDefVar] = true
			// Boolean = literal: allowed where Boolean! is wanted, as it
			// has a non-null default; its value is sent or not.
			omit := s.c.chance(50)
			fmt.Fprintf(&b, " @%s(if: %s)", name, s.variable("Boolean", strconv.FormatBool(!value), value, omit))
		}
	}
	// One @defer at most: on main (5147e06) already, a batch field
	// (createdBy, Token.user) under two nested @defer hangs the request,
	// whichever executor answers, as in
	// { item(id: "7") { ... @defer { ... @defer { createdBy { id } } } } }.
	if fragment && !s.features[featDefer] && s.c.chance(5) {
		s.features[featDefer] = true
		b.WriteString(" @defer")
		if s.c.chance(50) {
			fmt.Fprintf(&b, "(if: %t)", s.c.chance(50))
		}
	}
	return b.String()
}

// variable declares a new variable of type typ (with default def, a
// literal, when not empty) whose value is value, or absent when omit, and
// returns its name.
func (s *genState) variable(typ, def string, value any, omit bool) string {
	name := "v" + strconv.Itoa(len(s.vars)+1)
	decl := "$" + name + ": " + typ
	if def != "" {
		decl += " = " + def
	}
	s.vars = append(s.vars, decl)
	if !omit {
		s.values[name] = value
	}
	return "$" + name
}

// arguments returns the arguments of a field: each omitted (when it may
// be), a literal or a variable.
func (s *genState) arguments(f *ast.FieldDefinition) string {
	var given []*ast.ArgumentDefinition
	for _, a := range f.Arguments {
		optional := !a.Type.NonNull
		// last and before are rarer; first and last together are an
		// error, which only hostile operations make.
		rare := (a.Name == "last" || a.Name == "before") && (!s.c.chance(30) || !s.hostile && len(given) > 0 && given[0].Name == "first")
		if optional && (s.c.intn(3) == 0 || rare) {
			if a.DefaultValue != nil {
				s.features[featArgDefault] = true
			}
			continue
		}
		given = append(given, a)
	}
	// The order comes first, so that cursors are of that order, but in
	// hostile operations.
	values := make([]any, len(given))
	s.cursors = f.Name
	for i, a := range given {
		if a.Name == "orderBy" {
			values[i] = s.value(a.Name, a.Type)
			if m, ok := values[i].(map[string]any); ok {
				s.cursors = fmt.Sprint(f.Name, " ", m["field"], " ", m["direction"])
			}
		}
	}
	if s.cursors == "items" {
		s.cursors = "items ID ASC"
	}
	parts := make([]string, len(given))
	for i, a := range given {
		parts[i] = a.Name + ": " + s.argument(a.Name, a.Type, a.DefaultValue != nil, values[i])
	}
	return strings.Join(parts, ", ")
}

// argument returns a value for an argument called name of type typ, as a
// literal or a variable: v, or one drawn when nil.
func (s *genState) argument(name string, typ *ast.Type, hasDefault bool, v any) string {
	if v == nil {
		v = s.value(name, typ)
	}
	switch s.c.intn(4) {
	case 0, 1:
		s.features[featArgLiteral] = true
		if def := s.g.schema.Types[typ.Name()]; def.Kind == ast.InputObject && s.c.chance(40) {
			return s.inputWithVariables(def, v)
		}
		return s.literal(v, typ)
	case 2:
		s.features[featArgVariable] = true
		if s.hostile && s.c.chance(20) {
			s.features[featBadVariable] = true
			return s.variable(typ.String(), "", s.badValue(typ), false)
		}
		if !typ.NonNull && s.c.chance(10) && (s.hostile || name != "orderBy") {
			s.features[featArgVarNull] = true
			return s.variable(typ.String(), "", nil, false)
		}
		return s.variable(typ.String(), "", toJSON(v), false)
	default:
		if typ.NonNull || hasDefault {
			s.features[featArgVariable] = true
			return s.variable(typ.String(), "", toJSON(v), false)
		}
		// A nullable variable with a default, sent or not.
		s.features[featArgVariable] = true
		omit := s.c.chance(50)
		if omit {
			s.features[featArgVarDefault] = true
		}
		other := v
		if s.hostile {
			other = s.value(name, typ)
		}
		return s.variable(typ.String(), s.literal(v, typ), toJSON(other), omit)
	}
}

// inputWithVariables writes an input object literal whose fields are
// variables.
func (s *genState) inputWithVariables(def *ast.Definition, v any) string {
	s.features[featInputVarFields] = true
	m := v.(map[string]any)
	var parts []string
	for _, f := range def.Fields {
		parts = append(parts, f.Name+": "+s.variable(f.Type.String(), "", toJSON(m[f.Name]), false))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// enumValue marks an enum value among the values the generator draws, so
// that a literal writes it bare.
type enumValue string

// value draws a value for an argument or input field called name, of
// type typ.
func (s *genState) value(name string, typ *ast.Type) any {
	d := s.g.data
	switch name {
	case "first", "last":
		switch k := s.c.intn(20); {
		case k < 12:
			return k // 0..11
		case k < 15:
			return 20
		case k < 17 || !s.hostile:
			return 100
		default:
			s.features[featInvalidInt] = true
			return []int{-1, 101, 1 << 30}[k-17]
		}
	case "after", "before":
		cursors := d.cursors[s.cursors]
		if s.hostile && s.c.chance(30) {
			// Malformed, or of another order or list.
			s.features[featInvalidCursor] = true
			cursors = d.badCursors
		}
		if len(cursors) == 0 {
			return ""
		}
		return cursors[s.c.intn(len(cursors))]
	case "id":
		if s.hostile && s.c.chance(30) {
			return d.badIDs[s.c.intn(len(d.badIDs))]
		}
		return d.ids[s.c.intn(len(d.ids))]
	case "query":
		return d.terms[s.c.intn(len(d.terms))]
	case "user":
		return d.users[s.c.intn(len(d.users))]
	}
	def := s.g.schema.Types[typ.Name()]
	if typ.Elem != nil {
		return []any{s.value(name, typ.Elem)}
	}
	switch def.Kind {
	case ast.Enum:
		return enumValue(def.EnumValues[s.c.intn(len(def.EnumValues))].Name)
	case ast.InputObject:
		m := map[string]any{}
		for _, f := range def.Fields {
			m[f.Name] = s.value(f.Name, f.Type)
		}
		return m
	}
	switch typ.Name() {
	case "Int":
		return s.c.intn(50)
	case "Boolean":
		return s.c.chance(50)
	case "ID":
		return d.ids[s.c.intn(len(d.ids))]
	}
	return d.terms[s.c.intn(len(d.terms))]
}

// badValue is a JSON value that typ refuses.
func (s *genState) badValue(typ *ast.Type) any {
	bad := []any{"12", 1.5, true, []any{1}, map[string]any{"a": 1}, 3_000_000_000}
	if typ.NonNull {
		bad = append(bad, nil)
	}
	if typ.Name() != "Int" {
		bad = append(bad, 7)
	}
	return bad[s.c.intn(len(bad))]
}

// literal writes v as a GraphQL literal of type typ.
func (s *genState) literal(v any, typ *ast.Type) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case enumValue:
		return string(v)
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case string:
		if typ.Name() != "ID" && s.c.chance(5) && blockable(v) {
			s.features[featBlockString] = true
			return `"""` + strings.ReplaceAll(v, `"""`, `\"""`) + `"""`
		}
		return quoteGraphQL(v)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = s.literal(e, typ.Elem)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		def := s.g.schema.Types[typ.Name()]
		var parts []string
		for _, f := range def.Fields {
			if e, ok := v[f.Name]; ok {
				parts = append(parts, f.Name+": "+s.literal(e, f.Type))
			}
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	panic(fmt.Sprintf("opgen: no literal for %T", v))
}

// blockable reports whether a block string holds v unchanged: block
// strings strip common indentation and blank first and last lines, and
// take no escapes but \""".
func blockable(v string) bool {
	return v != "" && !strings.ContainsAny(v, "\r\n\\\t") && strings.TrimSpace(v) == v &&
		!strings.HasSuffix(v, `"`) && strings.IndexFunc(v, func(r rune) bool { return r < 0x20 }) < 0
}

// quoteGraphQL writes s as a GraphQL string literal: quotes, backslashes
// and control characters escaped, the rest as is (non-BMP included).
func quoteGraphQL(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// toJSON turns a drawn value into what encoding/json writes as the
// variable's value.
func toJSON(v any) any {
	switch v := v.(type) {
	case enumValue:
		return string(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = toJSON(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = toJSON(e)
		}
		return out
	}
	return v
}

// constructs returns the features of fs that are constructs (not the
// per-field ones), sorted.
func constructs(fs map[feature]bool) []string {
	var out []string
	for f := range fs {
		if !strings.HasPrefix(string(f), string(featLeafFieldPrefix)) {
			out = append(out, string(f))
		}
	}
	sort.Strings(out)
	return out
}

// allFeatures lists every feature an operation may have, for schema:
// the constructs and every field the generator may select.
func allFeatures(schema *ast.Schema) []feature {
	fs := []feature{
		featAlias, featNamedFragment, featFragmentReused, featInlineFragment, featInlineNoType, featTypename,
		featSkipLiteral, featSkipVariable, featIncludeLiteral, featIncludeVariable, featDirectiveDefVar, featDefer,
		featArgLiteral, featArgVariable, featArgVarDefault, featArgVarNull, featArgDefault, featInputVarFields,
		featInvalidInt, featInvalidCursor, featBadVariable, featTokenNone, featTokenUser, featTokenAdmin,
		featTokenBogus, featGet, featOperationName, featBlockString, featIntrospection,
	}
	seen := map[string]bool{}
	var walk func(t *ast.Definition)
	walk = func(t *ast.Definition) {
		if seen[t.Name] {
			return
		}
		seen[t.Name] = true
		for _, f := range t.Fields {
			if strings.HasPrefix(f.Name, "__") || volatile[t.Name+"."+f.Name] {
				continue
			}
			fs = append(fs, featLeafFieldPrefix+feature(t.Name+"."+f.Name))
			if def := schema.Types[f.Type.Name()]; def.Kind == ast.Object {
				walk(def)
			}
		}
	}
	walk(schema.Query)
	slices.Sort(fs)
	return fs
}

// TestOpGenValid holds the generator to its word: random inputs (and the
// empty one) give operations that gqlparser parses and validates with the
// server's rules, whose variables are valid unless the operation sends a
// wrong one on purpose, that together reach every construct and every
// field, and that the server mostly answers without errors, so that the
// fuzz target compares answers, not only refusals.
func TestOpGenValid(t *testing.T) {
	env := newPlanEnv(t)
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 2000
	seen := map[feature]int{}
	clean := 0
	for i := range n {
		in := make([]byte, rng.IntN(300))
		for j := range in {
			in[j] = byte(rng.Uint32())
		}
		if i == 0 {
			in = nil
		}
		op := env.gen.generate(in)
		doc, err := parser.ParseQuery(&ast.Source{Input: op.Query})
		if err != nil {
			t.Fatalf("input %x: %v\n%s", in, err, op.Query)
		}
		if errs := validator.ValidateWithRules(env.gen.schema, doc, gqlspec.ValidationRules(true)()); len(errs) > 0 {
			t.Fatalf("input %x: %v\n%s", in, errs, op.Query)
		}
		if !op.Features[featBadVariable] {
			if _, err := validator.VariableValues(env.gen.schema, doc.Operations.ForName(op.OperationName), op.Variables); err != nil {
				t.Fatalf("input %x: variables %v: %v\n%s", in, op.Variables, err, op.Query)
			}
		}
		for f := range op.Features {
			seen[f]++
		}
		if i%10 == 0 {
			w := serve(env.gqlgen, op, env.tokens)
			if w.Code == http.StatusOK && !bytes.Contains(w.Body.Bytes(), []byte(`"errors":`)) {
				clean++
			}
		}
	}
	for _, f := range allFeatures(env.gen.schema) {
		if seen[f] == 0 {
			t.Errorf("none of %d operations has %s", n, f)
		}
	}
	if min := n / 10 / 2; clean < min {
		t.Errorf("%d of %d operations answered without errors, want at least %d", clean, n/10, min)
	}
	t.Logf("%d of %d answered without errors; constructs: %v", clean, n/10, seen)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// updateCorpus rewrites FuzzCompiledPlans' committed corpus:
// go test -run TestCompiledPlansCorpus ./httpapi -update-corpus.
var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzCompiledPlans from the generator")

const corpusDir = "testdata/fuzz/FuzzCompiledPlans"

// TestCompiledPlansCorpus checks that the committed corpus, which every
// go test runs through FuzzCompiledPlans on both paths, reaches every
// construct and every field. With -update-corpus it first picks a new
// one from random inputs: greedily the inputs that add most of what is
// not yet reached, then the richest others, corpusSize in all.
func TestCompiledPlansCorpus(t *testing.T) {
	env := newPlanEnv(t)
	const corpusSize = 40
	if *updateCorpus {
		rng := rand.New(rand.NewPCG(7, 7))
		type candidate struct {
			in []byte
			fs map[feature]bool
		}
		var cands []candidate
		for range 5000 {
			in := make([]byte, 20+rng.IntN(400))
			for j := range in {
				in[j] = byte(rng.Uint32())
			}
			cands = append(cands, candidate{in, env.gen.generate(in).Features})
		}
		covered := map[feature]bool{}
		var picked [][]byte
		for len(picked) < corpusSize && len(cands) > 0 {
			best, bestNew, bestAll := 0, -1, 0
			for i, c := range cands {
				n := 0
				for f := range c.fs {
					if !covered[f] {
						n++
					}
				}
				if n > bestNew || n == bestNew && len(c.fs) > bestAll {
					best, bestNew, bestAll = i, n, len(c.fs)
				}
			}
			for f := range cands[best].fs {
				covered[f] = true
			}
			picked = append(picked, cands[best].in)
			cands = slices.Delete(cands, best, best+1)
		}
		if err := os.RemoveAll(corpusDir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(corpusDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, in := range picked {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", in)
			if err := os.WriteFile(filepath.Join(corpusDir, fmt.Sprintf("gen%02d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	files, err := filepath.Glob(filepath.Join(corpusDir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus in %s: %v", corpusDir, err)
	}
	seen := map[feature]bool{}
	for _, name := range files {
		in := readCorpusEntry(t, name)
		for f := range env.gen.generate(in).Features {
			seen[f] = true
		}
	}
	for _, f := range allFeatures(env.gen.schema) {
		if !seen[f] {
			t.Errorf("no entry of %s has %s: run with -update-corpus", corpusDir, f)
		}
	}
}

// readCorpusEntry reads a corpus file of one []byte, as go test writes
// them.
func readCorpusEntry(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	rest, ok := strings.CutPrefix(string(b), "go test fuzz v1\n")
	lit, ok2 := strings.CutPrefix(strings.TrimSpace(rest), "[]byte(")
	lit, ok3 := strings.CutSuffix(lit, ")")
	s, err := strconv.Unquote(lit)
	if !ok || !ok2 || !ok3 || err != nil {
		t.Fatalf("%s: not a corpus entry of one []byte: %q", name, b)
	}
	return []byte(s)
}
