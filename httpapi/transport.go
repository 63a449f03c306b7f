package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"itemsapi/graph"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Media types of GraphQL over HTTP.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// codeBadRequest is the extensions.code of a request that is not a GraphQL
// request at all.
const codeBadRequest = "BAD_REQUEST"

// httpTransport serves GraphQL over HTTP, POST and GET, as the GraphQL
// over HTTP specification says: a request that is not a GraphQL request is
// a 400, a document that does not parse or validate is a 400 for clients
// that accept application/graphql-response+json and a 200 for those that
// accept only application/json, and a response where nothing executed has
// no data key. gqlgen's own transports answer 422 and send "data": null.
type httpTransport struct {
	// maxBatch bounds the operations of a batched (JSON array) request.
	maxBatch int
}

var _ graphql.Transport = httpTransport{}

// Supports implements graphql.Transport: every GET and POST that is not a
// websocket upgrade.
func (httpTransport) Supports(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" {
		return false
	}
	return r.Method == http.MethodGet || r.Method == http.MethodPost
}

// requestError is a request that is not a GraphQL request.
type requestError struct {
	status  int
	message string
}

// Do implements graphql.Transport.
func (t httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media := responseMedia(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")

	batch, isBatch, reqErr := t.readParams(r)
	if reqErr != nil {
		if reqErr.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", "POST")
		}
		writeError(w, reqErr.status, codeBadRequest, reqErr.message)
		return
	}
	if !isBatch {
		status, body := t.execute(r, batch[0], media, exec)
		if refused(r.Context()) {
			writeBusy(w)
			return
		}
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", "POST")
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
		return
	}
	// A batch answers 200 with one result per operation; each result's
	// own failures are in its errors.
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, params := range batch {
		if i > 0 {
			buf.WriteByte(',')
		}
		_, body := t.execute(r, params, media, exec)
		if i == 0 && refused(r.Context()) {
			// Nothing ran: the whole batch may be sent again. Past the
			// first, the operations before may have run (a mutation):
			// the refused one answers its own error in the batch.
			writeBusy(w)
			return
		}
		buf.Write(body)
	}
	buf.WriteByte(']')
	_, _ = w.Write(buf.Bytes())
}

// execute runs one operation and returns the status and body to answer.
func (httpTransport) execute(r *http.Request, params *graphql.RawParams, media string, exec graphql.GraphExecutor) (int, []byte) {
	ctx := r.Context()
	start := graphql.Now()
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: start}

	rc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		return statusForRequestErrors(resp.Errors, media), errorsOnly(resp)
	}
	if r.Method == http.MethodGet && rc.Operation != nil && rc.Operation.Operation != ast.Query {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, rc), gqlerror.List{{
			Message:    "only queries may be sent over GET: send " + string(rc.Operation.Operation) + "s with POST",
			Extensions: map[string]any{"code": codeBadRequest},
		}})
		return http.StatusMethodNotAllowed, errorsOnly(resp)
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	resp := responses(ctx)
	body, err := json.Marshal(resp)
	if err != nil {
		panic(err) // a response of gqlgen's own types always marshals
	}
	if resp != nil && len(resp.Errors) == 0 && graph.CallerIndependent(rc.Operation) {
		noteCacheable(r.Context(), rc.OperationName)
	}
	return http.StatusOK, body
}

// statusForRequestErrors is the status of a response where nothing
// executed: 200 for application/json, as the specification keeps for
// older clients, and 400 for application/graphql-response+json, except
// for an unknown persisted query, which clients expect as a 200 to retry.
func statusForRequestErrors(errs gqlerror.List, media string) int {
	if media != mediaGraphQLResponse {
		return http.StatusOK
	}
	for _, e := range errs {
		if e.Extensions["code"] == "PERSISTED_QUERY_NOT_FOUND" {
			return http.StatusOK
		}
	}
	return http.StatusBadRequest
}

// errorsOnly marshals a response that has errors and no data key.
func errorsOnly(resp *graphql.Response) []byte {
	body, err := json.Marshal(struct {
		Errors     gqlerror.List  `json:"errors"`
		Extensions map[string]any `json:"extensions,omitempty"`
	}{resp.Errors, resp.Extensions})
	if err != nil {
		panic(err)
	}
	return body
}

// responseMedia picks the media type of the response from an Accept
// header: application/graphql-response+json when the client accepts it
// at least as much as application/json, else application/json.
func responseMedia(accept string) string {
	if accept == "" {
		return mediaJSON
	}
	bestJSON, bestGQL := -1.0, -1.0
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			q = parseQ(v)
		}
		switch mt {
		case mediaGraphQLResponse:
			bestGQL = max(bestGQL, q)
		case mediaJSON, "application/*", "*/*":
			bestJSON = max(bestJSON, q)
		}
	}
	if bestGQL > 0 && bestGQL >= bestJSON {
		return mediaGraphQLResponse
	}
	return mediaJSON
}

// parseQ reads a quality value, 0 for anything malformed.
func parseQ(v string) float64 {
	switch {
	case v == "1" || strings.HasPrefix(v, "1."):
		return 1
	case strings.HasPrefix(v, "0."):
		q, n := 0.0, 0.1
		for _, c := range v[2:] {
			if c < '0' || c > '9' {
				return 0
			}
			q += float64(c-'0') * n
			n /= 10
		}
		return q
	default:
		return 0
	}
}

