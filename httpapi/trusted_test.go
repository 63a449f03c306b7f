package httpapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"itemsapi/httpapi"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

const (
	trustedQuery    = `query Apple { item(id: "1") { name } }`
	trustedMutation = `mutation Add { addItem(input: {name: "trusted"}) { id } }`
)

// writeFile writes content to a new file and returns its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "documents.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func apolloManifest(ops ...[2]string) string {
	var list []map[string]string
	for _, op := range ops {
		list = append(list, map[string]string{"id": op[0], "name": "Op", "type": "query", "body": op[1]})
	}
	b, _ := json.Marshal(map[string]any{"format": "apollo-persisted-query-manifest", "version": 1, "operations": list})
	return string(b)
}

func TestLoadTrustedDocuments(t *testing.T) {
	flat, _ := json.Marshal(map[string]string{sha(trustedQuery): trustedQuery, "sha256:" + sha(trustedMutation): trustedMutation})
	for _, tc := range []struct {
		name, content string
		want          int    // documents, when it loads
		wantErr       string // part of the error, when it does not
	}{
		{"Apollo manifest", apolloManifest([2]string{sha(trustedQuery), trustedQuery}), 1, ""},
		{"client preset", string(flat), 2, ""},
		{"Apollo manifest with a wrong id", apolloManifest([2]string{sha("other"), trustedQuery}), 0, "its sha256 is " + sha(trustedQuery)},
		{"client preset with a wrong hash", `{"` + sha("x") + `": "{ __typename }"}`, 0, "does not match"},
		{"another format", `{"format": "something", "version": 1}`, 0, "apollo-persisted-query-manifest"},
		{"Apollo manifest, version 2", `{"format": "apollo-persisted-query-manifest", "version": 2, "operations": []}`, 0, "version 2"},
		{"empty", `{}`, 0, "no document"},
		{"not JSON", `nope`, 0, "not a JSON object"},
		{"values not strings", `{"a": 1}`, 0, "flat object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, err := httpapi.LoadTrustedDocuments(writeFile(t, tc.content))
			switch {
			case tc.wantErr == "" && (err != nil || len(docs) != tc.want):
				t.Errorf("LoadTrustedDocuments = %d documents, %v; want %d", len(docs), err, tc.want)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("LoadTrustedDocuments error = %v, want one saying %q", err, tc.wantErr)
			}
		})
	}
}

// trustedServer serves the two trusted documents.
func trustedServer(t *testing.T, only bool) *streamServer {
	t.Helper()
	cfg := httpapi.DefaultConfig()
	cfg.TrustedDocuments = map[string]string{sha(trustedQuery): trustedQuery, sha(trustedMutation): trustedMutation}
	cfg.OnlyTrustedDocuments = only
	return newStreamServer(t, cfg)
}

// answer sends a request and decodes its answer.
func (ts *streamServer) answer(t *testing.T, method, path, body string, header map[string]string) (int, gqlResponse) {
	t.Helper()
	resp := ts.request(t, method, path, body, header)
	var r gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, r
}

func TestTrustedDocumentsByHash(t *testing.T) {
	for _, only := range []bool{false, true} {
		ts := trustedServer(t, only)
		pq := func(hash string) string {
			b, _ := json.Marshal(map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}})
			return string(b)
		}
		auth := map[string]string{"Authorization": "Bearer " + ts.adminToken}
		for _, tc := range []struct {
			name, method, path, body string
			wantStatus               int
			wantCode                 string
		}{
			{"documentId", http.MethodPost, "/graphql", `{"documentId":"` + sha(trustedQuery) + `"}`, 200, ""},
			{"documentId with sha256:", http.MethodPost, "/graphql", `{"documentId":"sha256:` + sha(trustedQuery) + `"}`, 200, ""},
			{"documentId over GET", http.MethodGet, "/graphql?documentId=sha256:" + sha(trustedQuery), "", 200, ""},
			{"persisted query hash", http.MethodPost, "/graphql", pq(sha(trustedQuery)), 200, ""},
			{"persisted query hash over GET", http.MethodGet, "/graphql?extensions=" + url.QueryEscape(`{"persistedQuery":{"version":1,"sha256Hash":"`+sha(trustedQuery)+`"}}`), "", 200, ""},
			{"mutation by documentId", http.MethodPost, "/graphql", `{"documentId":"` + sha(trustedMutation) + `"}`, 200, ""},
			{"mutation by documentId over GET", http.MethodGet, "/graphql?documentId=" + sha(trustedMutation), "", 405, "BAD_REQUEST"},
			{"unknown documentId", http.MethodPost, "/graphql", `{"documentId":"sha256:` + sha("nope") + `"}`, 200, "PERSISTED_QUERY_NOT_FOUND"},
			{"documentId and query", http.MethodPost, "/graphql", `{"documentId":"` + sha(trustedQuery) + `","query":"{ __typename }"}`, 400, "BAD_REQUEST"},
			{"documentId not a string", http.MethodPost, "/graphql", `{"documentId":1}`, 400, "BAD_REQUEST"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, r := ts.answer(t, tc.method, tc.path, tc.body, auth)
				if status != tc.wantStatus || (tc.wantCode == "" && len(r.Errors) > 0) || (tc.wantCode != "" && (len(r.Errors) != 1 || r.Errors[0].Code() != tc.wantCode)) {
					t.Errorf("only=%v: %d %+v; want %d %q", only, status, r.Errors, tc.wantStatus, tc.wantCode)
				}
				if tc.name == "documentId" && string(r.Data) != `{"item":{"name":"Apple"}}` {
					t.Errorf("data = %s", r.Data)
				}
			})
		}
	}
}

