package httpapi

import (
	"math"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
)

func TestAccepted(t *testing.T) {
	const (
		sse       = mediaEventStream
		multipart = mediaMultipart
		json      = ""
	)
	for _, tc := range []struct {
		accept                       string
		query, subscription, refused string
	}{
		{"", json, json, json},
		{"*/*", json, json, json},
		{"application/json", json, json, json},
		{"text/event-stream", sse, sse, sse},
		{"TEXT/Event-Stream; charset=utf-8", sse, sse, sse},
		{"application/json, text/event-stream", sse, sse, sse},
		{"application/json, text/event-stream;q=0.5", json, sse, json},
		{"application/json, text/event-stream;q=0", json, json, json},
		{"text/*", json, json, json},
		// Apollo Client 4's HttpLink.
		{"multipart/mixed;boundary=graphql;subscriptionSpec=1.0,application/graphql-response+json,application/json;q=0.9", json, multipart, json},
		{`multipart/mixed; boundary="graphql"; subscriptionSpec="1.0", application/json`, json, multipart, json},
		{"multipart/mixed;deferSpec=20220824,application/graphql-response+json,application/json;q=0.9", multipart, json, json},
		{"multipart/mixed;deferSpec=20230101,application/json", json, json, json},
		{"multipart/mixed, application/json", json, json, json},
		{`multipart/mixed;boundary="a,b";subscriptionSpec=1.0;q=0.5, text/event-stream;q=0.4`, sse, multipart, sse},
		{"multipart/mixed;subscriptionSpec=1.0;q=0.3, text/event-stream;q=0.4", sse, sse, sse},
		{"application/json;q=0, */*;q=0.1", json, json, json},
		{"garbage, text/event-stream", sse, sse, sse},
	} {
		a := accepted(tc.accept)
		for _, c := range []struct {
			kind ast.Operation
			want string
		}{{ast.Query, tc.query}, {ast.Mutation, tc.query}, {ast.Subscription, tc.subscription}, {"", tc.refused}} {
			if got := a.answer(c.kind); got != c.want {
				t.Errorf("accepted(%q).answer(%q) = %q, want %q (%+v)", tc.accept, c.kind, got, c.want, a)
			}
		}
	}
}

func TestParseAccept(t *testing.T) {
	got := parseAccept(`multipart/mixed;boundary="x,y";subscriptionSpec="1.0";q=0.7, application/json;q=0.9`)
	if len(got) != 2 || got[0].typ != "multipart" || got[0].sub != "mixed" || got[0].params["boundary"] != "x,y" ||
		got[0].params["subscriptionspec"] != "1.0" || math.Abs(got[0].q-0.7) > 1e-9 || math.Abs(got[1].q-0.9) > 1e-9 {
		t.Errorf("parseAccept = %+v", got)
	}
}
