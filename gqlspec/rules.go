package gqlspec

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// ValidationRules returns gqlparser's default validation rules with two
// changes, so that a literal in a document is refused as its variable
// would be (StrictVariables), naming the value as written:
//   - Int32Literals refuses an Int literal beyond 32 bits that gqlparser
//     lets through when it fits 64 (2147483648 reached the resolver and was
//     an items.Invalid field error instead of items.ValidationFailed);
//   - ValuesOfCorrectType reports each error once (gqlparser reports
//     "Int cannot represent non-integer value: 1e400" twice).
//
// With suggest false, no message suggests a name ("Did you mean …?"):
// the names it would suggest are the schema's, which turning
// introspection off hides. gqlgen's SetDisableSuggestion leaves them out
// of the errors of unknown fields only; gqlparser still suggests
// arguments, input fields, enum values and types.
//
// It returns the function that gqlgen's SetValidationRulesFn takes.
func ValidationRules(suggest bool) func() *rules.Rules {
	return func() *rules.Rules {
		r := rules.NewDefaultRules()
		r.ReplaceRule(rules.ValuesOfCorrectTypeRule.Name, onceEach(rules.ValuesOfCorrectTypeRule.RuleFunc))
		r.AddRule(int32Literals.Name, int32Literals.RuleFunc)
		if !suggest {
			for name, rule := range r.GetInner() {
				r.ReplaceRule(name, withoutSuggestions(rule))
			}
		}
		return r
	}
}

// withoutSuggestions wraps a rule so that its messages end before the
// names they suggest.
func withoutSuggestions(rule core.RuleFunc) core.RuleFunc {
	return func(observers *core.Events, addError core.AddErrFunc) {
		rule(observers, func(options ...core.ErrorOption) {
			addError(append(options, func(e *gqlerror.Error) {
				if i := strings.Index(e.Message, " Did you mean "); i >= 0 {
					e.Message = e.Message[:i]
				}
			})...)
		})
	}
}

// int32Literals refuses an Int literal that fits 64 bits but not 32;
// longer ones gqlparser refuses itself.
var int32Literals = core.Rule{
	Name: "Int32Literals",
	RuleFunc: func(observers *core.Events, addError core.AddErrFunc) {
		observers.OnValue(func(_ *core.Walker, value *ast.Value) {
			if value.Kind != ast.IntValue || value.Definition == nil || value.Definition.Name != "Int" ||
				value.Definition.Kind != ast.Scalar {
				return
			}
			n, err := strconv.ParseInt(value.Raw, 10, 64)
			if errors.Is(err, strconv.ErrRange) || err == nil && n >= math.MinInt32 && n <= math.MaxInt32 {
				return
			}
			addError(core.Message("Int cannot represent non 32-bit signed integer value: %s", value.Raw), core.At(value.Position))
		})
	},
}

// onceEach wraps a rule so that it reports an error (a message at a
// position) once however often it finds it in one document.
func onceEach(rule core.RuleFunc) core.RuleFunc {
	return func(observers *core.Events, addError core.AddErrFunc) {
		seen := make(map[string]bool)
		rule(observers, func(options ...core.ErrorOption) {
			var e gqlerror.Error
			for _, o := range options {
				o(&e)
			}
			key := fmt.Sprint(e.Message, e.Locations, e.Path)
			if seen[key] {
				return
			}
			seen[key] = true
			addError(options...)
		})
	}
}
