package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"itemsapi/graph"
	"itemsapi/items"
)

// Media types of GraphQL over HTTP.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// codeBadRequest is the code of a request that is not a GraphQL request at
// all, whatever the status that says why.
const codeBadRequest = items.BadRequest

// httpTransport serves GraphQL over HTTP, POST and GET, as the GraphQL
// over HTTP specification says: a request that is not a GraphQL request is
// a 400, a document that does not parse or validate is a 400 for clients
// that accept application/graphql-response+json and a 200 for those that
// accept only application/json, and a response where nothing executed has
// no data key. gqlgen's own transports answer 422 and send "data": null.
//
// The transport also answers as a stream, which its Accept header and
// the operation decide (see acceptance.answer): a graphql-sse event
// stream in distinct-connections mode, or a multipart/mixed answer
// (Apollo's subscriptions, @defer). A subscription that the client takes
// in no stream, or one inside a batch, is a 400 at once.
type httpTransport struct {
	// maxBatch bounds the operations of a batched (JSON array) request.
	maxBatch int
	// streams serves the answers that are streams.
	streams *streaming
	// plans, when not nil, answers queries with compiled plans before
	// gqlgen's executor would (see plans.answer).
	plans *plans
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

// The values of the headers every answer of httpTransport has.
var (
	contentTypeJSON            = []string{mediaJSON + "; charset=utf-8"}
	contentTypeGraphQLResponse = []string{mediaGraphQLResponse + "; charset=utf-8"}
	noStore                    = []string{"no-store"}
)

// requestError is a request that is not a GraphQL request.
type requestError struct {
	status  int
	message string
}

// Do implements graphql.Transport.
func (t httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media := responseMedia(r.Header.Get("Accept"))
	h := w.Header()
	// Set without allocating: the values are shared, and never changed in
	// place (Header.Add appends to a full slice: a copy).
	if media == mediaGraphQLResponse {
		h["Content-Type"] = contentTypeGraphQLResponse
	} else {
		h["Content-Type"] = contentTypeJSON
	}
	h["Cache-Control"] = noStore

	batch, isBatch, reqErr := t.readParams(r)
	if reqErr != nil {
		if reqErr.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", "POST")
		}
		writeError(w, reqErr.status, codeBadRequest, reqErr.message)
		return
	}
	// Every operation is parsed and validated before any runs, so that a
	// request that must be refused is refused before anything executes:
	// one refused memory (inflight.go) ran nothing, and may be sent again
	// whole.
	ops := make([]prepared, len(batch))
	for i, params := range batch {
		ops[i] = t.prepare(r, params, exec)
		if refused(r.Context()) {
			writeBusy(w, busyMessageOf(r.Context()))
			return
		}
	}
	acc := accepted(r.Header.Get("Accept"))
	if !isBatch {
		op := ops[0]
		answer := acc.answer(op.kind())
		if op.rc != nil && op.rc.Operation != nil && r.Method == http.MethodGet && op.rc.Operation.Operation == ast.Mutation {
			answer = "" // refused below, whatever the Accept header
		}
		switch {
		case answer == mediaEventStream || answer == mediaMultipart:
			t.streams.serve(w, r, exec, op.rc, op.errs, answer)
			return
		case op.kind() == ast.Subscription:
			t.refuseSubscription(w, r, exec, op.rc, false)
			return
		}
		status, body, pooled := t.finish(r, op, media, exec)
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", "POST")
		}
		if n := contentLength(len(body)); n != nil {
			w.Header()["Content-Length"] = n
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
		t.plans.put(pooled, body)
		return
	}
	for _, op := range ops {
		if op.kind() == ast.Subscription {
			t.refuseSubscription(w, r, exec, op.rc, true)
			return
		}
	}
	// A batch answers 200 with one result per operation; each result's
	// own failures are in its errors.
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, op := range ops {
		if i > 0 {
			buf.WriteByte(',')
		}
		_, body, pooled := t.finish(r, op, media, exec)
		buf.Write(body)
		t.plans.put(pooled, body)
	}
	buf.WriteByte(']')
	if n := contentLength(buf.Len()); n != nil {
		w.Header()["Content-Length"] = n
	}
	_, _ = w.Write(buf.Bytes())
}

