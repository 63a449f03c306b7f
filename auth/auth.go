// Package auth finds the API token of a request, over HTTP headers or a
// websocket's connection_init payload, and makes the request's caller
// available to the resolvers through items.CallerFrom. Tokens are looked
// up by their SHA-256 hash, only when a field needs the caller, and are
// never logged.
package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"itemsapi/internal/request"
	"itemsapi/items"
)

// TokenStore finds the caller that holds a token: a *Tokens, the exact
// cache in front of the store.
type TokenStore interface {
	// Authenticate returns the caller holding the token with that hash,
	// or an error with code Unauthenticated saying why not (unknown,
	// items.ErrTokenRevoked, items.ErrTokenExpired).
	Authenticate(ctx context.Context, hash items.TokenHash) (items.Caller, error)
}

// maxTokenLength bounds what is hashed and looked up: our tokens are 47
// bytes; anything much longer is not one of ours.
const maxTokenLength = 256

var errUnknownToken = items.Errorf(items.Unauthenticated, "the API token is not valid")

// Middleware returns middleware that attaches the token of each request,
// from `Authorization: Bearer <token>` or `token: <token>`, to its
// context. It reads the token, and its hash, from the request's record
// (package request), which found it once.
func Middleware(store TokenStore) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec, w, r := request.Of(w, r)
			if token := rec.Token(); token != nil {
				r = r.WithContext(WithToken(r.Context(), store, token))
			}
			next.ServeHTTP(w, r)
		})
	}
}

// FromInitPayload returns the token of a websocket connection_init payload:
// `{"Authorization": "Bearer <token>"}` (any case of the key) or
// `{"token": "<token>"}`.
func FromInitPayload(payload map[string]any) (string, bool) {
	h := http.Header{}
	for k, v := range payload {
		if s, ok := v.(string); ok {
			switch strings.ToLower(k) {
			case "authorization":
				h.Set("Authorization", s)
			case "token":
				h.Set("Token", s)
			}
		}
	}
	return request.TokenFromHeader(h)
}

// WithToken returns a copy of ctx whose caller is the holder of token,
// looked up in store the first time a resolver asks.
func WithToken(ctx context.Context, store TokenStore, token *request.Token) context.Context {
	return items.WithAuthenticator(ctx, func() (items.Caller, error) {
		if token.Value == "" || len(token.Value) > maxTokenLength {
			return items.Caller{}, errUnknownToken
		}
		caller, err := store.Authenticate(ctx, token.Hash())
		switch {
		case err == nil:
			return caller, nil
		case errors.Is(err, items.ErrTokenRevoked), errors.Is(err, items.ErrTokenExpired):
			return items.Caller{}, err
		case items.ErrorCode(err) == items.Unauthenticated:
			return items.Caller{}, errUnknownToken
		}
		return items.Caller{}, err
	})
}
