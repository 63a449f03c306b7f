package metrics

import (
	"context"
	"errors"
	"time"

	"itemsapi/items"
)

// storeMethods are the label values of the store metrics: the methods of
// items.Store.
var storeMethods = [...]string{
	"Item", "Items", "CountItems", "AddItem", "UpdateItem", "DeleteItem", "Users", "UserByToken", "AddToken", "Ping", "Close",
	// items.TokenStore
	"CreateToken", "TokenByHash", "Token", "Tokens", "CountTokens", "UserByName", "RevokeToken",
	"TouchTokens", "TokenRevision", "BootstrapToken",
}

// Store returns s with every call timed into
// itemsapi_store_call_duration_seconds{method} and every failed call
// counted in itemsapi_store_errors_total{method}. An error with code
// NotFound or Unauthenticated is an answer, not a failure, and a call
// whose request was cancelled (context.Canceled) is the client's doing:
// neither counts. Calls and their results pass through unchanged.
//
// The result is only an items.Store: if s is also an items.Broker, pass s
// itself where a broker is wanted.
func (m *Metrics) Store(s items.Store) items.Store { return &store{next: s, m: m} }

type store struct {
	next items.Store
	m    *Metrics
}

var _ items.Store = (*store)(nil)

// observe records a call to method that began at start and ended with
// *err. It takes a pointer so that it can be deferred before the call.
func (s *store) observe(method string, start time.Time, err *error) {
	series := s.m.storeSeries.get(method)
	series.duration.Observe(time.Since(start).Seconds())
	if failed(*err) {
		series.errors.Inc()
	}
}

// failed reports whether err says the store failed, rather than that what
// was asked for does not exist or that the request went away.
func failed(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	switch items.ErrorCode(err) {
	case items.NotFound, items.Unauthenticated, items.Forbidden, items.Conflict:
		return false
	}
	return true
}

func (s *store) Item(ctx context.Context, id int64) (_ items.Item, err error) {
	defer s.observe("Item", time.Now(), &err)
	return s.next.Item(ctx, id)
}

func (s *store) Items(ctx context.Context, q items.ItemQuery) (_ []items.Item, err error) {
	defer s.observe("Items", time.Now(), &err)
	return s.next.Items(ctx, q)
}

func (s *store) CountItems(ctx context.Context, search string) (_ int, err error) {
	defer s.observe("CountItems", time.Now(), &err)
	return s.next.CountItems(ctx, search)
}

func (s *store) AddItem(ctx context.Context, n items.NewItem) (_ items.Item, err error) {
	defer s.observe("AddItem", time.Now(), &err)
	return s.next.AddItem(ctx, n)
}

func (s *store) UpdateItem(ctx context.Context, id int64, u items.ItemUpdate) (_ items.Item, err error) {
	defer s.observe("UpdateItem", time.Now(), &err)
	return s.next.UpdateItem(ctx, id, u)
}

func (s *store) DeleteItem(ctx context.Context, id int64, d items.ItemDelete) (err error) {
	defer s.observe("DeleteItem", time.Now(), &err)
	return s.next.DeleteItem(ctx, id, d)
}

func (s *store) Users(ctx context.Context, ids []int64) (_ []items.User, err error) {
	defer s.observe("Users", time.Now(), &err)
	return s.next.Users(ctx, ids)
}

func (s *store) UserByToken(ctx context.Context, hash items.TokenHash) (_ items.User, _ items.Role, err error) {
	defer s.observe("UserByToken", time.Now(), &err)
	return s.next.UserByToken(ctx, hash)
}

func (s *store) AddToken(ctx context.Context, userName string, role items.Role, hash items.TokenHash) (_ items.User, err error) {
	defer s.observe("AddToken", time.Now(), &err)
	return s.next.AddToken(ctx, userName, role, hash)
}

// Writes passes s's record of writes on, untimed: it does no I/O.
func (s *store) Writes() *items.Writes { return s.next.Writes() }

func (s *store) Ping(ctx context.Context) (err error) {
	defer s.observe("Ping", time.Now(), &err)
	return s.next.Ping(ctx)
}

func (s *store) Close() (err error) {
	defer s.observe("Close", time.Now(), &err)
	return s.next.Close()
}
