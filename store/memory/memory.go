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

// Store is an items.Store and items.Broker in memory, safe for concurrent
// use. The zero value is not usable; call New.
type Store struct {
	log    *pubsub.Log
	writes *items.Writes

	mu     sync.RWMutex
	items  []entry // in ID order, so pages are found by binary search
	lastID int64   // the last item ID assigned
	// log holds every event, in position order: the position of
	// events[i] is i+1.
	events   []items.Event
	users    map[int64]items.User
	byName   map[string]int64 // user name → ID
	byFold   map[string]int64 // items.FoldUserName(name) → ID of the first user with it
	tokens   map[items.TokenHash]*items.Token
	tokenIDs []*items.Token // in ID order: tokenIDs[i].ID == i+1
	byUser   map[int64][]*items.Token
	lastUser int64 // the last user ID assigned
	// revision counts revocations (TokenRevision); written under mu.
	revision atomic.Int64
	clock    items.SettableClock
}

var (
	_ items.Store  = (*Store)(nil)
	_ items.Broker = (*Store)(nil)
)

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
		writes: items.NewWrites(false),
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, n := range items.DemoItems {
		s.add(n, now)
	}
	s.log = pubsub.New(s.readLog, int64(len(s.events)), pubsub.Options{})
	return s
}

// readLog reads the log: the event at position p is s.events[p-1].
func (s *Store) readLog(ctx context.Context, after int64, limit int) ([]items.Event, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := min(max(after, 0), int64(len(s.events)))
	out := make([]items.Event, 0, min(int64(limit), int64(len(s.events))-i))
	for _, e := range s.events[i:] {
		if len(out) == limit {
			break
		}
		e.Item = copyItem(e.Item)
		out = append(out, e)
	}
	return out, nil
}

// record appends an event of it to the log and returns it. The caller
// holds s.mu for writing, so that positions follow the order of the
// changes.
func (s *Store) record(kind items.EventKind, it items.Item) items.Event {
	e := items.Event{Pos: int64(len(s.events)) + 1, Kind: kind, Item: copyItem(it)}
	s.events = append(s.events, e)
	return e
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
		Version:     1,
	}
	s.items = append(s.items, entry{item: it, folded: items.FoldString(it.Name)})
	s.record(items.ItemAdded, it)
	return copyItem(it)
}

