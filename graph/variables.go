package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// StrictVariables is a gqlgen extension that coerces variables as the
// GraphQL specification says, before anything executes. gqlparser lets a
// JSON number pass as a String (it arrives as a json.Number, which is a
// Go string) and a string of digits as an Int; this refuses both, with
// code GRAPHQL_VALIDATION_FAILED, so that a request with such variables is
// a request error and not a field error.
type StrictVariables struct {
	schema *ast.Schema
}

var (
	_ graphql.HandlerExtension        = (*StrictVariables)(nil)
	_ graphql.OperationContextMutator = (*StrictVariables)(nil)
)

// ExtensionName implements graphql.HandlerExtension.
func (*StrictVariables) ExtensionName() string { return "StrictVariables" }

// Validate implements graphql.HandlerExtension; it keeps the schema.
func (s *StrictVariables) Validate(es graphql.ExecutableSchema) error {
	s.schema = es.Schema()
	return nil
}

// MutateOperationContext implements graphql.OperationContextMutator.
func (s *StrictVariables) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	for _, def := range oc.Operation.VariableDefinitions {
		v, ok := oc.Variables[def.Variable]
		if !ok {
			continue
		}
		if msg := s.check(def.Type, v, def.Variable); msg != "" {
			return &gqlerror.Error{
				Message:    fmt.Sprintf("Variable \"$%s\" got an invalid value: %s", def.Variable, msg),
				Locations:  []gqlerror.Location{{Line: def.Position.Line, Column: def.Position.Column}},
				Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"},
			}
		}
	}
	return nil
}

// check returns what is wrong with v as a value of type t at path, or "".
func (s *StrictVariables) check(t *ast.Type, v any, path string) string {
	if v == nil {
		return "" // gqlparser has checked nullability
	}
	if t.Elem != nil {
		list, ok := v.([]any)
		if !ok { // a single value stands for a list of one
			return s.check(t.Elem, v, path)
		}
		for i, e := range list {
			if msg := s.check(t.Elem, e, fmt.Sprintf("%s[%d]", path, i)); msg != "" {
				return msg
			}
		}
		return ""
	}
	def := s.schema.Types[t.NamedType]
	if def == nil {
		return ""
	}
	switch def.Kind {
	case ast.InputObject:
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Sprintf("at %q, %s must be an object", path, def.Name)
		}
		for _, f := range def.Fields {
			if fv, ok := obj[f.Name]; ok {
				if msg := s.check(f.Type, fv, path+"."+f.Name); msg != "" {
					return msg
				}
			}
		}
	case ast.Enum:
		if _, ok := v.(string); !ok {
			return fmt.Sprintf("at %q, %s must be one of its values as a string", path, def.Name)
		}
	case ast.Scalar:
		if !scalarAccepts(def.Name, v) {
			return fmt.Sprintf("at %q, %s cannot represent %s", path, def.Name, kindOf(v))
		}
	}
	return ""
}

// scalarAccepts reports whether a JSON value may stand for a scalar.
func scalarAccepts(scalar string, v any) bool {
	switch scalar {
	case "String", "Time":
		_, ok := v.(string)
		return ok
	case "Boolean":
		_, ok := v.(bool)
		return ok
	case "Int":
		n, ok := v.(json.Number)
		if !ok {
			return isInt(v)
		}
		i, err := n.Int64()
		return err == nil && i >= math.MinInt32 && i <= math.MaxInt32
	case "Float":
		switch v.(type) {
		case json.Number, float64, int, int64:
			return true
		}
		return false
	case "ID":
		switch v := v.(type) {
		case string:
			return true
		case json.Number:
			return !strings.ContainsAny(string(v), ".eE")
		default:
			return isInt(v)
		}
	}
	return true
}

func isInt(v any) bool {
	switch v.(type) {
	case int, int32, int64:
		return true
	}
	return false
}

// kindOf names the JSON kind of v for an error message.
func kindOf(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number, float64, int, int32, int64:
		return "a number"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	return "that value"
}