// contentLength is the Content-Length header of an answer of n bytes
// that is written whole, where net/http would not send one: net/http
// measures an answer that fits its 2 KiB buffer, and sends a longer one
// chunked, at the cost of one more write for the last chunk. nil for an
// answer that net/http measures.
func contentLength(n int) []string {
	if n <= 2048 {
		return nil
	}
	return []string{strconv.Itoa(n)}
}

// refuseSubscription answers 400 to a subscription that the request
// cannot stream: it would otherwise wait for its first event, and answer
// only that.
func (httpTransport) refuseSubscription(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, rc *graphql.OperationContext, inBatch bool) {
	msg := "a subscription over HTTP needs a stream: send Accept: text/event-stream (graphql-sse) or multipart/mixed;subscriptionSpec=1.0 (Apollo), or subscribe over a websocket"
	if inBatch {
		msg = "a subscription cannot be part of a batch: send it alone, with Accept: text/event-stream or multipart/mixed;subscriptionSpec=1.0, or over a websocket"
	}
	resp := exec.DispatchError(graphql.WithOperationContext(r.Context(), rc), gqlerror.List{{
		Message:    msg,
		Extensions: codeBadRequest.Extensions(),
	}})
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(errorsOnly(resp))
}

// prepared is an operation parsed and validated, or the errors that
// refuse it.
type prepared struct {
	rc   *graphql.OperationContext
	errs gqlerror.List
}

// kind is the type of the operation, or "" when it was refused.
func (p prepared) kind() ast.Operation {
	if p.errs != nil || p.rc == nil || p.rc.Operation == nil {
		return ""
	}
	return p.rc.Operation.Operation
}

// prepare parses and validates one operation.
func (httpTransport) prepare(r *http.Request, params *graphql.RawParams, exec graphql.GraphExecutor) prepared {
	start := graphql.Now()
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: start}
	rc, errs := exec.CreateOperationContext(r.Context(), params)
	return prepared{rc: rc, errs: errs}
}

// finish runs one prepared operation and returns the status and body to
// answer, and the pooled buffer that holds the body, if it is one (to put
// back with plans.put once the body is written).
func (t httpTransport) finish(r *http.Request, op prepared, media string, exec graphql.GraphExecutor) (int, []byte, *[]byte) {
	ctx := r.Context()
	rc, errs := op.rc, op.errs
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		return statusForRequestErrors(resp.Errors, media), errorsOnly(resp), nil
	}
	if r.Method == http.MethodGet && rc.Operation != nil && rc.Operation.Operation == ast.Mutation {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, rc), gqlerror.List{{
			Message:    "mutations may not be sent over GET: send them with POST",
			Extensions: codeBadRequest.Extensions(),
		}})
		return http.StatusMethodNotAllowed, errorsOnly(resp), nil
	}
	if t.plans != nil && rc.Operation != nil && rc.Operation.Operation != ast.Subscription {
		body, pooled, fallback := t.plans.answer(ctx, rc)
		if pooled != nil {
			if graph.CallerIndependent(rc.Operation) && cachesBodies(r.Context()) {
				// The response cache keeps the body: a copy, as the pooled
				// buffer goes back to its pool once written.
				noteCacheable(r.Context(), rc.OperationName, bytes.Clone(body))
			}
			return http.StatusOK, body, pooled
		}
		ctx = fallback
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	resp := responses(ctx)
	// A client that takes JSON alone gets deferred fragments (@defer)
	// inline, in one answer.
	resp = inlineDeferred(ctx, resp, responses)
	body, err := json.Marshal(resp)
	if err != nil {
		panic(err) // a response of gqlgen's own types always marshals
	}
	if resp != nil && len(resp.Errors) == 0 && graph.CallerIndependent(rc.Operation) {
		noteCacheable(r.Context(), rc.OperationName, body)
	}
	return http.StatusOK, body, nil
}

