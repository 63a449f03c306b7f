package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"itemsapi/httpapi"
	"itemsapi/items"
)

// rawResponse is an HTTP response as a client that checks the protocol
// sees it.
type rawResponse struct {
	status      int
	contentType string
	allow       string
	body        map[string]json.RawMessage
	raw         string
}

func (ts *testServer) raw(t *testing.T, method, path, contentType, accept, body string) rawResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, b := roundTrip(t, ts.Client(), req)
	r := rawResponse{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), allow: resp.Header.Get("Allow"), raw: string(b)}
	_ = json.Unmarshal(b, &r.body)
	return r
}

// code returns the extensions.code of the first error.
func (r rawResponse) code() string {
	var errs []gqlError
	_ = json.Unmarshal(r.body["errors"], &errs)
	if len(errs) == 0 {
		return ""
	}
	return errs[0].Code()
}

func TestGraphQLOverHTTP(t *testing.T) {
	ts := newTestServer(t)
	const (
		jsonCT  = "application/json"
		gqlResp = "application/graphql-response+json"
	)
	getQuery := func(q string) string { return "/graphql?query=" + url.QueryEscape(q) }
	tests := []struct {
		name, method, path, contentType, accept, body string

		wantStatus int
		wantCode   string
		wantData   bool
		wantCT     string
		wantAllow  string
	}{
		{name: "query", method: "POST", contentType: jsonCT, body: `{"query":"{ item(id: \"1\") { name } }"}`,
			wantStatus: 200, wantData: true, wantCT: jsonCT},
		{name: "query with graphql-response", method: "POST", contentType: jsonCT, accept: gqlResp, body: `{"query":"{ item(id: \"1\") { name } }"}`,
			wantStatus: 200, wantData: true, wantCT: gqlResp},
		{name: "charset in content type", method: "POST", contentType: "application/json; charset=utf-8", body: `{"query":"{ __typename }"}`,
			wantStatus: 200, wantData: true, wantCT: jsonCT},
		{name: "parse error, json", method: "POST", contentType: jsonCT, accept: jsonCT, body: `{"query":"{"}`,
			wantStatus: 200, wantCode: "GRAPHQL_PARSE_FAILED", wantCT: jsonCT},
		{name: "parse error, graphql-response", method: "POST", contentType: jsonCT, accept: gqlResp, body: `{"query":"{"}`,
			wantStatus: 400, wantCode: "GRAPHQL_PARSE_FAILED", wantCT: gqlResp},
		{name: "validation error, graphql-response", method: "POST", contentType: jsonCT, accept: gqlResp, body: `{"query":"{ nope }"}`,
			wantStatus: 400, wantCode: "GRAPHQL_VALIDATION_FAILED", wantCT: gqlResp},
		{name: "variable coercion, graphql-response", method: "POST", contentType: jsonCT, accept: gqlResp,
			body:       `{"query":"query($id: ID!) { item(id: $id) { id } }","variables":{"id":true}}`,
			wantStatus: 400, wantCode: "GRAPHQL_VALIDATION_FAILED", wantCT: gqlResp},
		{name: "unknown operation name", method: "POST", contentType: jsonCT, body: `{"query":"query A { __typename }","operationName":"B"}`,
			wantStatus: 200, wantCode: "GRAPHQL_VALIDATION_FAILED"},
		{name: "malformed JSON", method: "POST", contentType: jsonCT, body: `{"query":`,
			wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "query not a string", method: "POST", contentType: jsonCT, body: `{"query":1}`,
			wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "no query", method: "POST", contentType: jsonCT, body: `{}`,
			wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "variables not an object", method: "POST", contentType: jsonCT, body: `{"query":"{ __typename }","variables":[]}`,
			wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "operationName not a string", method: "POST", contentType: jsonCT, body: `{"query":"{ __typename }","operationName":5}`,
			wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "invalid UTF-8", method: "POST", contentType: jsonCT, body: "{\"query\":\"{ search(query: \\\"\xff\\\") { totalCount } }\"}",
			wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "text/plain", method: "POST", contentType: "text/plain", body: `{"query":"{ __typename }"}`,
			wantStatus: 415, wantCode: "BAD_REQUEST"},
		{name: "form", method: "POST", contentType: "application/x-www-form-urlencoded", body: `query=%7B__typename%7D`,
			wantStatus: 415, wantCode: "BAD_REQUEST"},
		{name: "no content type", method: "POST", body: `{"query":"{ __typename }"}`,
			wantStatus: 415, wantCode: "BAD_REQUEST"},
		{name: "GET query", method: "GET", path: getQuery(`{ __typename }`),
			wantStatus: 200, wantData: true, wantCT: jsonCT},
		{name: "GET mutation", method: "GET", path: getQuery(`mutation { createToken(user: "x") }`),
			wantStatus: 405, wantCode: "BAD_REQUEST", wantAllow: "POST"},
		{name: "GET without query", method: "GET", path: "/graphql",
			wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "PATCH", method: "PATCH", contentType: jsonCT, body: `{"query":"{ __typename }"}`,
			wantStatus: 405, wantCode: "BAD_REQUEST", wantAllow: "GET, POST, OPTIONS, PUT, DELETE"},
		{name: "batch over the limit", method: "POST", contentType: jsonCT, body: "[" + strings.Repeat(`{"query":"{ __typename }"},`, 10) + `{"query":"{ __typename }"}]`,
			wantStatus: 400, wantCode: "BAD_REQUEST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = "/graphql"
			}
			r := ts.raw(t, tt.method, path, tt.contentType, tt.accept, tt.body)
			if r.status != tt.wantStatus {
				t.Errorf("status = %d, want %d\n%s", r.status, tt.wantStatus, r.raw)
			}
			if got := r.code(); got != tt.wantCode {
				t.Errorf("code = %q, want %q\n%s", got, tt.wantCode, r.raw)
			}
			if _, has := r.body["data"]; has != tt.wantData {
				t.Errorf("has data key = %v, want %v\n%s", has, tt.wantData, r.raw)
			}
			if tt.wantCT != "" && r.contentType != tt.wantCT+"; charset=utf-8" {
				t.Errorf("Content-Type = %q, want %q", r.contentType, tt.wantCT+"; charset=utf-8")
			}
			if r.allow != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", r.allow, tt.wantAllow)
			}
		})
	}
}

