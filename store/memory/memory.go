// Package memory is an items.Store that keeps everything in the process's
// memory: for tests, and for running the server without a file (--db
// memory). What it holds is lost when the process ends.
package memory

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"itemsapi/items"
	"itemsapi/pubsub"
)

var (
	_ items.Store  = (*Store)(nil)
	_ items.Broker = (*Store)(nil)
)

// Store is an items.Store and items.Broker in memory, safe for concurrent
// use. The zero value is not usable; call New.
type Store struct {
	log *pubsub.Log

	mu       sync.RWMutex
	items    []entry // in ID order, so pages are found by binary search
	lastID   int64   // the last item ID assigned
	users    map[int64]items.User
	byName   map[string]int64 // user name → ID
	byFold   map[string]int64 // items.FoldUserName(name) → ID of the first user with it
	tokens   map[items.TokenHash]*items.Token
	tokenIDs []*items.Token // in ID order: tokenIDs[i].ID == i+1
	byUser   map[int64][]*items.Token
	lastUser int64 // the last user ID assigned
	// revision counts revocations (TokenRevision); written under mu.
	revision atomic.Int64
	clock    atomic.Pointer[items.Clock]
}

// entry is an item and its name under case folding, computed once so that a
// search folds only the query.
type entry struct {
	item   items.Item
	folded string
}

// New returns a store that holds the demo items.
func New() *Store {
	s := &Store{
		users:  make(map[int64]items.User),
		byName: make(map[string]int64),
		byFold: make(map[string]int64),
		tokens: make(map[items.TokenHash]*items.Token),
		byUser: make(map[int64][]*items.Token),
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, n := range items.DemoItems {
		s.add(n, now)
	}
	s.log = pubsub.New(s.events, s.lastID, pubsub.Options{})
	return s
}

// events reads the log: an item's event is at the item's position, its ID.
func (s *Store) events(ctx context.Context, after int64, limit int) ([]items.Event, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := s.index(max(after, 0))
	events := make([]items.Event, 0, min(limit, len(s.items)-i))
	for _, e := range s.items[i:] {
		if len(events) == limit {
			break
		}
		events = append(events, items.Event{Pos: e.item.ID, Item: copyItem(e.item)})
	}
	return events, nil
}

// add stores n with the next ID. The caller holds s.mu for writing.
func (s *Store) add(n items.NewItem, now time.Time) items.Item {
	s.lastID++
	it := items.Item{
		ID:          s.lastID,
		Name:        n.Name,
		Description: clone(n.Description),
		CreatedAt:   now,
		CreatedByID: n.CreatedByID,
	}
	s.items = append(s.items, entry{item: it, folded: items.FoldString(it.Name)})
	return copyItem(it)
}

// clone returns a copy of *p, so that neither the store nor its callers
// share a description that the other could change.
func clone(p *string) *string {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func copyItem(it items.Item) items.Item {
	it.Description = clone(it.Description)
	return it
}

// index returns the position of the first item whose ID is above after.
// The caller holds s.mu.
func (s *Store) index(after int64) int {
	i, _ := slices.BinarySearchFunc(s.items, after, func(e entry, after int64) int {
		if e.item.ID <= after {
			return -1
		}
		return 1
	})
	return i
}

// Item implements items.Store.
func (s *Store) Item(ctx context.Context, id int64) (items.Item, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if i := s.index(id - 1); id > 0 && i < len(s.items) && s.items[i].item.ID == id {
		return copyItem(s.items[i].item), nil
	}
	return items.Item{}, items.Errorf(items.NotFound, "no item with id %d", id)
}

// Items implements items.Store. It returns an error with code Invalid when
// q.Limit is outside 0 to items.MaxPageSize+1.
func (s *Store) Items(ctx context.Context, q items.ItemQuery) ([]items.Item, error) {
	if q.Limit < 0 || q.Limit > items.MaxPageSize+1 {
		return nil, items.Errorf(items.Invalid, "limit %d is outside 0 to %d", q.Limit, items.MaxPageSize+1)
	}
	folded := items.FoldString(q.Search)
	page := make([]items.Item, 0, q.Limit)
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.items[s.index(max(q.After, 0)):] {
		if len(page) == q.Limit {
			break
		}
		if strings.Contains(e.folded, folded) {
			page = append(page, copyItem(e.item))
		}
	}
	return page, nil
}

// CountItems implements items.Store.
func (s *Store) CountItems(ctx context.Context, search string) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if search == "" {
		return len(s.items), nil
	}
	folded := items.FoldString(search)
	n := 0
	for _, e := range s.items {
		if strings.Contains(e.folded, folded) {
			n++
		}
	}
	return n, nil
}

// AddItem implements items.Store. It returns an error with code Invalid when
// n.CreatedByID names no user. Subscribers get the item before AddItem
// returns, in the order of the IDs.
func (s *Store) AddItem(ctx context.Context, n items.NewItem) (items.Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[n.CreatedByID]; n.CreatedByID != 0 && !ok {
		return items.Item{}, items.Errorf(items.Invalid, "no user with id %d", n.CreatedByID)
	}
	it := s.add(n, time.Now().UTC().Truncate(time.Microsecond))
	// Appending under the lock that assigns IDs keeps the log in ID order.
	s.log.Append(items.Event{Pos: it.ID, Item: copyItem(it)})
	return it, nil
}

// Users implements items.Store. Each user comes once, however often its ID
// is asked for.
func (s *Store) Users(ctx context.Context, ids []int64) ([]items.User, error) {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	users := make([]items.User, 0, len(ids))
	seen := make(map[int64]bool, len(ids))
	for _, id := range ids {
		if u, ok := s.users[id]; ok && !seen[id] {
			seen[id] = true
			users = append(users, s.withRole(u, now))
		}
	}
	return users, nil
}

// UserByToken implements items.Store.
func (s *Store) UserByToken(ctx context.Context, hash items.TokenHash) (items.User, items.Role, error) {
	tok, u, err := s.TokenByHash(ctx, hash)
	return items.UsableTokenUser(tok, u, err, s.now())
}

// AddToken implements items.Store. It returns an error with code Invalid for
// a role that is not valid, or for a new user's name that
// items.ValidateNewUserName refuses.
func (s *Store) AddToken(ctx context.Context, userName string, role items.Role, hash items.TokenHash) (items.User, error) {
	if !role.Valid() {
		return items.User{}, items.Errorf(items.Invalid, "role %q is not valid", role)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok, ok := s.tokens[hash]; ok {
		return s.withRole(s.users[tok.UserID], now), nil
	}
	id, err := s.userID(userName)
	if err != nil {
		return items.User{}, err
	}
	s.addToken(items.Token{UserID: id, Role: role, CreatedAt: now}, hash)
	return s.withRole(s.users[id], now), nil
}

// Subscribe implements items.Broker. It fails only once the store is
// closed or shutting down.
func (s *Store) Subscribe(ctx context.Context, afterItem int64) (*items.Subscription, error) {
	return s.log.Subscribe(ctx, afterItem)
}

// Shutdown lets each subscription deliver every item added so far, then
// end with items.ErrGoingAway.
func (s *Store) Shutdown() { s.log.Shutdown() }

// Ping implements items.Store: a store in memory always answers.
func (s *Store) Ping(ctx context.Context) error { return nil }

// Close implements items.Store: it ends the subscriptions and never fails.
// The data stay readable.
func (s *Store) Close() error {
	s.log.Close()
	return nil
}
