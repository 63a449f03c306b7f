package httpapi

import (
	"net/http"
	"testing"
)

// FuzzParamsFromJSON checks that any body is either a GraphQL request or
// a 400, never a panic.
func FuzzParamsFromJSON(f *testing.F) {
	for _, s := range []string{
		`{"query":"{ __typename }"}`, `{"query":1}`, `{}`, `[]`, `{"query":"q","variables":{"a":1.5e300}}`,
		`{"query":"q","variables":[]}`, `{"query":"q"} x`, `{"extensions":{"persistedQuery":{"version":1}}}`, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, reqErr := paramsFromJSON(body)
		switch {
		case reqErr != nil:
			if reqErr.status != http.StatusBadRequest || reqErr.message == "" {
				t.Fatalf("paramsFromJSON(%q) = %+v", body, reqErr)
			}
		case p == nil:
			t.Fatalf("paramsFromJSON(%q) = nil, nil", body)
		case p.Query == "" && !hasPersistedQuery(p.Extensions):
			t.Fatalf("paramsFromJSON(%q) accepted a request without a query", body)
		}
	})
}
