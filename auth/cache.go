package auth

import (
	"context"

	"itemsapi/internal/cache"
	"itemsapi/items"
)

// CachedTokens returns store with the tokens it found remembered, within
// maxBytes of memory (see internal/cache), so that a client sending the
// same token again costs no store call. That is exact, on one process or
// many: a token, once stored, never changes and is never removed, and it
// names a user whose ID and name never change (the user's highest role may
// grow, but a caller acts with the role of the token it sent). Unknown
// tokens are not remembered: one may be created at any moment. A maxBytes
// of 0 remembers nothing. The store returned has a method
// CacheStats() cache.Stats.
func CachedTokens(store TokenStore, maxBytes int64) TokenStore {
	return &tokenCache{store: store, found: cache.New[items.TokenHash, caller](cache.Config{MaxBytes: maxBytes})}
}

type caller struct {
	user items.User
	role items.Role
}

type tokenCache struct {
	store TokenStore
	found *cache.Cache[items.TokenHash, caller]
}

// UserByToken implements TokenStore.
func (c *tokenCache) UserByToken(ctx context.Context, hash items.TokenHash) (items.User, items.Role, error) {
	if hit, ok := c.found.Get(hash); ok {
		return hit.user, hit.role, nil
	}
	user, role, err := c.store.UserByToken(ctx, hash)
	if err != nil {
		return user, role, err
	}
	// The cache reckons the hash and the caller themselves; what they
	// point at is the user's name (the roles are constants).
	c.found.Set(hash, caller{user, role}, int64(len(user.Name)))
	return user, role, nil
}

// CacheStats returns what the cache of tokens holds.
func (c *tokenCache) CacheStats() cache.Stats { return c.found.Stats() }
