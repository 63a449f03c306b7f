package auth

import (
	"context"
	"sync"

	"itemsapi/items"
)

// CachedTokens returns store with the tokens it found remembered, up to
// size of them, so that a client sending the same token again costs no
// store call. That is exact, on one process or many: a token, once stored,
// never changes and is never removed, and it names a user whose ID and
// name never change (the user's highest role may grow, but a caller acts
// with the role of the token it sent). Unknown tokens are not remembered:
// one may be created at any moment.
func CachedTokens(store TokenStore, size int) TokenStore {
	return &tokenCache{store: store, size: size, found: make(map[items.TokenHash]caller)}
}

type caller struct {
	user items.User
	role items.Role
}

type tokenCache struct {
	store TokenStore
	size  int

	mu    sync.RWMutex
	found map[items.TokenHash]caller
}

// UserByToken implements TokenStore.
func (c *tokenCache) UserByToken(ctx context.Context, hash items.TokenHash) (items.User, items.Role, error) {
	c.mu.RLock()
	hit, ok := c.found[hash]
	c.mu.RUnlock()
	if ok {
		return hit.user, hit.role, nil
	}
	user, role, err := c.store.UserByToken(ctx, hash)
	if err != nil {
		return user, role, err
	}
	c.mu.Lock()
	for k := range c.found {
		if len(c.found) < c.size {
			break
		}
		delete(c.found, k) // a random one: map order
	}
	c.found[hash] = caller{user, role}
	c.mu.Unlock()
	return user, role, nil
}