// readParams reads the GraphQL request of r: one operation, or a batch
// (a JSON array of operations) over POST.
func (t httpTransport) readParams(r *http.Request) (batch []*graphql.RawParams, isBatch bool, reqErr *requestError) {
	if r.Method == http.MethodGet {
		p, reqErr := paramsFromQuery(r)
		return []*graphql.RawParams{p}, false, reqErr
	}
	if reqErr := checkContentType(r.Header.Get("Content-Type")); reqErr != nil {
		return nil, false, reqErr
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		if e, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, false, &requestError{http.StatusRequestEntityTooLarge,
				"the request body is larger than the limit of " + byteSize(e.Limit)}
		}
		return nil, false, &requestError{http.StatusBadRequest, "the request body could not be read"}
	}
	if !utf8.Valid(body) {
		return nil, false, &requestError{http.StatusBadRequest, "the request body is not valid UTF-8"}
	}
	body = bytes.TrimLeft(body, " \t\r\n")
	if len(body) > 0 && body[0] == '[' {
		var raws []json.RawMessage
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, true, &requestError{http.StatusBadRequest, "the request body is not valid JSON"}
		}
		switch {
		case len(raws) == 0:
			return nil, true, &requestError{http.StatusBadRequest, "a batched request needs at least one operation"}
		case len(raws) > t.maxBatch:
			return nil, true, &requestError{http.StatusBadRequest,
				"a batched request may hold at most " + strconv.Itoa(t.maxBatch) + " operations"}
		}
		batch = make([]*graphql.RawParams, len(raws))
		for i, raw := range raws {
			p, reqErr := paramsFromJSON(raw)
			if reqErr != nil {
				return nil, true, reqErr
			}
			batch[i] = p
		}
		return batch, true, nil
	}
	p, reqErr := paramsFromJSON(body)
	return []*graphql.RawParams{p}, false, reqErr
}

// checkContentType refuses the Content-Type of a POST unless it is
// application/json in UTF-8 (stated or not). The response cache asks it
// too, so that a request is refused or answered alike, cached or not.
func checkContentType(ct string) *requestError {
	if ct == mediaJSON {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != mediaJSON {
		return &requestError{http.StatusUnsupportedMediaType,
			"unsupported Content-Type: send the request as application/json"}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return &requestError{http.StatusUnsupportedMediaType,
			"unsupported charset " + cs + ": send the request in utf-8"}
	}
	return nil
}

// paramsFromJSON decodes the JSON body of a GraphQL request in one pass,
// then checks the types of its members: query and operationName strings
// or null, variables and extensions objects or null. Numbers stay
// json.Number, so that no integer loses precision.
func paramsFromJSON(body []byte) (*graphql.RawParams, *requestError) {
	var w struct {
		Query         any `json:"query"`
		OperationName any `json:"operationName"`
		Variables     any `json:"variables"`
		Extensions    any `json:"extensions"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		if len(bytes.TrimSpace(body)) > 0 && body[0] != '{' {
			return nil, &requestError{http.StatusBadRequest, "the request body must be a JSON object with a query"}
		}
		return nil, &requestError{http.StatusBadRequest, "the request body is not valid JSON"}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &requestError{http.StatusBadRequest, "the request body has data after its JSON object"}
	}
	p := &graphql.RawParams{}
	var ok bool
	if p.Query, ok = stringOrNull(w.Query); !ok {
		return nil, &requestError{http.StatusBadRequest, "query must be a string"}
	}
	if p.OperationName, ok = stringOrNull(w.OperationName); !ok {
		return nil, &requestError{http.StatusBadRequest, "operationName must be a string"}
	}
	if p.Variables, ok = objectOrNull(w.Variables); !ok {
		return nil, &requestError{http.StatusBadRequest, "variables must be a JSON object"}
	}
	if p.Extensions, ok = objectOrNull(w.Extensions); !ok {
		return nil, &requestError{http.StatusBadRequest, "extensions must be a JSON object"}
	}
	if p.Query == "" && !hasPersistedQuery(p.Extensions) {
		return nil, &requestError{http.StatusBadRequest, "the request has no query: send a GraphQL document as a string in query"}
	}
	return p, nil
}

func stringOrNull(v any) (string, bool) {
	if v == nil {
		return "", true
	}
	s, ok := v.(string)
	return s, ok
}

func objectOrNull(v any) (map[string]any, bool) {
	if v == nil {
		return nil, true
	}
	m, ok := v.(map[string]any)
	return m, ok
}

func paramsFromQuery(r *http.Request) (*graphql.RawParams, *requestError) {
	q := r.URL.Query()
	p := &graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName")}
	for _, v := range []string{p.Query, p.OperationName, q.Get("variables"), q.Get("extensions")} {
		if !utf8.ValidString(v) {
			return nil, &requestError{http.StatusBadRequest, "the request's parameters are not valid UTF-8"}
		}
	}
	if v := q.Get("variables"); v != "" {
		if reqErr := decodeObject(json.RawMessage(v), "variables", &p.Variables); reqErr != nil {
			return nil, reqErr
		}
	}
	if v := q.Get("extensions"); v != "" {
		if reqErr := decodeObject(json.RawMessage(v), "extensions", &p.Extensions); reqErr != nil {
			return nil, reqErr
		}
	}
	if p.Query == "" && !hasPersistedQuery(p.Extensions) {
		return nil, &requestError{http.StatusBadRequest, "the request has no query parameter"}
	}
	return p, nil
}

// decodeObject decodes a JSON object or null into dst, keeping numbers as
// json.Number so that no integer loses precision.
func decodeObject(raw json.RawMessage, name string, dst *map[string]any) *requestError {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] != '{' {
		return &requestError{http.StatusBadRequest, name + " must be a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return &requestError{http.StatusBadRequest, name + " is not valid JSON"}
	}
	return nil
}

// hasPersistedQuery reports whether extensions name a persisted query, in
// which case the query itself may be left out.
func hasPersistedQuery(ext map[string]any) bool {
	pq, ok := ext["persistedQuery"].(map[string]any)
	return ok && pq != nil
}
