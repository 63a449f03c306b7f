// Package graph is the GraphQL layer: the schema executable that gqlgen
// generates from schema.graphqls, thin resolvers over an items.Store, the
// @auth directive, and the error presenter.
package graph

//go:generate go run itemsapi/gqlspec/gqlgen

import (
	"context"
	"math"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"itemsapi/graph/model"
	"itemsapi/items"
)

// Resolver is the root resolver. It holds the service's dependencies and
// no request state.
type Resolver struct {
	Store  items.Store
	Broker items.Broker
	// Clock tells the time for the rules on token expiry (time.Now when
	// nil).
	Clock func() time.Time
}

// pageArgs are the arguments of a connection: items' and search's.
type pageArgs struct {
	first, last   *int
	after, before *string
	// firstGiven says whether the client gave first, rather than the
	// schema's default: when last is given, first's default does not apply.
	firstGiven bool
	order      items.Order
}

// pageQuery is a page's query, checked: the items it asks for (n), and
// its cursors' positions.
type pageQuery struct {
	n           int
	last        bool
	start, end  *items.Position
	order       items.Order
	search      string
	cursorGiven bool
}

// check returns the query of a. It fails with code items.Invalid for
// first and last both given, either outside 0..MaxPageSize, or a
// malformed cursor or one of another order; an empty cursor is no cursor.
func (a pageArgs) check() (pageQuery, error) {
	q := pageQuery{n: items.DefaultPageSize, order: a.order}
	switch {
	case a.last != nil && a.firstGiven && a.first != nil:
		return q, items.Errorf(items.Invalid, "first and last cannot both be given: page forward with first and after, or backward with last and before")
	case a.last != nil:
		q.n, q.last = *a.last, true
		if q.n < 0 || q.n > items.MaxPageSize {
			return q, items.Errorf(items.Invalid, "last must be between 0 and %d, got %d", items.MaxPageSize, q.n)
		}
	case a.first != nil:
		q.n = *a.first
		if q.n < 0 || q.n > items.MaxPageSize {
			return q, items.Errorf(items.Invalid, "first must be between 0 and %d, got %d", items.MaxPageSize, q.n)
		}
	}
	for _, c := range []struct {
		cursor *string
		pos    **items.Position
	}{{a.after, &q.start}, {a.before, &q.end}} {
		if c.cursor == nil || *c.cursor == "" { // "": no cursor, as genqlient sends an unset one
			continue
		}
		p, err := model.DecodePosition(a.order, *c.cursor)
		if err != nil {
			return q, err
		}
		*c.pos = &p
	}
	return q, nil
}

// given reports whether the field of ctx was given the argument name, not
// null, in the document or through a variable that was sent: not the
// default of the schema.
func given(ctx context.Context, name string) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return true
	}
	a := fc.Field.Arguments.ForName(name)
	switch {
	case a == nil || a.Value == nil || a.Value.Kind == ast.NullValue:
		return false
	case a.Value.Kind == ast.Variable:
		oc := graphql.GetOperationContext(ctx)
		v, ok := oc.Variables[a.Value.Raw]
		return ok && v != nil
	}
	return true
}

// order returns the order that o names; nil is ID order, ascending.
func order(o *model.ItemOrder) items.Order {
	if o == nil {
		return items.Order{}
	}
	var out items.Order
	switch o.Field {
	case model.ItemOrderFieldName:
		out.Field = items.ByName
	case model.ItemOrderFieldUpdatedAt:
		out.Field = items.ByUpdatedAt
	}
	out.Desc = o.Direction == model.OrderDirectionDesc
	return out
}

// page returns the page of items matching search that a selects, with
// hasNextPage and hasPreviousPage exact both ways: whether any item comes
// after, or before, the page in the whole list (beyond a cursor too).
func (r *Resolver) page(ctx context.Context, search string, a pageArgs) (model.ItemConnection, error) {
	q, err := a.check()
	if err != nil {
		return model.ItemConnection{}, err
	}
	q.search = search
	iq := items.ItemQuery{Search: search, Limit: q.n + 1, Order: q.order, Start: q.start, End: q.end, Last: q.last}
	if iq.Order == (items.Order{}) && !iq.Last && iq.End == nil && iq.Start != nil {
		// The usual next page: as it always was asked for, which the
		// stores serve by prepared statements and the read cache knows.
		iq.After, iq.Start = iq.Start.ID, nil
	}
	list, err := r.Store.Items(ctx, iq)
	if err != nil {
		return model.ItemConnection{}, err
	}
	more := len(list) > q.n
	if more && q.last {
		list = list[1:]
	} else if more {
		list = list[:q.n]
	}
	conn := model.ItemConnection{
		Page:  list,
		Order: q.order,
		Count: func(ctx context.Context) (int, error) {
			return r.Store.CountItems(ctx, search)
		},
	}
	// Beyond the far cursor, when there is one: any item at or past it.
	var beforeStart, afterEnd bool
	if q.start != nil && !(q.last && more) {
		if beforeStart, err = r.exists(ctx, q, q.start, true); err != nil {
			return model.ItemConnection{}, err
		}
	}
	if q.end != nil && !(!q.last && more) {
		if afterEnd, err = r.exists(ctx, q, q.end, false); err != nil {
			return model.ItemConnection{}, err
		}
	}
	if q.last {
		conn.HasPrevious, conn.HasNext = more || beforeStart, afterEnd
	} else {
		conn.HasNext, conn.HasPrevious = more || afterEnd, beforeStart
	}
	return conn, nil
}

// exists reports whether an item of q's search is at p or before it in
// q's order (upTo), or at p or after it.
func (r *Resolver) exists(ctx context.Context, q pageQuery, p *items.Position, upTo bool) (bool, error) {
	// Positions are (value, ID) and IDs are whole numbers: "at p or
	// before" is "before p moved one ID on". A cursor's ID is 1 to
	// MaxInt64 (a forged one's too): moving on from MaxInt64 stays
	// there rather than wrap to the other end (and misses only an item
	// of that ID, some 9.2e18 additions away).
	moved := *p
	if upTo != q.order.Desc {
		moved.ID = min(moved.ID, math.MaxInt64-1) + 1
	} else {
		moved.ID--
	}
	iq := items.ItemQuery{Search: q.search, Limit: 1, Order: q.order}
	if upTo {
		iq.End, iq.Last = &moved, true
	} else {
		iq.Start = &moved
	}
	list, err := r.Store.Items(ctx, iq)
	return len(list) > 0, err
}

// noMatch is the answer to a search that can match nothing, given without
// asking the store: no items, a total count of 0, no page before or after,
// null cursors. The page arguments are checked as page checks them, so
// that a bad `first`, `last` or cursor is refused whatever the search
// string.
func (r *Resolver) noMatch(a pageArgs) (model.ItemConnection, error) {
	if _, err := a.check(); err != nil {
		return model.ItemConnection{}, err
	}
	return model.ItemConnection{
		Count: func(context.Context) (int, error) { return 0, nil },
	}, nil
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
