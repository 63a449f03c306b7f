package gqlspec

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"itemsapi/gqlspec/scalar"
	"itemsapi/items"
)

// StrictVariables is a gqlgen extension that coerces variables as the
// GraphQL specification says, before anything executes. gqlparser lets a
// JSON number pass as a String (it arrives as a json.Number, which is a
// Go string), a string of digits as an Int, and an Int beyond 32 bits;
// this refuses them, with code items.ValidationFailed, so that a
// request with such variables is a request error and not a field error.
//
// Every refusal names the value the client sent: "Variable "$n" got an
// invalid value: Int cannot represent non-integer value: 5.0". gqlparser
// coerces variables before any extension sees the operation, and its own
// refusals do not ("cannot use value 0 as Int" for 5.0 or 1e400, after a
// failed conversion), so StrictVariables also keeps the variables as sent,
// before gqlparser converts them, for the error presenter to explain such
// a refusal in the same words (see ExplainVariable).
type StrictVariables struct {
	schema *ast.Schema
}

var (
	_ graphql.HandlerExtension          = (*StrictVariables)(nil)
	_ graphql.OperationParameterMutator = (*StrictVariables)(nil)
	_ graphql.OperationContextMutator   = (*StrictVariables)(nil)
)

// ExtensionName implements graphql.HandlerExtension.
func (*StrictVariables) ExtensionName() string { return "StrictVariables" }

// Validate implements graphql.HandlerExtension; it keeps the schema.
func (s *StrictVariables) Validate(es graphql.ExecutableSchema) error {
	s.schema = es.Schema()
	return nil
}

// sentVariablesKey names the variables as sent among the operation's
// stats extensions.
const sentVariablesKey = "StrictVariables.sent"

// sentVariables are the variables of a request as the client sent them.
type sentVariables struct {
	schema *ast.Schema
	values map[string]any
}

// MutateOperationParameters implements graphql.OperationParameterMutator:
// it keeps the variables as sent, for ExplainVariable. It refuses nothing.
func (s *StrictVariables) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if len(p.Variables) > 0 && graphql.HasOperationContext(ctx) {
		graphql.GetOperationContext(ctx).Stats.SetExtension(sentVariablesKey, &sentVariables{s.schema, p.Variables})
	}
	return nil
}

// MutateOperationContext implements graphql.OperationContextMutator.
func (s *StrictVariables) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	for _, def := range oc.Operation.VariableDefinitions {
		v, ok := oc.Variables[def.Variable]
		if !ok {
			continue
		}
		// The path is made for a refusal only: check returns where below
		// the variable the value is wrong.
		if at, msg := check(s.schema, def.Type, v, nil); msg != "" {
			at = append(ast.Path{ast.PathName(def.Variable)}, at...)
			return &gqlerror.Error{
				Message:    variableMessage(def.Variable, at, msg),
				Path:       append(ast.Path{ast.PathName("variable")}, at...), // as gqlparser's
				Locations:  []gqlerror.Location{{Line: def.Position.Line, Column: def.Position.Column}},
				Extensions: items.ValidationFailed.Extensions(),
			}
		}
	}
	return nil
}

// variableMessage is the message of a refused variable: what is wrong
// with the value at path (the variable itself, or a part of it).
func variableMessage(name string, path ast.Path, msg string) string {
	if len(path) <= 1 {
		return fmt.Sprintf("Variable \"$%s\" got an invalid value: %s", name, msg)
	}
	return fmt.Sprintf("Variable \"$%s\" got an invalid value at %s: %s", name, path, msg)
}

// check returns where in v, a value of type t at path, something is
// wrong, and what; or "".
func check(schema *ast.Schema, t *ast.Type, v any, path ast.Path) (ast.Path, string) {
	if v == nil {
		return nil, "" // gqlparser has checked nullability
	}
	if t.Elem != nil {
		list, ok := v.([]any)
		if !ok { // a single value stands for a list of one
			return check(schema, t.Elem, v, path)
		}
		for i, e := range list {
			if at, msg := check(schema, t.Elem, e, append(path[:len(path):len(path)], ast.PathIndex(i))); msg != "" {
				return at, msg
			}
		}
		return nil, ""
	}
	def := schema.Types[t.NamedType]
	if def == nil {
		return nil, ""
	}
	if def.Kind == ast.InputObject {
		obj, ok := v.(map[string]any)
		if !ok {
			return path, fmt.Sprintf("%s must be an object, not %s", def.Name, scalar.Describe(v))
		}
		for _, f := range def.Fields {
			if fv, ok := obj[f.Name]; ok {
				if at, msg := check(schema, f.Type, fv, append(path[:len(path):len(path)], ast.PathName(f.Name))); msg != "" {
					return at, msg
				}
			}
		}
		return nil, ""
	}
	if msg := valueProblem(def, v); msg != "" {
		return path, msg
	}
	return nil, ""
}

