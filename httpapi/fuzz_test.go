package httpapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// FuzzParamsFromJSON checks that any body is either a GraphQL request or
// a 400, never a panic.
func FuzzParamsFromJSON(f *testing.F) {
	for _, s := range []string{
		`{"query":"{ __typename }"}`, `{"query":1}`, `{}`, `[]`, `{"query":"q","variables":{"a":1.5e300}}`,
		`{"query":"q","variables":[]}`, `{"query":"q"} x`, `{"extensions":{"persistedQuery":{"version":1}}}`, "\xff",
		`{"documentId":"sha256:abc"}`, `{"documentId":1}`, `{"documentId":"x","query":"q"}`, `{"documentId":null,"query":"q"}`,
		// The shapes paramsFast decodes, and their neighbours that it leaves to json.Unmarshal.
		`{"query":"query Get($id: ID!) { item(id: $id) { id } }","variables":{"id":"1"},"operationName":"Get"}`,
		" {\n \"query\" : \"q\\n\\u00e9\\ud83d\\ude00\" , \"variables\" : { \"a\" : [ 1 , -2.5e3 , true , null , { } ] } , \"extensions\" : null } ",
		`{"query":"q","QUERY":"r"}`, `{"Query":"q"}`, `{"query":"q","query":"r"}`, `{"qu\u0065ry":"q"}`, `{"query":null,"operationName":null}`,
		`{"query":"q","operationName":1}`, `{"query":"q","variables":null,"extensions":{"persistedQuery":{"version":1}}}`, `{"query":"q","x":1}`,
		`{"query":"q","variables":"v"}`, `{"query":"\ud800"}`, `{"query":"q"`, `{"query":"q",}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, reqErr := paramsFromJSON(body)
		want, wantErr := paramsFromJSONReference(body)
		if !reflect.DeepEqual(p, want) || !reflect.DeepEqual(reqErr, wantErr) {
			t.Fatalf("paramsFromJSON(%q) = %+v, %+v; the reference says %+v, %+v", body, p, reqErr, want, wantErr)
		}
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

// paramsFromJSONReference is the first implementation of paramsFromJSON,
// which decoded each member in a pass of its own: simpler to check by
// eye, and what the fuzzer holds the faster one to.
func paramsFromJSONReference(body []byte) (*graphql.RawParams, *requestError) {
	w, reqErr := decodeWireParams(body)
	if reqErr != nil {
		return nil, reqErr
	}
	p := &graphql.RawParams{}
	if reqErr := decodeStringReference(w.Query, "query", &p.Query); reqErr != nil {
		return nil, reqErr
	}
	if reqErr := decodeStringReference(w.OperationName, "operationName", &p.OperationName); reqErr != nil {
		return nil, reqErr
	}
	if reqErr := decodeObject(w.Variables, "variables", &p.Variables); reqErr != nil {
		return nil, reqErr
	}
	if reqErr := decodeObject(w.Extensions, "extensions", &p.Extensions); reqErr != nil {
		return nil, reqErr
	}
	var documentID any
	if len(w.DocumentID) > 0 {
		_ = json.Unmarshal(w.DocumentID, &documentID)
	}
	if reqErr := withDocumentID(p, documentID); reqErr != nil {
		return nil, reqErr
	}
	if p.Query == "" && !hasPersistedQuery(p.Extensions) {
		return nil, &requestError{http.StatusBadRequest, "the request has no query: send a GraphQL document as a string in query"}
	}
	return p, nil
}

// decodeStringReference decodes a JSON string or null into dst.
func decodeStringReference(raw json.RawMessage, name string, dst *string) *requestError {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] != '"' || json.Unmarshal(raw, dst) != nil {
		return &requestError{http.StatusBadRequest, name + " must be a string"}
	}
	return nil
}
