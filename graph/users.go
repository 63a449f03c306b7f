package graph

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"itemsapi/gqlspec"
	"itemsapi/items"
)

// Item.createdBy is a batch resolver (gqlgen.yml): gqlgen hands it every
// item of a list at once, so a page costs one store call whatever its
// size. A response may hold several lists (nodes and edges, or two
// aliased pages); UserCache makes the users one list loaded serve the
// others, so that a response costs one call for each set of users it has
// not met yet, and usually one in all.

// UserCache returns a gqlgen extension that gives every response its own
// cache of users, so that nothing cached outlives the response.
func UserCache() graphql.HandlerExtension { return userCacheExtension{"UserCache"} }

type userCacheExtension struct{ gqlspec.Named }

var _ graphql.ResponseInterceptor = userCacheExtension{}

// InterceptResponse implements graphql.ResponseInterceptor.
func (userCacheExtension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	return next(WithUserCache(ctx))
}

// WithUserCache returns a copy of ctx with a cache of users of its own,
// for one response: what UserCache gives each response of gqlgen's
// executor, for a response written otherwise (gqlspec/plan).
func WithUserCache(ctx context.Context) context.Context {
	return context.WithValue(ctx, userCacheKey{}, &userCache{})
}

type userCacheKey struct{}

// userCache holds the users a response has loaded; a nil entry is a user
// that does not exist.
type userCache struct {
	mu    sync.Mutex
	users map[int64]*items.User
}

// userCacheOf returns the cache of users of the response that ctx belongs
// to, or a new one that no other call shares when there is none.
func userCacheOf(ctx context.Context) *userCache {
	if c, _ := ctx.Value(userCacheKey{}).(*userCache); c != nil {
		return c
	}
	return &userCache{}
}

// createdBy returns the user who added each item, in the order of objs:
// nil for the demo items and for a user that does not exist.
func createdBy(ctx context.Context, store items.Store, objs []*items.Item) ([]*items.User, error) {
	c := userCacheOf(ctx)
	// The lock is held across the store call: another list of the same
	// response waits for it, then finds its users loaded.
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.load(ctx, store, objs); err != nil {
		return nil, err
	}
	out := make([]*items.User, len(objs))
	for i, it := range objs {
		if it.CreatedByID != 0 {
			out[i] = c.users[it.CreatedByID]
		}
	}
	return out, nil
}

// load fetches, in one store call, the creators of objs that c does not
// hold yet. c.mu is held.
func (c *userCache) load(ctx context.Context, store items.Store, objs []*items.Item) error {
	ids := make([]int64, 0, len(objs))
	for _, it := range objs {
		if it.CreatedByID != 0 {
			ids = append(ids, it.CreatedByID)
		}
	}
	return c.loadIDs(ctx, store, ids)
}

// loadIDs fetches, in one store call, the users with those IDs that c does
// not hold yet. c.mu is held.
func (c *userCache) loadIDs(ctx context.Context, store items.Store, ids []int64) error {
	if c.users == nil {
		c.users = make(map[int64]*items.User)
	}
	var missing []int64
	for _, id := range ids {
		if _, ok := c.users[id]; !ok {
			c.users[id] = nil
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	users, err := store.Users(ctx, missing)
	if err != nil {
		for _, id := range missing {
			delete(c.users, id)
		}
		return err
	}
	for i := range users {
		c.users[users[i].ID] = &users[i]
	}
	return nil
}
