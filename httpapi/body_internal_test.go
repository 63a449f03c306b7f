package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// TestReadParamsKeepsNoBody: the buffer a body is read into goes back to
// its pool, so nothing decoded from it may keep its bytes: the requests
// read after it, into the same buffer, leave it as it was.
func TestReadParamsKeepsNoBody(t *testing.T) {
	bodies := []string{
		`{"query":"query A($n: Int) { item(id: \"1\") { id } }","operationName":"A","variables":{"n":12345,"s":"text","l":[1.5,"x"]},"extensions":{"e":{"k":"v"}}}`,
		`{"Query":"query B { items { nodes { id } } }","variables":{"n":67890}}`, // json.Unmarshal's path
		`[{"query":"query C { __typename }","variables":{"n":1}},{"query":"query D { __typename }"}]`,
	}
	tr := httpTransport{maxBatch: 10}
	read := func(body string) []*graphql.RawParams {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		batch, _, reqErr := tr.readParams(r)
		if reqErr != nil {
			t.Fatalf("readParams(%s): %+v", body, reqErr)
		}
		return batch
	}
	for i, body := range bodies {
		got := read(body)
		want, _ := json.Marshal(got)
		for range 3 { // overwrite the pooled buffer with other bodies
			read(strings.Repeat(" ", 40) + bodies[(i+1)%len(bodies)])
			read(bodies[(i+2)%len(bodies)])
		}
		if after, _ := json.Marshal(got); !reflect.DeepEqual(after, want) {
			t.Errorf("the parameters of %s changed as later bodies were read:\n%s\nnow\n%s", body, want, after)
		}
	}
}
