package graph

import (
	"context"
	"errors"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vikstrous/dataloadgen"

	"itemsapi/items"
)

// loaderWait is how long a loader gathers keys before it fetches them.
// The fields of a list resolve concurrently, so the keys of a page arrive
// within microseconds of each other.
const loaderWait = 500 * time.Microsecond

type loadersKey struct{}

// loaders are the batch loaders of one GraphQL response: each page's
// createdBy costs one store call whatever the page size.
type loaders struct {
	users *dataloadgen.Loader[int64, items.User]
}

// Loaders is a gqlgen extension that gives every response its own
// loaders, so that nothing cached outlives it.
type Loaders struct {
	Store items.Store
}

var (
	_ graphql.HandlerExtension    = Loaders{}
	_ graphql.ResponseInterceptor = Loaders{}
)

// ExtensionName implements graphql.HandlerExtension.
func (Loaders) ExtensionName() string { return "Loaders" }

// Validate implements graphql.HandlerExtension.
func (Loaders) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptResponse implements graphql.ResponseInterceptor.
func (l Loaders) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	ld := &loaders{
		users: dataloadgen.NewMappedLoader(l.fetchUsers,
			dataloadgen.WithWait(loaderWait),
			dataloadgen.WithBatchCapacity(items.MaxPageSize)),
	}
	return next(context.WithValue(ctx, loadersKey{}, ld))
}

func (l Loaders) fetchUsers(ctx context.Context, ids []int64) (map[int64]items.User, error) {
	users, err := l.Store.Users(ctx, ids)
	if err != nil {
		return nil, err
	}
	m := make(map[int64]items.User, len(users))
	for _, u := range users {
		m[u.ID] = u
	}
	return m, nil
}

// loadUser returns the user with that ID through the response's loader,
// or the store directly when there is none. A user that does not exist
// gives ok false and no error.
func loadUser(ctx context.Context, store items.Store, id int64) (u items.User, ok bool, err error) {
	var user items.User
	if ld, _ := ctx.Value(loadersKey{}).(*loaders); ld != nil {
		user, err = ld.users.Load(ctx, id)
	} else {
		var users []items.User
		users, err = store.Users(ctx, []int64{id})
		if err == nil && len(users) == 1 {
			user = users[0]
		}
	}
	if err != nil {
		if errors.Is(err, dataloadgen.ErrNotFound) {
			return items.User{}, false, nil
		}
		return items.User{}, false, err
	}
	return user, user.ID != 0, nil
}
