// Command gqlgen generates the GraphQL layer from gqlgen.yml, as
// `gqlgen generate` does, with one change to the generated code and one
// rule checked: lists of objects are marshalled in order on the calling
// goroutine, and so no field under a list may block per element.
//
// Stock gqlgen marshals every element of an object list in a goroutine of
// its own (graphql.MarshalSliceConcurrently), whether or not any field of
// the element can block. Here none can: the one resolver under a list,
// Item.createdBy, is a batch resolver that loads a whole page at once, and
// every other field is a value already in memory. A goroutine per element
// then costs far more than the work it runs: measured on this schema,
// items(first: 100) spent most of its time starting, scheduling and
// waiting for goroutines.
//
// So after gqlgen has generated graph/generated.go, every call of
// graphql.MarshalSliceConcurrently in it becomes a call of
// gqlspec.MarshalSlice, which has the same signature and semantics (field
// contexts with the element's index, panic recovery per element) but runs
// in order. That is only sound while every field reachable under a list
// is either a value or a batch resolver (gqlgen.yml: `batch: true`), so
// generation fails, naming the field, when a schema change adds a
// resolver field under a list that is not a batch resolver.
//
// Run through go generate (see graph/resolver.go); regenerating leaves no
// diff, and .ci/run checks that.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"sort"
	"strings"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
	"github.com/vektah/gqlparser/v2/ast"
	"golang.org/x/tools/go/ast/astutil"
)

const (
	concurrent = "graphql.MarshalSliceConcurrently("
	sequential = "gqlspec.MarshalSlice("
	specImport = "itemsapi/gqlspec"
)

func main() {
	if err := generate(); err != nil {
		fmt.Fprintln(os.Stderr, "gqlgen:", err)
		os.Exit(1)
	}
}

func generate() error {
	cfg, err := config.LoadConfigFromDefaultLocations()
	if err != nil {
		return fmt.Errorf("loading gqlgen.yml: %w", err)
	}
	if err := api.Generate(cfg, api.AddPlugin(listRule{}), api.AddPlugin(planPlugin{})); err != nil {
		return err
	}
	return marshalListsInOrder(cfg.Exec.Filename)
}

// listRule is a gqlgen plugin that checks, before any code is written,
// that every resolver field reachable under a list is a batch resolver.
type listRule struct{}

func (listRule) Name() string { return "in-order lists" }

// GenerateCode implements plugin.CodeGenerator.
func (listRule) GenerateCode(data *codegen.Data) error {
	return checkListResolvers(data.Schema, resolverFields(data))
}

// field names one field of an object: Type.field.
type field struct{ object, name string }

// fieldKind says whether a field runs a resolver, and whether a batch one.
type fieldKind struct{ resolver, batch bool }

func resolverFields(data *codegen.Data) map[field]fieldKind {
	kinds := make(map[field]fieldKind)
	for _, o := range data.Objects {
		for _, f := range o.Fields {
			kinds[field{o.Name, f.Name}] = fieldKind{resolver: f.IsResolver, batch: f.Batch}
		}
	}
	return kinds
}

// checkListResolvers fails when a field that resolves one element at a
// time (a resolver that is not a batch resolver) can be reached from the
// elements of a list: those elements are marshalled one after another,
// so such a field would run, and wait, once per element in turn.
// Subscriptions are not lists; their roots are skipped, as are the roots
// of queries and mutations (a root field is no element of anything).
func checkListResolvers(schema *ast.Schema, kinds map[field]fieldKind) error {
	underList := make(map[string]bool) // object types reachable under a list
	var visit func(name string)
	visit = func(name string) {
		def := schema.Types[name]
		if def == nil || underList[name] || (def.Kind != ast.Object && def.Kind != ast.Interface && def.Kind != ast.Union) {
			return
		}
		underList[name] = true
		for _, t := range schema.GetPossibleTypes(def) {
			visit(t.Name)
		}
		for _, f := range def.Fields {
			visit(f.Type.Name())
		}
	}
	for _, def := range schema.Types {
		if def.BuiltIn {
			continue
		}
		for _, f := range def.Fields {
			if f.Type.Elem != nil {
				visit(f.Type.Name())
			}
		}
	}
	var bad []string
	for name := range underList {
		if strings.HasPrefix(name, "__") {
			continue // introspection: gqlgen's own, values in memory
		}
		for _, f := range schema.Types[name].Fields {
			if k := kinds[field{name, f.Name}]; k.resolver && !k.batch {
				bad = append(bad, name+"."+f.Name)
			}
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return fmt.Errorf("%s: resolver fields under a list must be batch resolvers (gqlgen.yml: batch: true), "+
		"as lists are marshalled in order (see gqlspec/gqlgen)", strings.Join(bad, ", "))
}

// marshalListsInOrder rewrites the calls of MarshalSliceConcurrently in
// the generated file and imports gqlspec there. It fails when there are
// none, so that a gqlgen release that renames the function cannot
// silently undo the change.
func marshalListsInOrder(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if bytes.Count(src, []byte(concurrent)) == 0 {
		return errors.New(path + ": no call of " + concurrent + ") to rewrite; has gqlgen changed?")
	}
	src = bytes.ReplaceAll(src, []byte(concurrent), []byte(sequential))
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return err
	}
	astutil.AddImport(fset, file, specImport)
	var out bytes.Buffer
	if err := format.Node(&out, fset, file); err != nil {
		return err
	}
	return os.WriteFile(path, out.Bytes(), 0o644)
}
