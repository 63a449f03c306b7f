package httpapi

import (
	"mime"
	"net/http"
	"strings"

	"github.com/go-chi/cors"
)

// Cross-site requests, and why the defaults are safe.
//
// Credentials travel only in headers (Authorization, token, or the
// websocket's connection_init payload), never in cookies, so a request a
// browser sends cross-site on its own carries none: a hostile page can make
// a visitor's browser ask anonymous questions, nothing more. Beyond that:
//   - a POST body must be application/json (or graphql-response+json):
//     the simple content types a form or fetch can send without a preflight
//     (text/plain, application/x-www-form-urlencoded, multipart/form-data)
//     are refused with 415 before anything runs;
//   - GET never runs a mutation (405);
//   - CORS is closed unless origins are listed, so no other site's script
//     can read an answer; the same list says which pages may open
//     websockets.
// Where a proxy in front adds cookies or other ambient credentials, turn on
// CSRF prevention as Apollo Server does it (csrfPrevention below).

// corsHeaders are the request headers a listed origin's script may send.
var corsHeaders = []string{
	"Accept", "Authorization", "Content-Type", "token", "X-Request-Id",
	"apollo-require-preflight", "x-apollo-operation-name",
	"apollographql-client-name", "apollographql-client-version",
	"graphql-client-name", "graphql-client-version",
	streamTokenHeader, // graphql-sse's single-connection mode
}

// corsMiddleware answers preflights and adds CORS headers for the listed
// origins (exact origins like https://app.example.com, or one wildcard:
// https://*.example.com). With no origins it adds nothing.
func corsMiddleware(origins []string) func(http.Handler) http.Handler {
	if len(origins) == 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	return cors.Handler(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodOptions, http.MethodPut, http.MethodDelete},
		AllowedHeaders: corsHeaders,
		ExposedHeaders: []string{"X-Request-Id", "Retry-After"},
		// Credentials are headers, never cookies: nothing to allow.
		AllowCredentials: false,
		MaxAge:           600,
	})
}

// csrfPrevention refuses, as Apollo Server's csrfPrevention does, a
// request that a browser could send cross-site without a preflight: one
// with no Content-Type or a simple one (text/plain, form encodings), unless
// it carries a non-empty apollo-require-preflight or
// x-apollo-operation-name header, which no simple request can. Websocket
// upgrades are left to the Origin check.
func csrfPrevention(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions || isWebsocketUpgrade(r) || preflighted(r) {
			next.ServeHTTP(w, r)
			return
		}
		writeError(w, http.StatusBadRequest, codeBadRequest,
			"This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). "+
				"Please either specify a 'content-type' header (with a type that is not one of "+
				"application/x-www-form-urlencoded, multipart/form-data, text/plain) or provide "+
				"a non-empty value for one of the following headers: x-apollo-operation-name, apollo-require-preflight")
	})
}

// preflighted reports whether a browser would have sent a CORS preflight
// before r (or r is not from a browser script at all).
func preflighted(r *http.Request) bool {
	if r.Header.Get("apollo-require-preflight") != "" || r.Header.Get("x-apollo-operation-name") != "" {
		return true
	}
	// PUT and DELETE (graphql-sse's reservations) are never simple, nor
	// is a request with the stream token header.
	if r.Method != http.MethodGet && r.Method != http.MethodPost && r.Method != http.MethodHead || r.Header.Get(streamTokenHeader) != "" {
		return true
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return true // not a type a browser sends without a preflight
	}
	switch mt {
	case "text/plain", "application/x-www-form-urlencoded", "multipart/form-data":
		return false
	}
	return true
}

// isWebsocketUpgrade reports whether r asks to upgrade to a websocket.
func isWebsocketUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}
