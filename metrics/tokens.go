package metrics

import (
	"context"
	"time"

	"itemsapi/items"
)

// The methods of items.TokenStore, measured as the others are.

func (s *store) CreateToken(ctx context.Context, n items.NewTokenRequest) (_ items.Token, _ string, err error) {
	defer s.observe("CreateToken", time.Now(), &err)
	return s.next.CreateToken(ctx, n)
}

func (s *store) TokenByHash(ctx context.Context, hash items.TokenHash) (_ items.Token, _ items.User, err error) {
	defer s.observe("TokenByHash", time.Now(), &err)
	return s.next.TokenByHash(ctx, hash)
}

func (s *store) Token(ctx context.Context, id int64) (_ items.Token, err error) {
	defer s.observe("Token", time.Now(), &err)
	return s.next.Token(ctx, id)
}

func (s *store) Tokens(ctx context.Context, q items.TokenQuery) (_ []items.Token, err error) {
	defer s.observe("Tokens", time.Now(), &err)
	return s.next.Tokens(ctx, q)
}

func (s *store) CountTokens(ctx context.Context, userID int64) (_ int, err error) {
	defer s.observe("CountTokens", time.Now(), &err)
	return s.next.CountTokens(ctx, userID)
}

func (s *store) UserByName(ctx context.Context, name string) (_ items.User, err error) {
	defer s.observe("UserByName", time.Now(), &err)
	return s.next.UserByName(ctx, name)
}

func (s *store) RevokeToken(ctx context.Context, id int64, keepLastAdmin bool) (_ items.Token, err error) {
	defer s.observe("RevokeToken", time.Now(), &err)
	return s.next.RevokeToken(ctx, id, keepLastAdmin)
}

func (s *store) TouchTokens(ctx context.Context, used map[int64]time.Time) (err error) {
	defer s.observe("TouchTokens", time.Now(), &err)
	return s.next.TouchTokens(ctx, used)
}

func (s *store) TokenRevision(ctx context.Context) (_ int64, err error) {
	defer s.observe("TokenRevision", time.Now(), &err)
	return s.next.TokenRevision(ctx)
}

func (s *store) BootstrapToken(ctx context.Context, hash items.TokenHash) (_ items.BootstrapResult, err error) {
	defer s.observe("BootstrapToken", time.Now(), &err)
	return s.next.BootstrapToken(ctx, hash)
}
