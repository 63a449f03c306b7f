// Package graph is the GraphQL layer: the schema executable that gqlgen
// generates from schema.graphqls, thin resolvers over an items.Store, the
// @auth directive, and the error presenter.
package graph

//go:generate go run itemsapi/internal/gqlgen

import (
	"context"

	"itemsapi/graph/model"
	"itemsapi/items"
)

// Resolver is the root resolver. It holds the service's dependencies and
// no request state.
type Resolver struct {
	Store  items.Store
	Broker items.Broker
}

// defaultPageSize is the page size when a client gives no `first`.
const defaultPageSize = 20

// page returns the page of items matching search that first and after
// select. It fails with code BAD_USER_INPUT for a `first` outside
// 0..MaxPageSize or a malformed cursor; an empty cursor is no cursor.
func (r *Resolver) page(ctx context.Context, search string, first *int, after *string) (model.ItemConnection, error) {
	n, afterID, err := pageArgs(first, after)
	if err != nil {
		return model.ItemConnection{}, err
	}
	page, err := r.Store.Items(ctx, items.ItemQuery{Search: search, After: afterID, Limit: n + 1})
	if err != nil {
		return model.ItemConnection{}, err
	}
	hasNext := len(page) > n
	if hasNext {
		page = page[:n]
	}
	return model.ItemConnection{
		Page:        page,
		HasNext:     hasNext,
		HasPrevious: afterID > 0,
		Count: func(ctx context.Context) (int, error) {
			return r.Store.CountItems(ctx, search)
		},
	}, nil
}

// noMatch is the answer to a search that can match nothing, given without
// asking the store: no items, a total count of 0, no page before or after,
// null cursors. The page arguments are checked as page checks them, so
// that a bad `first` or cursor is refused whatever the search string.
func (r *Resolver) noMatch(first *int, after *string) (model.ItemConnection, error) {
	if _, _, err := pageArgs(first, after); err != nil {
		return model.ItemConnection{}, err
	}
	return model.ItemConnection{
		Count: func(context.Context) (int, error) { return 0, nil },
	}, nil
}

// pageArgs returns the page size and the ID after which a page starts. It
// fails with code BAD_USER_INPUT for a `first` outside 0..MaxPageSize or a
// malformed cursor.
func pageArgs(first *int, after *string) (n int, afterID int64, err error) {
	n = defaultPageSize
	if first != nil {
		n = *first
	}
	if n < 0 || n > items.MaxPageSize {
		return 0, 0, items.Errorf(items.Invalid, "first must be between 0 and %d, got %d", items.MaxPageSize, n)
	}
	if after != nil && *after != "" { // "": no cursor, as genqlient sends an unset one
		if afterID, err = model.DecodeCursor(*after); err != nil {
			return 0, 0, err
		}
	}
	return n, afterID, nil
}

// follow subscribes to the events of kind after the item that after names
// (from now when nil).
func (r *Resolver) follow(ctx context.Context, kind items.EventKind, after *int64) (*items.Subscription, error) {
	from := items.FromNow
	if after != nil {
		from = *after
	}
	return r.Broker.Follow(ctx, kind, from)
}

// ids passes on the IDs of the items of c, until c is closed or ctx is
// done. The subscription's producer paces c, and so what ids passes on:
// it holds one item at most.
func ids(ctx context.Context, c <-chan items.Item) <-chan int64 {
	out := make(chan int64)
	go func() {
		defer close(out)
		for it := range c {
			select {
			case out <- it.ID:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