// valueProblem says why v, sent as JSON, is not a value of the scalar or
// enum def, naming v; or "" when it is one as far as coercion goes (an ID
// or a Time of the wrong form is left to its resolver, items.Invalid).
func valueProblem(def *ast.Definition, v any) string {
	if def.Kind == ast.Enum {
		if _, ok := v.(string); !ok {
			return fmt.Sprintf("Enum %q cannot represent non-enum value: %s", def.Name, scalar.Describe(v))
		}
		return ""
	}
	if def.Kind != ast.Scalar {
		return ""
	}
	switch def.Name {
	case "Int":
		if _, err := scalar.UnmarshalInt(v); err != nil {
			return items.ErrorMessage(err)
		}
	case "Float":
		switch v := v.(type) {
		case json.Number:
			if _, err := v.Float64(); err != nil {
				return "Float cannot represent a value out of range: " + scalar.Describe(v)
			}
		case float64, int, int32, int64:
		default:
			return "Float cannot represent non numeric value: " + scalar.Describe(v)
		}
	case "String", "Time":
		if _, ok := v.(string); !ok {
			return def.Name + " cannot represent a non string value: " + scalar.Describe(v)
		}
	case "Boolean":
		if _, ok := v.(bool); !ok {
			return "Boolean cannot represent a non boolean value: " + scalar.Describe(v)
		}
	case "ID":
		switch v := v.(type) {
		case string, int, int32, int64:
		case json.Number:
			if strings.ContainsAny(string(v), ".eE") {
				return "ID cannot represent a non-string and non-integer value: " + scalar.Describe(v)
			}
		default:
			return "ID cannot represent a non-string and non-integer value: " + scalar.Describe(v)
		}
	}
	return ""
}

// ExplainVariable returns the message that names the value of a variable
// which gqlparser refused to coerce, in the words of StrictVariables; or
// "" when it cannot tell (no variables kept, a path that leads nowhere).
// path is that of gqlparser's error: "variable", the variable's name, then
// the way into the value.
func ExplainVariable(ctx context.Context, path ast.Path) string {
	if len(path) < 2 || path[0] != ast.PathName("variable") || !graphql.HasOperationContext(ctx) {
		return ""
	}
	oc := graphql.GetOperationContext(ctx)
	sent, ok := oc.Stats.GetExtension(sentVariablesKey).(*sentVariables)
	name, isName := path[1].(ast.PathName)
	if !ok || !isName || oc.Operation == nil {
		return ""
	}
	def := oc.Operation.VariableDefinitions.ForName(string(name))
	v, ok := sent.values[string(name)]
	if def == nil || !ok {
		return ""
	}
	t := def.Type
	for _, step := range path[2:] {
		switch step := step.(type) {
		case ast.PathIndex:
			if t.Elem == nil {
				return ""
			}
			t = t.Elem
			if list, ok := v.([]any); ok { // else a single value stands for a list of one
				if int(step) >= len(list) {
					return ""
				}
				v = list[step]
			}
		case ast.PathName:
			obj, ok := v.(map[string]any)
			typ := sent.schema.Types[t.Name()]
			if !ok || typ == nil || typ.Fields.ForName(string(step)) == nil {
				return ""
			}
			v, t = obj[string(step)], typ.Fields.ForName(string(step)).Type
		}
	}
	typ := sent.schema.Types[t.Name()]
	if v == nil || t.Elem != nil || typ == nil {
		return ""
	}
	if msg := valueProblem(typ, v); msg != "" {
		return variableMessage(string(name), path[1:], msg)
	}
	return ""
}
