package httpapi_test

import (
	"testing"

	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"itemsapi/items"
)

// TestGqlgenCodes checks that the table spells the codes gqlgen makes as
// gqlgen does, so that the errors of the limits and variables passes are
// protocol errors to gqlgen as its own are: the websocket transport
// answers them with an error message, not a result.
func TestGqlgenCodes(t *testing.T) {
	gqlgens := map[items.Code]string{
		items.ParseFailed:      errcode.ParseFailed,
		items.ValidationFailed: errcode.ValidationFailed,
	}
	for code, gqlgen := range gqlgens {
		if got := code.Public(); got != gqlgen {
			t.Errorf("%s.Public() = %q, want gqlgen's %q", code, got, gqlgen)
		}
		errs := gqlerror.List{{Message: "x", Extensions: code.Extensions()}}
		if errcode.GetErrorKind(errs) != errcode.KindProtocol {
			t.Errorf("an error of code %s is not a protocol error to gqlgen", code)
		}
	}
}