// find returns the index in s.items of the item with that ID. The caller
// holds s.mu.
func (s *Store) find(id int64) (int, bool) {
	i := s.index(id - 1)
	return i, id > 0 && i < len(s.items) && s.items[i].item.ID == id
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

// cloneDescriptions gives each item of page a copy of its description, as
// copyItem does, in one allocation for the page.
func cloneDescriptions(page []items.Item) {
	n := 0
	for i := range page {
		if page[i].Description != nil {
			n++
		}
	}
	if n == 0 {
		return
	}
	descs := make([]string, 0, n)
	for i := range page {
		if p := page[i].Description; p != nil {
			descs = append(descs, *p)
			page[i].Description = &descs[len(descs)-1]
		}
	}
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
	if i, ok := s.find(id); ok {
		return copyItem(s.items[i].item), nil
	}
	return items.Item{}, items.Errorf(items.NotFound, "no item with id %d", id)
}

// Items implements items.Store. It returns an error with code Invalid when
// q.Limit is outside 0 to items.MaxPageSize+1.
func (s *Store) Items(ctx context.Context, q items.ItemQuery) ([]items.Item, error) {
	if err := items.CheckLimit(q.Limit); err != nil {
		return nil, err
	}
	folded := items.FoldString(q.Search)
	start, end := q.Bounds()
	o := q.Order
	in := func(e entry) bool {
		p := o.PositionOf(e.item)
		return strings.Contains(e.folded, folded) &&
			(start == nil || o.Compare(p, *start) > 0) && (end == nil || o.Compare(p, *end) < 0)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	list := s.items // in ID order
	if o == (items.Order{}) && !q.Last && start != nil {
		list = list[s.index(max(start.ID, 0)):] // the usual next page: found by binary search
	}
	if o.Field != items.ByID {
		list = slices.Clone(list)
		slices.SortFunc(list, func(a, b entry) int { return o.Compare(o.PositionOf(a.item), o.PositionOf(b.item)) })
	} else if o.Desc != q.Last {
		// Read from the end of the ID order.
		list = slices.Clone(list)
		slices.Reverse(list)
	}
	if o.Field != items.ByID && q.Last {
		list = slices.Clone(list)
		slices.Reverse(list)
	}
	// list is now in the order the page is taken in: from its start, or
	// from its end for Last.
	page := make([]items.Item, 0, q.Limit)
	for _, e := range list {
		if len(page) == q.Limit {
			break
		}
		if in(e) {
			page = append(page, e.item)
		}
	}
	cloneDescriptions(page)
	if q.Last {
		slices.Reverse(page)
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
func (s *Store) AddItem(ctx context.Context, n items.NewItem) (it items.Item, err error) {
	err = s.write(items.ItemAdded, func() error {
		if _, ok := s.users[n.CreatedByID]; n.CreatedByID != 0 && !ok {
			return items.Errorf(items.Invalid, "no user with id %d", n.CreatedByID)
		}
		it = s.add(n, time.Now().UTC().Truncate(time.Microsecond))
		return nil
	})
	return it, err
}

// UpdateItem implements items.Store.
func (s *Store) UpdateItem(ctx context.Context, id int64, u items.ItemUpdate) (it items.Item, err error) {
	err = s.write(items.ItemUpdated, func() error {
		i, ok := s.find(id)
		if !ok {
			return items.NoItem(id)
		}
		if it, err = u.Apply(s.items[i].item, time.Now()); err != nil {
			return err
		}
		s.items[i] = entry{item: copyItem(it), folded: items.FoldString(it.Name)}
		s.record(items.ItemUpdated, it)
		return nil
	})
	return it, err
}

// DeleteItem implements items.Store.
func (s *Store) DeleteItem(ctx context.Context, id int64, d items.ItemDelete) error {
	return s.write(items.ItemDeleted, func() error {
		i, ok := s.find(id)
		if !ok {
			return items.NoItem(id)
		}
		if err := d.Check(s.items[i].item); err != nil {
			return err
		}
		s.items = slices.Delete(s.items, i, i+1)
		s.record(items.ItemDeleted, items.Item{ID: id})
		return nil
	})
}

// write runs change, a write of kind that records its event unless it
// fails, under s.mu; it ends the write in s.writes, then publishes the
// event, still under the lock that orders the changes, which keeps the
// log in position order.
func (s *Store) write(kind items.EventKind, change func() error) error {
	w := s.writes.Begin(kind)
	s.mu.Lock()
	defer s.mu.Unlock()
	events := len(s.events)
	err := change()
	w.End(err)
	if len(s.events) > events {
		s.log.Append(s.events[events:]...)
	}
	return err
}

// Writes implements items.Store: a store in memory has one process.
func (s *Store) Writes() *items.Writes { return s.writes }

// Users implements items.Store. Each user comes once, however often its ID
// is asked for.
func (s *Store) Users(ctx context.Context, ids []int64) ([]items.User, error) {
	now := s.clock.Now()
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
	return items.UsableTokenUser(tok, u, err, s.clock.Now())
}

// AddToken implements items.Store. It returns an error with code Invalid for
// a role that is not valid, or for a new user's name that
// items.ValidateNewUserName refuses.
func (s *Store) AddToken(ctx context.Context, userName string, role items.Role, hash items.TokenHash) (items.User, error) {
	if !role.Valid() {
		return items.User{}, items.Errorf(items.Invalid, "role %q is not valid", role)
	}
	now := s.clock.Now()
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
	return s.Follow(ctx, items.ItemAdded, afterItem)
}

// Follow implements items.Broker.
func (s *Store) Follow(ctx context.Context, kind items.EventKind, afterItem int64) (*items.Subscription, error) {
	pos, above := s.position(kind, afterItem)
	if above && kind == items.ItemAdded {
		return s.log.FollowAbove(ctx, pos, afterItem)
	}
	return s.log.Follow(ctx, kind, pos)
}

// position returns the position after which a subscription to the events
// of kind that names afterItem starts (see items.Broker.Follow), and
// whether afterItem is above every ID given: the position is then the
// head of the log, read under the lock that orders the writes, so that
// every item with a greater ID is added after it.
func (s *Store) position(kind items.EventKind, afterItem int64) (pos int64, above bool) {
	if afterItem < 0 {
		return items.FromNow, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if afterItem > s.lastID {
		// s.write appends to the log under s.mu: its head is here.
		return int64(len(s.events)), true
	}
	// The oldest event of that kind of that item; else the addition of
	// the greatest item ID up to afterItem.
	added := int64(0)
	for _, e := range s.events {
		if e.Item.ID == afterItem && e.Kind == kind {
			return e.Pos, false
		}
		if e.Kind == items.ItemAdded && e.Item.ID <= afterItem {
			added = e.Pos
		}
	}
	return added, false
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
