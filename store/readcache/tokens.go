package readcache

import (
	"context"
	"time"

	"itemsapi/items"
)

// The token methods pass through: tokens and users are not cached here
// (the token cache of package auth is exact on its own terms).

// CreateToken implements items.TokenStore.
func (s *Store) CreateToken(ctx context.Context, n items.NewTokenRequest) (items.Token, string, error) {
	return s.inner.CreateToken(ctx, n)
}

// TokenByHash implements items.TokenStore.
func (s *Store) TokenByHash(ctx context.Context, hash items.TokenHash) (items.Token, items.User, error) {
	return s.inner.TokenByHash(ctx, hash)
}

// Token implements items.TokenStore.
func (s *Store) Token(ctx context.Context, id int64) (items.Token, error) {
	return s.inner.Token(ctx, id)
}

// Tokens implements items.TokenStore.
func (s *Store) Tokens(ctx context.Context, q items.TokenQuery) ([]items.Token, error) {
	return s.inner.Tokens(ctx, q)
}

// CountTokens implements items.TokenStore.
func (s *Store) CountTokens(ctx context.Context, userID int64) (int, error) {
	return s.inner.CountTokens(ctx, userID)
}

// UserByName implements items.TokenStore.
func (s *Store) UserByName(ctx context.Context, name string) (items.User, error) {
	return s.inner.UserByName(ctx, name)
}

// RevokeToken implements items.TokenStore.
func (s *Store) RevokeToken(ctx context.Context, id int64, keepLastAdmin bool) (items.Token, error) {
	return s.inner.RevokeToken(ctx, id, keepLastAdmin)
}

// TouchTokens implements items.TokenStore.
func (s *Store) TouchTokens(ctx context.Context, used map[int64]time.Time) error {
	return s.inner.TouchTokens(ctx, used)
}

// TokenRevision implements items.TokenStore.
func (s *Store) TokenRevision(ctx context.Context) (int64, error) {
	return s.inner.TokenRevision(ctx)
}

// BootstrapToken implements items.TokenStore.
func (s *Store) BootstrapToken(ctx context.Context, hash items.TokenHash) (items.BootstrapResult, error) {
	return s.inner.BootstrapToken(ctx, hash)
}
