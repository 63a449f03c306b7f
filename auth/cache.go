package auth

import (
	"itemsapi/internal/cache"
	"itemsapi/items"
)

// tokenCache holds token look-ups by hash within a byte budget (see
// internal/cache). It only stores: what makes an entry still valid is
// Tokens' business (tokens.go).
type tokenCache struct {
	found *cache.Cache[items.TokenHash, *entry]
}

func newTokenCache(maxBytes int64) *tokenCache {
	return &tokenCache{found: cache.New[items.TokenHash, *entry](cache.Config{MaxBytes: maxBytes})}
}

// entryBytes is what an entry points at besides its user's name: the
// entry, and the times its token may hold.
const entryBytes = 256

// get returns the entry of hash, or nil.
func (c *tokenCache) get(hash items.TokenHash) *entry {
	e, _ := c.found.Get(hash)
	return e
}

// put stores e under hash.
func (c *tokenCache) put(hash items.TokenHash, e *entry) {
	c.found.Set(hash, e, entryBytes+int64(len(e.user.Name)))
}

// stats returns what the cache holds.
func (c *tokenCache) stats() cache.Stats { return c.found.Stats() }
