// Command gqlgen generates the GraphQL layer from gqlgen.yml, as
// `gqlgen generate` does, with one change to the generated code: lists of
// objects are marshalled in order on the calling goroutine.
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
// graph.marshalSlice, which has the same signature and semantics (field
// contexts with the element's index, panic recovery per element) but runs
// in order. A schema change that adds a field that blocks per element
// under a list must make it a batch resolver too (gqlgen.yml: batch: true).
//
// Run through go generate (see graph/resolver.go); regenerating leaves no
// diff, and .ci/run checks that.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen/config"
)

const (
	concurrent = "graphql.MarshalSliceConcurrently("
	sequential = "marshalSlice("
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
	if err := api.Generate(cfg, api.AddPlugin(planPlugin{})); err != nil {
		return err
	}
	return marshalListsInOrder(cfg.Exec.Filename)
}

// marshalListsInOrder rewrites the calls of MarshalSliceConcurrently in
// the generated file. It fails when there are none, so that a gqlgen
// release that renames the function cannot silently undo the change.
func marshalListsInOrder(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	n := bytes.Count(src, []byte(concurrent))
	if n == 0 {
		return errors.New(path + ": no call of " + concurrent + ") to rewrite; has gqlgen changed?")
	}
	out := bytes.ReplaceAll(src, []byte(concurrent), []byte(sequential))
	return os.WriteFile(path, out, 0o644)
}
