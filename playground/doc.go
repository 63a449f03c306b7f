// Package playground serves GraphiQL, the in-browser GraphQL IDE, from
// assets embedded in the binary: the page loads nothing from any other host.
//
// One handler serves the page and its assets. Mount it on "/" and on every
// path under AssetPrefix:
//
//	pg := playground.Handler("/graphql")
//	r.Handle("/", pg)                        // the page, GET and HEAD
//	r.Handle(playground.AssetPrefix+"*", pg) // graphiql.js, .css, favicon.svg
//
// The page links each asset with its content hash in the query
// (?v=<hash>); a request that carries the current hash may be cached for a
// year. The page itself is never cached, so a new binary's assets are picked
// up at once. Assets are sent gzip-compressed to clients that accept it.
//
// The page sends a strict Content-Security-Policy (see CSP): no inline
// scripts, no eval, and connections only to its own origin and websockets.
// It reads its configuration from data attributes, not from inline script.
//
// The files in dist/ are built from web/ with esbuild and committed, so
// building the Go program never needs npm; README.md says how to rebuild them.
package playground