func TestBatch(t *testing.T) {
	ts := newTestServer(t)
	r := ts.raw(t, "POST", "/graphql", "application/json", "",
		`[{"query":"{ item(id: \"1\") { name } }"},{"query":"{ nope }"}]`)
	if r.status != 200 {
		t.Fatalf("status = %d, want 200\n%s", r.status, r.raw)
	}
	var results []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.raw), &results); err != nil || len(results) != 2 {
		t.Fatalf("batch answer is not an array of 2: %v\n%s", err, r.raw)
	}
	if string(results[0]["data"]) != `{"item":{"name":"Apple"}}` {
		t.Errorf("first result = %s", results[0]["data"])
	}
	if _, has := results[1]["data"]; has || results[1]["errors"] == nil {
		t.Errorf("second result should have errors and no data: %s", r.raw)
	}
}

func TestBodyLimit(t *testing.T) {
	cfg := httpapi.DefaultConfig()
	cfg.MaxBodyBytes = 1 << 10
	ts := newTestServerWith(t, cfg)
	big := `{"query":"{ __typename }","variables":{"pad":"` + strings.Repeat("x", 2<<10) + `"}}`
	r := ts.raw(t, "POST", "/graphql", "application/json", "", big)
	if r.status != http.StatusRequestEntityTooLarge || r.code() != "BAD_REQUEST" {
		t.Errorf("oversized body = %d %q, want 413 BAD_REQUEST\n%s", r.status, r.code(), r.raw)
	}
}

// TestLongAnswersMeasured checks that an answer longer than net/http's
// 2 KiB buffer goes out with its Content-Length, not chunked, whoever
// answers it: a compiled plan, gqlgen's executor, the response cache, a
// batch.
func TestLongAnswersMeasured(t *testing.T) {
	ts := newTestServer(t)
	for i := range 30 {
		if _, err := ts.mem.AddItem(t.Context(), items.NewItem{Name: fmt.Sprintf("a name long enough to fill a page %03d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	const list = `{ items(first: 30) { nodes { id name createdAt } } }`
	tests := []struct{ name, body string }{
		{"a compiled plan", `{"query":"` + list + `"}`},
		{"the same, from the response cache", `{"query":"` + list + `"}`},
		{"gqlgen's executor", `{"query":"{ __typename items(first: 30) { nodes { id name createdAt } } __schema { queryType { name } } }"}`},
		{"a batch", `[{"query":"` + list + `"},{"query":"{ __typename }"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/graphql", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, body := roundTrip(t, ts.Client(), req)
			if resp.StatusCode != http.StatusOK || len(body) <= 2048 || bytes.Contains(body, []byte(`"errors"`)) {
				t.Fatalf("status %d, %d bytes: %.200s; want 200 and an answer over 2 KiB", resp.StatusCode, len(body), body)
			}
			if resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) != 0 {
				t.Errorf("Content-Length %d, Transfer-Encoding %q for an answer of %d bytes; want its length, not chunked",
					resp.ContentLength, resp.TransferEncoding, len(body))
			}
		})
	}
}

// TestDeepJSON: a body that nests deeper than encoding/json decodes is
// valid JSON, and its 400 says how deeply a body may nest; a body that
// is not JSON, brackets in a string or not, says that.
func TestDeepJSON(t *testing.T) {
	ts := newTestServer(t)
	deep := strings.Repeat("[", 10_001) + strings.Repeat("]", 10_001)
	for _, tc := range []struct{ name, body, want string }{
		{"variables", `{"query":"{ __typename }","variables":{"x":` + deep + `}}`, "more than 10000 deep"},
		{"batch", `[{"query":"{ __typename }","variables":{"x":` + deep + `}}]`, "more than 10000 deep"},
		{"brackets in a string", `{"query":"` + strings.Repeat("[", 10_001) + `",}`, "not valid JSON"},
		{"not JSON", `{"query":`, "not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.raw(t, http.MethodPost, "/graphql", "application/json", "", tc.body)
			var errs []struct{ Message string }
			_ = json.Unmarshal(r.body["errors"], &errs)
			if r.status != 400 || r.code() != "BAD_REQUEST" || len(errs) != 1 || !strings.Contains(errs[0].Message, tc.want) {
				t.Errorf("%d %s; want 400 BAD_REQUEST saying %q", r.status, r.raw, tc.want)
			}
		})
	}
}