// statusForRequestErrors is the status of a response where nothing
// executed: 200 for application/json, as the specification keeps for
// older clients, and for application/graphql-response+json the status
// of its codes, 400, except for an unknown persisted query, which clients
// expect as a 200 to retry.
func statusForRequestErrors(errs gqlerror.List, media string) int {
	if media != mediaGraphQLResponse {
		return http.StatusOK
	}
	for _, e := range errs {
		code, _ := e.Extensions["code"].(string)
		if c, ok := items.CodeOf(code); ok && c.Status() == http.StatusOK {
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
	bp, err := readBody(r.Body)
	// Nothing decoded from the body keeps its bytes (strings, numbers and
	// a batch's raw operations are copies): the buffer goes back to its
	// pool as readParams returns.
	defer putBody(bp)
	body := *bp
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
			return nil, true, notJSON(body)
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

// bodyBufs holds the buffers that request bodies are read into.
var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledRequest is the largest buffer that goes back to bodyBufs: a body of
// megabytes is rare, and its buffer would stay in the pool.
const maxPooledRequest = 64 << 10

// readBody reads r to its end, as io.ReadAll does, into a buffer of
// bodyBufs, which the caller gives back with putBody once nothing reads
// the bytes any more.
func readBody(r io.Reader) (*[]byte, error) {
	bp := bodyBufs.Get().(*[]byte)
	b := (*bp)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // room to read into
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			*bp = b
			if err == io.EOF {
				err = nil
			}
			return bp, err
		}
	}
}

// putBody gives a buffer of readBody back to the pool.
func putBody(bp *[]byte) {
	if cap(*bp) > maxPooledRequest {
		return
	}
	*bp = (*bp)[:0]
	bodyBufs.Put(bp)
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
	if p, reqErr, ok := paramsFast(body); ok {
		return p, reqErr
	}
	// One pass of json.Unmarshal, the usual case, costs less than a
	// Decoder; the objects are decoded apart, keeping their numbers as
	// json.Number. A body Unmarshal refuses is read again by a Decoder,
	// which tells what is wrong with it.
	var w struct {
		Query         any          `json:"query"`
		OperationName any          `json:"operationName"`
		Variables     numberObject `json:"variables"`
		Extensions    numberObject `json:"extensions"`
		DocumentID    any          `json:"documentId"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, badBody(body)
	}
	p := &graphql.RawParams{}
	var ok bool
	if p.Query, ok = stringOrNull(w.Query); !ok {
		return nil, &requestError{http.StatusBadRequest, "query must be a string"}
	}
	if p.OperationName, ok = stringOrNull(w.OperationName); !ok {
		return nil, &requestError{http.StatusBadRequest, "operationName must be a string"}
	}
	if w.Variables.notObject {
		return nil, &requestError{http.StatusBadRequest, "variables must be a JSON object"}
	}
	if w.Extensions.notObject {
		return nil, &requestError{http.StatusBadRequest, "extensions must be a JSON object"}
	}
	p.Variables, p.Extensions = w.Variables.m, w.Extensions.m
	if reqErr := withDocumentID(p, w.DocumentID); reqErr != nil {
		return nil, reqErr
	}
	if p.Query == "" && !hasPersistedQuery(p.Extensions) {
		return nil, &requestError{http.StatusBadRequest, "the request has no query: send a GraphQL document as a string in query"}
	}
	return p, nil
}

// paramsFast decodes the usual body without reflection: valid JSON, one
// object whose members are named exactly query, operationName, variables
// or extensions, each at most once, with keys free of escapes, query and
// operationName strings or null, variables and extensions objects or
// null. It decodes them as json.Unmarshal does in paramsFromJSON (strings
// with escapes through encoding/json, objects with decodeJSON, as
// numberObject does). ok is false for any other body, which
// paramsFromJSON reads the long way: keys that json.Unmarshal would match
// without regard to case, duplicates (the last wins there), documentId,
// members of another type, and everything that is not valid.
func paramsFast(body []byte) (p *graphql.RawParams, reqErr *requestError, ok bool) {
	if !json.Valid(body) {
		return nil, nil, false
	}
	b := skipSpace(body)
	if b[0] != '{' {
		return nil, nil, false
	}
	p = &graphql.RawParams{}
	b = skipSpace(b[1:])
	const (
		query = 1 << iota
		operationName
		variables
		extensions
	)
	seen := 0
	for b[0] != '}' {
		// A key: valid JSON, so the first quote after the opening one
		// ends it unless a backslash came first.
		end := bytes.IndexByte(b[1:], '"') + 1
		if bytes.IndexByte(b[1:end], '\\') >= 0 {
			return nil, nil, false
		}
		member := 0
		var (
			str *string         // where a string member goes
			obj *map[string]any // where an object member goes
		)
		switch string(b[1:end]) {
		case "query":
			member, str = query, &p.Query
		case "operationName":
			member, str = operationName, &p.OperationName
		case "variables":
			member, obj = variables, &p.Variables
		case "extensions":
			member, obj = extensions, &p.Extensions
		}
		if member == 0 || seen&member != 0 {
			return nil, nil, false
		}
		seen |= member
		b = skipSpace(skipSpace(b[end+1:])[1:]) // the colon
		var (
			rest []byte
			err  error
		)
		switch {
		case b[0] == 'n': // null
			rest = b[4:]
		case str != nil && b[0] == '"':
			*str, rest, err = decodeString(b)
		case obj != nil && b[0] == '{':
			var v any
			v, rest, err = decodeJSON(b)
			*obj, _ = v.(map[string]any)
		default:
			return nil, nil, false
		}
		if err != nil {
			return nil, nil, false
		}
		b = skipSpace(rest)
		if b[0] == ',' {
			b = skipSpace(b[1:])
		}
	}
	if p.Query == "" && !hasPersistedQuery(p.Extensions) {
		return nil, &requestError{http.StatusBadRequest, "the request has no query: send a GraphQL document as a string in query"}, true
	}
	return p, nil, true
}

// badBody says what is wrong with a body that json.Unmarshal refused,
// read again by a Decoder into an object of raw fields: a value that is
// not an object (null aside) does not decode into one.
func badBody(body []byte) *requestError {
	if _, reqErr := decodeWireParams(body); reqErr != nil {
		return reqErr
	}
	return &requestError{http.StatusBadRequest, "the request body is not valid JSON"}
}

// maxJSONDepth is how deeply encoding/json lets arrays and objects nest.
const maxJSONDepth = 10_000

// notJSON is the error of a body that encoding/json refused: one that
// nests deeper than it decodes is valid JSON, and told so.
func notJSON(body []byte) *requestError {
	if jsonDepth(body, maxJSONDepth) > maxJSONDepth {
		return &requestError{http.StatusBadRequest, fmt.Sprintf("the request body's JSON nests arrays and objects more than %d deep, the limit", maxJSONDepth)}
	}
	return &requestError{http.StatusBadRequest, "the request body is not valid JSON"}
}

// jsonDepth returns how deeply arrays and objects nest in b, or the first
// depth past limit.
func jsonDepth(b []byte, limit int) int {
	depth, deepest := 0, 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"': // on to the string's closing quote, past escapes
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '[', '{':
			if depth++; depth > deepest {
				if deepest = depth; deepest > limit {
					return deepest
				}
			}
		case ']', '}':
			depth--
		}
	}
	return deepest
}

// wireParams is the JSON body of a GraphQL request, before its fields'
// types are checked.
type wireParams struct {
	Query         json.RawMessage `json:"query"`
	OperationName json.RawMessage `json:"operationName"`
	Variables     json.RawMessage `json:"variables"`
	Extensions    json.RawMessage `json:"extensions"`
	DocumentID    json.RawMessage `json:"documentId"`
}

// decodeWireParams decodes body, which must be one JSON object and
// nothing after it, into its raw fields.
func decodeWireParams(body []byte) (wireParams, *requestError) {
	var w wireParams
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&w); err != nil {
		if len(bytes.TrimSpace(body)) > 0 && body[0] != '{' {
			return w, &requestError{http.StatusBadRequest, "the request body must be a JSON object with a query"}
		}
		return w, notJSON(body)
	}
	if _, err := dec.Token(); err != io.EOF {
		return w, &requestError{http.StatusBadRequest, "the request body has data after its JSON object"}
	}
	return w, nil
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
	for _, v := range []string{p.Query, p.OperationName, q.Get("variables"), q.Get("extensions"), q.Get("documentId")} {
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
	if id := q.Get("documentId"); id != "" {
		if reqErr := withDocumentID(p, id); reqErr != nil {
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
