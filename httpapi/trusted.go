package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"itemsapi/gqlspec"
	"itemsapi/items"
	"itemsapi/metrics"
)

// Trusted documents (persisted documents): the operations a build of the
// clients was made with, listed in a file made at build time, which
// requests name by their sha256 instead of sending them. Two formats:
//
//   - Apollo's persisted query manifest, written by
//     @apollo/generate-persisted-query-manifest:
//     {"format": "apollo-persisted-query-manifest", "version": 1,
//     "operations": [{"id", "name", "type", "body"}]}, where id is the
//     sha256 of body;
//   - a flat JSON object of sha256 → document, as GraphQL Code
//     Generator's client preset writes persisted-documents.json.
//
// A request names one by documentId (the persisted documents proposal of
// GraphQL over HTTP; "sha256:" prefixed or not), or by
// extensions.persistedQuery.sha256Hash (Apollo's persisted queries), over
// POST or GET (where a mutation is refused with 405, as ever). With
// OnlyTrustedDocuments, any other document is refused with
// items.PersistedQueryNotFound before it is parsed, and automatic persisted
// queries cannot register new ones: introspection and GraphiQL's queries
// are refused too, unless the list holds them.

// apolloManifestFormat is the format of Apollo's manifests.
const apolloManifestFormat = "apollo-persisted-query-manifest"

// LoadTrustedDocuments reads a list of trusted documents in either format
// and returns the documents by the hex sha256 of their text. It fails,
// naming the entry, when the file does not parse, is of neither format,
// holds no document, or lists a document under a hash that is not the
// sha256 of its text.
func LoadTrustedDocuments(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trusted documents: %w", err)
	}
	docs, err := parseTrustedDocuments(raw)
	if err != nil {
		return nil, fmt.Errorf("trusted documents %s: %w", path, err)
	}
	return docs, nil
}

func parseTrustedDocuments(raw []byte) (map[string]string, error) {
	var probe struct {
		Format     *string         `json:"format"`
		Version    int             `json:"version"`
		Operations json.RawMessage `json:"operations"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	docs := map[string]string{}
	if probe.Format != nil {
		if *probe.Format != apolloManifestFormat || probe.Version != 1 {
			return nil, fmt.Errorf("format %q version %d: want %q version 1, or a flat object of sha256 → document",
				*probe.Format, probe.Version, apolloManifestFormat)
		}
		var ops []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			Type string `json:"type"`
			Body string `json:"body"`
		}
		if err := json.Unmarshal(probe.Operations, &ops); err != nil {
			return nil, fmt.Errorf("operations: %w", err)
		}
		for i, op := range ops {
			if err := addTrusted(docs, op.ID, op.Body); err != nil {
				return nil, fmt.Errorf("operation %d (%q): %w", i, op.Name, err)
			}
		}
	} else {
		var flat map[string]string
		dec := json.NewDecoder(bytes.NewReader(raw))
		if err := dec.Decode(&flat); err != nil {
			return nil, fmt.Errorf("neither an Apollo manifest nor a flat object of sha256 → document: %w", err)
		}
		for hash, body := range flat {
			if err := addTrusted(docs, hash, body); err != nil {
				return nil, fmt.Errorf("document %q: %w", hash, err)
			}
		}
	}
	if len(docs) == 0 {
		return nil, errors.New("no document")
	}
	return docs, nil
}

// addTrusted adds body under hash, which must be its sha256.
func addTrusted(docs map[string]string, hash, body string) error {
	hash = strings.ToLower(strings.TrimPrefix(hash, "sha256:"))
	if body == "" {
		return errors.New("empty document")
	}
	if sum := sha256Hex(body); sum != hash {
		return fmt.Errorf("listed as %s but its sha256 is %s: the file does not match its documents", hash, sum)
	}
	docs[hash] = body
	return nil
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// trustedDocuments is the gqlgen extension that serves trusted documents
// by hash and, when only is set, refuses any other. It must come before
// automatic persisted queries and limits, which read the document.
type trustedDocuments struct {
	gqlspec.Named
	docs    map[string]string
	only    bool
	metrics *metrics.Metrics
}

var (
	_ graphql.HandlerExtension          = (*trustedDocuments)(nil)
	_ graphql.OperationParameterMutator = (*trustedDocuments)(nil)
)

func newTrustedDocuments(docs map[string]string, only bool, m *metrics.Metrics) *trustedDocuments {
	return &trustedDocuments{Named: "TrustedDocuments", docs: docs, only: only, metrics: m}
}

// MutateOperationParameters implements graphql.OperationParameterMutator:
// it puts the text of a trusted document named by hash in p, and refuses
// what only trusted documents may not be.
func (t *trustedDocuments) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	if hash, named := persistedHash(p.Extensions); named {
		body, known := t.docs[hash]
		switch {
		case known && (p.Query == "" || p.Query == body):
			p.Query = body
			return nil
		case !t.only:
			return nil // automatic persisted queries look it up, or check it
		case known:
			return t.refuse("the document sent is not the trusted document its hash names")
		default:
			return t.refuse("PersistedQueryNotFound")
		}
	}
	if !t.only {
		return nil
	}
	if p.Query != "" {
		if _, known := t.docs[sha256Hex(p.Query)]; known {
			return nil
		}
	}
	return t.refuse("only trusted documents are served here, and this one is not among them: send the documentId of a document the server trusts")
}

func (t *trustedDocuments) refuse(msg string) *gqlerror.Error {
	if t.metrics != nil {
		t.metrics.TrustedDocumentRefused()
	}
	return &gqlerror.Error{Message: msg, Extensions: items.PersistedQueryNotFound.Extensions()}
}

// persistedHash returns the lower-case hash of
// extensions.persistedQuery.sha256Hash, if the request names one.
func persistedHash(ext map[string]any) (string, bool) {
	pq, ok := ext["persistedQuery"].(map[string]any)
	if !ok {
		return "", false
	}
	hash, ok := pq["sha256Hash"].(string)
	return strings.ToLower(hash), ok && hash != ""
}

// withDocumentID turns the documentId of a request (the persisted
// documents proposal of GraphQL over HTTP) into the persisted query
// extension, which both automatic persisted queries and trusted documents
// read: one way to look a document up by hash. A request that sends a
// document as well, or names it twice, is not a GraphQL request.
func withDocumentID(p *graphql.RawParams, documentID any) *requestError {
	if documentID == nil {
		return nil
	}
	id, ok := documentID.(string)
	switch {
	case !ok:
		return &requestError{http.StatusBadRequest, "documentId must be a string"}
	case id == "":
		return nil
	case p.Query != "":
		return &requestError{http.StatusBadRequest, "send either query or documentId, not both"}
	case hasPersistedQuery(p.Extensions):
		return &requestError{http.StatusBadRequest, "send either documentId or extensions.persistedQuery, not both"}
	}
	if p.Extensions == nil {
		p.Extensions = map[string]any{}
	}
	p.Extensions["persistedQuery"] = map[string]any{"version": int64(1), "sha256Hash": strings.TrimPrefix(id, "sha256:")}
	return nil
}
