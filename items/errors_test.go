package items_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"itemsapi/items"
)

// apiCodes are the codes of the table "Errors" of API.md, the public
// contract, and of its later "New error code" lines.
var apiCodes = []string{
	"BAD_REQUEST", "UNAUTHENTICATED", "FORBIDDEN", "BAD_USER_INPUT",
	"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "PERSISTED_QUERY_NOT_FOUND",
	"INTERNAL_SERVER_ERROR", "CONFLICT",
}

// streamOnly are the codes a client sees outside a GraphQL result alone:
// a subscription the server ended, an operation refused during shutdown
// (the httpapi tests pin them). API.md does not list them.
var streamOnly = []string{"SERVICE_UNAVAILABLE"}

var allCodes = []items.Code{
	items.Invalid, items.NotFound, items.Unauthenticated, items.Forbidden, items.Conflict,
	items.Unavailable, items.Internal,
	items.BadRequest, items.ParseFailed, items.ValidationFailed, items.PersistedQueryNotFound,
}

func TestPublicCodes(t *testing.T) {
	want := slices.Sorted(slices.Values(append(slices.Clone(apiCodes), streamOnly...)))
	got := slices.Sorted(slices.Values(items.PublicCodes()))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PublicCodes() (-want +got):\n%s", diff)
	}
	var reached []string
	for _, c := range allCodes {
		if !slices.Contains(reached, c.Public()) {
			reached = append(reached, c.Public())
		}
	}
	if diff := cmp.Diff(want, slices.Sorted(slices.Values(reached))); diff != "" {
		t.Errorf("the public codes of the codes (-want +got):\n%s", diff)
	}
}

func TestCodes(t *testing.T) {
	for _, c := range allCodes {
		t.Run(string(c), func(t *testing.T) {
			// A GraphQL result shows only what API.md lists.
			if shown := c.Shown(); !slices.Contains(apiCodes, shown) {
				t.Errorf("Shown() = %q, not a code of API.md", shown)
			}
			if c.Fault() && c.Shown() != "INTERNAL_SERVER_ERROR" {
				t.Errorf("Shown() = %q for a fault, want INTERNAL_SERVER_ERROR", c.Shown())
			}
			if c.Fault() != (c.Status() >= 500) {
				t.Errorf("Fault() = %v with Status() %d", c.Fault(), c.Status())
			}
			// The code that stands for a public code agrees with every
			// code that shares it.
			first, ok := items.CodeOf(c.Public())
			if !ok {
				t.Fatalf("CodeOf(%q) found nothing", c.Public())
			}
			if first.Status() != c.Status() || first.Fault() != c.Fault() {
				t.Errorf("%s and %s share %s but not status and fault: %d %v, %d %v",
					first, c, c.Public(), first.Status(), first.Fault(), c.Status(), c.Fault())
			}
			if got := c.Extensions()["code"]; got != c.Public() {
				t.Errorf(`Extensions()["code"] = %v, want %q`, got, c.Public())
			}
		})
	}
}

func TestUnknownCodes(t *testing.T) {
	if got := items.Code("teapot").Public(); got != "INTERNAL_SERVER_ERROR" {
		t.Errorf(`Code("teapot").Public() = %q, want INTERNAL_SERVER_ERROR`, got)
	}
	for _, public := range []string{"", "TEAPOT", "NOT_FOUND", "INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"} {
		if !items.PublicFault(public) {
			t.Errorf("PublicFault(%q) = false, want true", public)
		}
	}
	for _, public := range []string{"BAD_REQUEST", "BAD_USER_INPUT", "CONFLICT", "PERSISTED_QUERY_NOT_FOUND"} {
		if items.PublicFault(public) {
			t.Errorf("PublicFault(%q) = true, want false", public)
		}
	}
	if got := items.ErrorCode(nil); got != "" {
		t.Errorf("ErrorCode(nil) = %q, want \"\"", got)
	}
	if got := items.ErrorCode(items.Errorf(items.Conflict, "stale")); got != items.Conflict {
		t.Errorf("ErrorCode(Conflict error) = %q, want %q", got, items.Conflict)
	}
}
