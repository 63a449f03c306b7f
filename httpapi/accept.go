package httpapi

import (
	"mime"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// Media types of the streaming transports.
const (
	mediaEventStream = "text/event-stream"
	mediaMultipart   = "multipart/mixed"
)

// mediaRange is one element of an Accept header: a type and subtype ("*"
// for a wildcard), in lower case, its parameters but q, and its quality.
type mediaRange struct {
	typ, sub string
	params   map[string]string
	q        float64
}

// parseAccept parses an Accept header (RFC 9110, section 12.5.1) into its
// media ranges, in order. A range that does not parse is left out; commas
// inside quoted parameter values do not split ranges.
func parseAccept(header string) []mediaRange {
	var ranges []mediaRange
	for _, part := range splitOutsideQuotes(header) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		mt, params, err := mime.ParseMediaType(part)
		if err != nil {
			continue
		}
		typ, sub, ok := strings.Cut(mt, "/")
		if !ok || typ == "" || sub == "" || (typ == "*" && sub != "*") {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			q = parseQ(v)
			delete(params, "q")
		}
		ranges = append(ranges, mediaRange{typ: typ, sub: sub, params: params, q: q})
	}
	return ranges
}

// splitOutsideQuotes splits s at the commas that are not inside a quoted
// string.
func splitOutsideQuotes(s string) []string {
	var parts []string
	start, quoted, escaped := 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// acceptance is what a request's Accept header says of the media types the
// GraphQL endpoint can answer with, each as a quality from 0 (refused) to 1.
type acceptance struct {
	// json is the quality of application/json or
	// application/graphql-response+json, wildcards included: the answer
	// every client gets when it asks for nothing better.
	json float64
	// eventStream is the quality of text/event-stream named as such (a
	// wildcard does not ask for a stream).
	eventStream float64
	// subscriptionSpec is the quality of multipart/mixed with a
	// subscriptionSpec parameter (Apollo's multipart subscriptions), and
	// deferSpec that of multipart/mixed;deferSpec=20220824 (incremental
	// delivery as Apollo Client reads it).
	subscriptionSpec float64
	deferSpec        float64
}

// accepted parses the Accept header of a request. No header accepts JSON.
func accepted(header string) acceptance {
	if !containsFold(header, "event-stream") && !containsFold(header, "multipart") {
		// No stream can be asked for: the ranges of JSON would only be
		// compared among themselves, which responseMedia does. This
		// spares the parse on the hot path of plain queries.
		return acceptance{json: 1}
	}
	var a acceptance
	// The most specific range that matches a type sets its quality (RFC
	// 9110): type/subtype over type/* over */*.
	exact, app, wild := -1.0, -1.0, -1.0
	for _, r := range parseAccept(header) {
		switch {
		case r.typ == "application" && (r.sub == "json" || r.sub == "graphql-response+json"):
			exact = max(exact, r.q)
		case r.typ == "application" && r.sub == "*":
			app = max(app, r.q)
		case r.typ == "*":
			wild = max(wild, r.q)
		case r.typ == "text" && r.sub == "event-stream":
			a.eventStream = max(a.eventStream, r.q)
		case r.typ == "multipart" && r.sub == "mixed":
			if _, ok := r.params["subscriptionspec"]; ok {
				a.subscriptionSpec = max(a.subscriptionSpec, r.q)
			}
			if r.params["deferspec"] == "20220824" {
				a.deferSpec = max(a.deferSpec, r.q)
			}
		}
	}
	switch {
	case exact >= 0:
		a.json = exact
	case app >= 0:
		a.json = app
	case wild >= 0:
		a.json = wild
	}
	return a
}

// answer returns how to answer an operation of that kind ("" for one
// refused before it ran, whose errors are the answer): mediaEventStream,
// mediaMultipart, or "" for JSON. A subscription is streamed whenever the
// client takes a stream at all, whatever it says of JSON, and "" then
// means that it cannot be answered. Otherwise a stream the client prefers
// at least as much as JSON wins: the client named it.
func (a acceptance) answer(kind ast.Operation) string {
	switch kind {
	case ast.Subscription:
		switch {
		case a.eventStream > 0 && a.eventStream >= a.subscriptionSpec:
			return mediaEventStream
		case a.subscriptionSpec > 0:
			return mediaMultipart
		}
		return ""
	case "":
		// graphql-sse reports what refused an operation in the stream.
		if a.eventStream > 0 && a.eventStream >= a.json {
			return mediaEventStream
		}
		return ""
	}
	switch {
	case a.eventStream > 0 && a.eventStream >= max(a.json, a.deferSpec):
		return mediaEventStream
	case a.deferSpec > 0 && a.deferSpec >= a.json:
		return mediaMultipart
	}
	return ""
}

// containsFold reports whether s contains the lower-case ASCII substr,
// in any case, without allocating.
func containsFold(s, substr string) bool {
	for i := 0; i+len(substr) <= len(s); i++ {
		j := 0
		for ; j < len(substr); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != substr[j] {
				break
			}
		}
		if j == len(substr) {
			return true
		}
	}
	return false
}
