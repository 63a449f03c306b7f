package auth

import (
	"sync"

	"itemsapi/items"
)

// cache holds token look-ups by hash, up to size of them. It only stores:
// what makes an entry still valid is Tokens' business (tokens.go), so this
// map can be swapped for another bounded cache without touching that.
type cache struct {
	size int

	mu    sync.RWMutex
	found map[items.TokenHash]*entry
}

func newCache(size int) *cache {
	return &cache{size: size, found: make(map[items.TokenHash]*entry)}
}

// get returns the entry of hash, or nil.
func (c *cache) get(hash items.TokenHash) *entry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.found[hash]
}

// put stores e under hash, evicting entries to stay within size, and
// returns the entries it evicted (not the one e replaced).
func (c *cache) put(hash items.TokenHash, e *entry) (evicted []*entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.found[hash]; !ok {
		for k, old := range c.found {
			if len(c.found) < c.size {
				break
			}
			delete(c.found, k) // a random one: map order
			evicted = append(evicted, old)
		}
	}
	c.found[hash] = e
	return evicted
}

// each calls f with every entry, under the read lock.
func (c *cache) each(f func(*entry)) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, e := range c.found {
		f(e)
	}
}
