package memory

import (
	"context"
	"time"

	"itemsapi/items"
)

// SetClock makes the store read the time from now, for roles and expiry
// (see items.SettableClock).
func (s *Store) SetClock(now func() time.Time) { s.clock.SetClock(now) }

// userID returns the ID of the user that name designates, creating it if
// need be. The caller holds s.mu for writing.
func (s *Store) userID(userName string) (int64, error) {
	id, ok := s.byName[userName]
	if !ok {
		id, ok = s.byFold[items.FoldUserName(userName)]
	}
	if ok {
		return id, nil
	}
	if err := items.ValidateNewUserName(userName); err != nil {
		return 0, err
	}
	s.lastUser++
	id = s.lastUser
	s.byName[userName] = id
	s.byFold[items.FoldUserName(userName)] = id
	s.users[id] = items.User{ID: id, Name: userName}
	return id, nil
}

// addToken stores t with the next ID and returns it. The caller holds s.mu
// for writing.
func (s *Store) addToken(t items.Token, hash items.TokenHash) items.Token {
	t.ID = int64(len(s.tokenIDs)) + 1
	p := &t
	s.tokens[hash] = p
	s.tokenIDs = append(s.tokenIDs, p)
	s.byUser[t.UserID] = append(s.byUser[t.UserID], p)
	return copyToken(*p)
}

// withRole returns u with its role at now: its highest among its usable
// tokens. The caller holds s.mu.
func (s *Store) withRole(u items.User, now time.Time) items.User {
	u.Role = items.RoleUser
	for _, t := range s.byUser[u.ID] {
		if t.Role == items.RoleAdmin && t.Usable(now) == nil {
			u.Role = items.RoleAdmin
			break
		}
	}
	return u
}

func copyToken(t items.Token) items.Token {
	for _, p := range []**time.Time{&t.ExpiresAt, &t.LastUsedAt, &t.RevokedAt} {
		if *p != nil {
			v := **p
			*p = &v
		}
	}
	return t
}

// CreateToken implements items.TokenStore.
func (s *Store) CreateToken(ctx context.Context, n items.NewTokenRequest) (items.Token, string, error) {
	if !n.Role.Valid() {
		return items.Token{}, "", items.Errorf(items.Invalid, "role %q is not valid", n.Role)
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.userID(n.UserName)
	if err != nil {
		return items.Token{}, "", err
	}
	token, hash := items.MintToken(int64(len(s.tokenIDs)) + 1)
	t := items.Token{UserID: id, Role: n.Role, CreatedAt: now}
	if n.ExpiresAt != nil {
		e := n.ExpiresAt.UTC().Truncate(time.Microsecond)
		t.ExpiresAt = &e
	}
	return s.addToken(t, hash), token, nil
}

// TokenByHash implements items.TokenStore.
func (s *Store) TokenByHash(ctx context.Context, hash items.TokenHash) (items.Token, items.User, error) {
	now := s.clock.Now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.tokens[hash]
	if !ok {
		return items.Token{}, items.User{}, items.Errorf(items.Unauthenticated, "unknown token")
	}
	return copyToken(*t), s.withRole(s.users[t.UserID], now), nil
}

// Token implements items.TokenStore.
func (s *Store) Token(ctx context.Context, id int64) (items.Token, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if id < 1 || id > int64(len(s.tokenIDs)) {
		return items.Token{}, items.Errorf(items.NotFound, "no token with id %d", id)
	}
	return copyToken(*s.tokenIDs[id-1]), nil
}

// Tokens implements items.TokenStore.
func (s *Store) Tokens(ctx context.Context, q items.TokenQuery) ([]items.Token, error) {
	if err := items.CheckLimit(q.Limit); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	page := make([]items.Token, 0, q.Limit)
	for _, t := range s.tokenIDs[min(max(q.After, 0), int64(len(s.tokenIDs))):] {
		if len(page) == q.Limit {
			break
		}
		if q.UserID <= 0 || t.UserID == q.UserID {
			page = append(page, copyToken(*t))
		}
	}
	return page, nil
}

// CountTokens implements items.TokenStore.
func (s *Store) CountTokens(ctx context.Context, userID int64) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if userID <= 0 {
		return len(s.tokenIDs), nil
	}
	n := 0
	for _, t := range s.tokenIDs {
		if t.UserID == userID {
			n++
		}
	}
	return n, nil
}

// UserByName implements items.TokenStore.
func (s *Store) UserByName(ctx context.Context, name string) (items.User, error) {
	now := s.clock.Now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.byName[name]
	if !ok {
		id, ok = s.byFold[items.FoldUserName(name)]
	}
	if !ok {
		return items.User{}, items.Errorf(items.NotFound, "no user %q", name)
	}
	return s.withRole(s.users[id], now), nil
}

// RevokeToken implements items.TokenStore.
func (s *Store) RevokeToken(ctx context.Context, id int64, keepLastAdmin bool) (items.Token, error) {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || id > int64(len(s.tokenIDs)) {
		return items.Token{}, items.Errorf(items.NotFound, "no token with id %d", id)
	}
	t := s.tokenIDs[id-1]
	if t.RevokedAt != nil {
		return copyToken(*t), nil
	}
	if keepLastAdmin && t.Role == items.RoleAdmin && t.Usable(now) == nil {
		last := true
		for _, o := range s.tokenIDs {
			if o != t && o.Role == items.RoleAdmin && o.Usable(now) == nil {
				last = false
				break
			}
		}
		if last {
			return items.Token{}, items.ErrLastAdmin
		}
	}
	t.RevokedAt = &now
	s.revision.Add(1)
	return copyToken(*t), nil
}

// TouchTokens implements items.TokenStore.
func (s *Store) TouchTokens(ctx context.Context, used map[int64]time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, at := range used {
		if id < 1 || id > int64(len(s.tokenIDs)) {
			continue
		}
		at = at.UTC().Truncate(time.Microsecond)
		if t := s.tokenIDs[id-1]; t.LastUsedAt == nil || t.LastUsedAt.Before(at) {
			t.LastUsedAt = &at
		}
	}
	return nil
}

// TokenRevision implements items.TokenStore: no read at all.
func (s *Store) TokenRevision(ctx context.Context) (int64, error) {
	return s.revision.Load(), nil
}

// BootstrapToken implements items.TokenStore.
func (s *Store) BootstrapToken(ctx context.Context, hash items.TokenHash) (items.BootstrapResult, error) {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[hash]; ok {
		if t.RevokedAt != nil {
			return items.BootstrapResult{Token: copyToken(*t), Revoked: true}, nil
		}
		t.Bootstrap = true
		return items.BootstrapResult{Token: copyToken(*t)}, nil
	}
	id, err := s.userID("admin")
	if err != nil {
		return items.BootstrapResult{}, err
	}
	res := items.BootstrapResult{Created: true}
	for _, t := range s.tokenIDs {
		if t.Bootstrap && t.RevokedAt == nil {
			t.RevokedAt = &now
			res.RevokedPrevious++
		}
	}
	if res.RevokedPrevious > 0 {
		s.revision.Add(1)
	}
	res.Token = s.addToken(items.Token{UserID: id, Role: items.RoleAdmin, CreatedAt: now, Bootstrap: true}, hash)
	return res, nil
}
