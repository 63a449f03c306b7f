package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// multipart/mixed answers, in the two dialects Apollo's clients read:
//
//   - subscriptions (Accept: multipart/mixed;subscriptionSpec=1.0, Apollo's
//     "Multipart HTTP protocol for GraphQL Subscriptions"): each event is a
//     part {"payload": result}; a heartbeat part {} goes out every
//     KeepAlive, well under the 30 s after which proxies and clients give
//     up; a subscription its producer ends for a reason of its own ends
//     with {"payload": null, "errors": [...]}, a transport error;
//   - @defer (Accept: multipart/mixed;deferSpec=20220824, the draft of
//     2022-08-24 that Apollo Client 4's Defer20220824Handler reads): the
//     first part is the initial result with "hasNext": true, each later
//     part {"incremental": [result with its path and label], "hasNext"}.
//
// Every part is written with the boundary that ends it, so that a client
// reads it as soon as it arrives; the answer ends with the closing
// delimiter, except at shutdown, where the connection just closes and the
// client resubscribes elsewhere. What refuses an operation before it runs
// is answered in JSON, as to any GraphQL over HTTP request.

// multipartBoundary separates the parts.
const multipartBoundary = "graphql"

var (
	multipartOpen  = []byte("\r\n--" + multipartBoundary)
	partHeader     = []byte("\r\nContent-Type: application/json; charset=utf-8\r\n\r\n")
	partEnd        = []byte("\r\n--" + multipartBoundary)
	multipartClose = []byte("--\r\n")
	heartbeatPart  = []byte("{}")
)

// serveMultipart answers one operation as a multipart/mixed stream.
func (s *streaming) serveMultipart(ctx context.Context, w http.ResponseWriter, exec graphql.GraphExecutor, rc *graphql.OperationContext, errs gqlerror.List) {
	subscription := errs == nil && rc.Operation.Operation == ast.Subscription
	spec := "deferSpec=20220824"
	if subscription {
		spec = "subscriptionSpec=1.0"
	}
	h := w.Header()
	h.Set("Content-Type", mediaMultipart+`;boundary="`+multipartBoundary+`";`+spec)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	sw := newStreamWriter(w, s.cfg.writeTimeout)
	defer sw.close()
	part := func(body ...[]byte) error {
		return sw.write(append(append([][]byte{partHeader}, body...), partEnd)...)
	}
	if sw.write(multipartOpen) != nil {
		return
	}
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		if part(errorsOnly(resp)) == nil {
			_ = sw.write(multipartClose)
		}
		return
	}
	if subscription {
		beats, stop := context.WithCancel(ctx)
		defer stop()
		go heartbeat(beats, s.cfg.keepAlive, func() error { return part(heartbeatPart) })
	}

	first := true
	endErr := runOperation(ctx, exec, rc, func(resp *graphql.Response, body []byte) error {
		switch {
		case subscription:
			return part([]byte(`{"payload":`), body, []byte("}"))
		case first:
			first = false
			return part(body)
		default:
			hasNext := resp.HasNext != nil && *resp.HasNext
			return part([]byte(`{"incremental":[`), body, []byte(`],"hasNext":`+strconv.FormatBool(hasNext)+"}"))
		}
	})
	// Going away, the answer ends without its closing delimiter, so that
	// the client resubscribes (elsewhere).
	s.end(ctx, endErr, func(errs gqlerror.List) error {
		body, _ := json.Marshal(struct {
			Payload *struct{}     `json:"payload"`
			Errors  gqlerror.List `json:"errors"`
		}{nil, errs})
		return part(body)
	}, func() { _ = sw.write(multipartClose) })
}