func TestOnlyTrustedDocuments(t *testing.T) {
	ts := trustedServer(t, true)
	introspection := `{ __schema { queryType { name } } }`
	pqWithQuery, _ := json.Marshal(map[string]any{"query": "{ __typename }", "extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha("{ __typename }")}}})
	for _, tc := range []struct{ name, body string }{
		{"any other document", gqlBody(`{ item(id: "2") { name } }`, nil)},
		{"introspection", gqlBody(introspection, nil)},
		{"a document that does not even parse", gqlBody(`{`, nil)},
		{"APQ registration", string(pqWithQuery)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, r := ts.answer(t, http.MethodPost, "/graphql", tc.body, nil)
			if status != 200 || len(r.Errors) != 1 || r.Errors[0].Code() != "PERSISTED_QUERY_NOT_FOUND" || r.HasData {
				t.Errorf("%d %+v; want PERSISTED_QUERY_NOT_FOUND", status, r.Errors)
			}
		})
	}
	// The trusted document itself, sent in full, is trusted.
	if status, r := ts.answer(t, http.MethodPost, "/graphql", gqlBody(trustedQuery, nil), nil); status != 200 || len(r.Errors) > 0 {
		t.Errorf("the trusted query in full: %d %+v", status, r.Errors)
	}
	// Streams too.
	resp := ts.request(t, http.MethodPost, "/graphql", gqlBody(itemAddedAfter2, nil), map[string]string{"Accept": acceptSSE})
	if ev := newSSEReader(t, resp).must(); !strings.Contains(ev.data, "PERSISTED_QUERY_NOT_FOUND") {
		t.Errorf("an untrusted subscription over SSE: %+v", ev)
	}
	if got := ts.metric(t, "itemsapi_trusted_documents_refused_total"); got != 5 {
		t.Errorf("itemsapi_trusted_documents_refused_total = %v, want 5", got)
	}
}

// TestAutomaticPersistedQueries: an unknown hash asks for the document
// (PERSISTED_QUERY_NOT_FOUND, 200), which registers with it; and a
// persistedQuery extension that gqlgen refuses (a hash that is not the
// document's, another version, data that is not an object) is the
// client's BAD_REQUEST, not an internal error.
func TestAutomaticPersistedQueries(t *testing.T) {
	ts := newStreamServer(t, httpapi.DefaultConfig())
	const query = `{ item(id: 1) { name } }`
	pq := func(query string, persisted any) string {
		m := map[string]any{"extensions": map[string]any{"persistedQuery": persisted}}
		if query != "" {
			m["query"] = query
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	v1 := func(hash string) map[string]any { return map[string]any{"version": 1, "sha256Hash": hash} }
	for _, tc := range []struct {
		name, body string
		wantStatus int
		wantCode   string
	}{
		{"unknown hash", pq("", v1(sha(query))), 200, "PERSISTED_QUERY_NOT_FOUND"},
		{"registered with its document", pq(query, v1(sha(query))), 200, ""},
		{"known hash", pq("", v1(sha(query))), 200, ""},
		{"hash of another document", pq(query, v1(sha("{ __typename }"))), 400, "BAD_REQUEST"},
		{"version 2", pq(query, map[string]any{"version": 2, "sha256Hash": sha(query)}), 400, "BAD_REQUEST"},
		{"version a string", pq(query, map[string]any{"version": "1", "sha256Hash": sha(query)}), 400, "BAD_REQUEST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, r := ts.answer(t, http.MethodPost, "/graphql", tc.body, map[string]string{"Accept": "application/graphql-response+json"})
			if status != tc.wantStatus || (tc.wantCode == "" && len(r.Errors) > 0) || (tc.wantCode != "" && (len(r.Errors) != 1 || r.Errors[0].Code() != tc.wantCode)) {
				t.Errorf("%d %+v; want %d %q", status, r.Errors, tc.wantStatus, tc.wantCode)
			}
			if tc.wantCode == "" && string(r.Data) != `{"item":{"name":"Apple"}}` {
				t.Errorf("data = %s", r.Data)
			}
		})
	}
}
