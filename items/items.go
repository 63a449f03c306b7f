// Package items is the domain of the items service: plain types, the errors
// every layer speaks, and the interfaces that storage backends implement.
// It imports nothing but the standard library (and golang.org/x/text for
// Unicode normalisation) and knows no I/O.
package items

import (
	"cmp"
	"context"
	"strings"
	"time"
)

// Item is one entry of the catalogue. IDs are assigned by the store, start
// at 1, increase, and are never reused.
type Item struct {
	ID          int64
	Name        string
	Description *string
	CreatedAt   time.Time
	// CreatedByID is the ID of the user who added the item, 0 for the demo
	// items loaded into a new store.
	CreatedByID int64
	// UpdatedAt is when the item was last updated, nil until then. The
	// time it points at is never changed: copies may share it.
	UpdatedAt *time.Time
	// Version is 1 when the item is added, and grows by one at each update.
	Version int
}

// NewItem is what a caller supplies to add an item. It must have passed
// Validate: stores assume so.
type NewItem struct {
	Name        string
	Description *string
	CreatedByID int64
}

// User is somebody who holds an API token.
type User struct {
	ID   int64
	Name string
	// Role is the user's highest role among its unrevoked, unexpired
	// tokens (RoleUser when none), computed by the store when it reads the
	// user, at its clock's now. The role a request acts with is that of
	// the token it carries (Caller.Role).
	Role Role
}

// ItemQuery selects one page of items in an order.
type ItemQuery struct {
	// Search, when not empty, keeps the items whose name contains it,
	// case-insensitively under Unicode simple case folding. Characters
	// that are special in SQL patterns (% _ \ ') match literally. A
	// search is in ID order, ascending or descending.
	Search string
	// After, when positive, keeps the items whose ID is greater: in ID
	// ascending order, as Start = &Position{ID: After}.
	After int64
	// Limit is the largest number of items returned, 0 to MaxPageSize+1.
	// Callers ask for one more than they show to learn whether a next
	// page exists.
	Limit int
	// Order is the order of the page; the zero value is by ID, ascending.
	Order Order
	// Start, when set, keeps the items after that position in Order.
	Start *Position
	// End, when set, keeps the items before that position in Order.
	End *Position
	// Last takes the Limit items nearest End (the end of the list when End
	// is nil) instead of those nearest Start; the page is in Order all
	// the same.
	Last bool
}

// OrderField is what items are ordered by; ties are ordered by ID.
type OrderField uint8

// The fields.
const (
	// ByID orders by ID, the order of addition.
	ByID OrderField = iota
	// ByName orders by the names' Unicode code points (byte order of
	// their UTF-8).
	ByName
	// ByUpdatedAt orders by UpdatedAt, CreatedAt for an item never
	// updated.
	ByUpdatedAt
)

// Order is an order of items: a field, then the ID, both ascending or
// both descending.
type Order struct {
	Field OrderField
	Desc  bool
}

// Position is a place in an order: the value of the order's field (Name
// for ByName, Time for ByUpdatedAt, nothing for ByID) and the ID. An item
// changed since the position was taken may have moved past it.
type Position struct {
	Name string
	Time time.Time
	ID   int64
}

// PositionOf returns it's position in o.
func (o Order) PositionOf(it Item) Position {
	switch o.Field {
	case ByName:
		return Position{Name: it.Name, ID: it.ID}
	case ByUpdatedAt:
		return Position{Time: it.Changed(), ID: it.ID}
	}
	return Position{ID: it.ID}
}

// Compare returns -1, 0 or +1 as a comes before, at or after b in o.
func (o Order) Compare(a, b Position) int {
	c := 0
	switch o.Field {
	case ByName:
		c = strings.Compare(a.Name, b.Name)
	case ByUpdatedAt:
		c = a.Time.Compare(b.Time)
	}
	if c == 0 {
		c = cmp.Compare(a.ID, b.ID)
	}
	if o.Desc {
		c = -c
	}
	return c
}

// Changed returns when it last changed: UpdatedAt, or CreatedAt when it
// was never updated.
func (it Item) Changed() time.Time {
	if it.UpdatedAt != nil {
		return *it.UpdatedAt
	}
	return it.CreatedAt
}

// Bounds returns q's Start and End, After turned into Start.
func (q ItemQuery) Bounds() (start, end *Position) {
	start = q.Start
	if start == nil && q.After > 0 && q.Order == (Order{}) {
		start = &Position{ID: q.After}
	}
	return start, q.End
}

// SQL spells q's keyset in SQL for the stores: the comparison that keeps
// the rows past a bound (start: after it, end: before it, in q.Order) and
// the direction rows are read in (the reverse of the order for Last).
func (q ItemQuery) SQL() (past func(start bool) string, dir string) {
	past = func(start bool) string {
		if start != q.Order.Desc {
			return ">"
		}
		return "<"
	}
	if q.Order.Desc != q.Last {
		return past, " DESC"
	}
	return past, " ASC"
}

// MaxPageSize is the largest page a client may ask for.
const MaxPageSize = 100

// CheckLimit returns an error with code Invalid when limit, the Limit of
// an ItemQuery or a TokenQuery, is outside 0 to MaxPageSize+1. Every
// store checks it before it reads a page.
func CheckLimit(limit int) error {
	if limit < 0 || limit > MaxPageSize+1 {
		return Errorf(Invalid, "limit %d is outside 0 to %d", limit, MaxPageSize+1)
	}
	return nil
}

// DefaultPageSize is the page size when a client gives neither first nor
// last (the schema's default of first).
const DefaultPageSize = 20

// DemoItems are the items a new, empty store starts with: those of the
// original application.
var DemoItems = []NewItem{{Name: "Apple"}, {Name: "Banana"}}

// Store keeps items, users and tokens. Every method returns an *Error, or an
// error that callers treat as internal; none returns a nil value with a nil
// error.
type Store interface {
	// Item returns the item with that ID, or an error with code NotFound.
	Item(ctx context.Context, id int64) (Item, error)
	// Items returns the page of items that q selects, in q.Order (by ID,
	// oldest first, by default).
	Items(ctx context.Context, q ItemQuery) ([]Item, error)
	// CountItems returns how many items match search (all when empty).
	CountItems(ctx context.Context, search string) (int, error)
	// AddItem stores a validated item, assigns its ID and creation time, and
	// publishes it to the store's subscribers once it is durable.
	AddItem(ctx context.Context, n NewItem) (Item, error)
	// UpdateItem changes the item with that ID as u says (see
	// ItemUpdate.Apply, which it calls on the item as stored, in the
	// transaction that writes the change), and publishes the item as left
	// once durable. An unknown or deleted ID fails with code Invalid
	// (NoItem), before any other check; nothing changes on any failure.
	UpdateItem(ctx context.Context, id int64, u ItemUpdate) (Item, error)
	// DeleteItem removes the item with that ID, after d.Check, and
	// publishes its deletion once durable. An unknown or deleted ID fails
	// with code Invalid (NoItem), before any other check. The ID is never
	// given to another item.
	DeleteItem(ctx context.Context, id int64, d ItemDelete) error

	// Users returns the users with those IDs, in no particular order;
	// unknown IDs are left out.
	Users(ctx context.Context, ids []int64) ([]User, error)
	// UserByToken returns the user holding the token with that hash and the
	// role the token grants, or an error with code Unauthenticated for an
	// unknown token (or ErrTokenRevoked, ErrTokenExpired).
	UserByToken(ctx context.Context, hash TokenHash) (User, Role, error)
	// AddToken stores a token hash that grants role to the user that
	// userName designates, and returns the user: the user with exactly
	// that name; else, among the users whose names equal it but for ASCII
	// case (FoldUserName), the oldest; else a new user, whose name must
	// pass ValidateNewUserName (an error with code Invalid otherwise).
	// Names stored before that rule keep working. Adding a hash that is
	// already stored changes nothing and succeeds, so that several
	// processes may bootstrap the same token at once.
	AddToken(ctx context.Context, userName string, role Role, hash TokenHash) (User, error)
	// TokenStore: tokens with IDs, expiry and revocation.
	TokenStore

	// Writes returns the record of the store's writes of items, on which
	// caches of its reads key, and which says whether other processes
	// may write to it too (see Writes).
	Writes() *Writes

	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
	// Close releases the store's resources; its subscriptions end.
	Close() error
}

// Event is one entry of a store's log of changes: an item added, updated
// or deleted.
type Event struct {
	// Pos is the event's position in the store's log: positive, increasing
	// in the order every subscriber sees, never reused.
	Pos  int64
	Kind EventKind
	// Item is the item as the event left it; for a deletion, only its ID.
	Item Item
}

// FromNow is the position to give Broker.Subscribe for a subscription
// to the items added from now on.
const FromNow int64 = -1

// Broker delivers the items added to a store to each subscriber, in the
// order of the store's log, each item once.
type Broker interface {
	// Subscribe returns a subscription that lasts until ctx is done, the
	// broker shuts down, or the subscriber falls too far behind. With
	// afterItem = FromNow it gets the items added from now on; with
	// afterItem >= 0 it first gets, from the store, the items whose events
	// follow that of the item with that ID (0: every item), then the later
	// ones: a client that reconnects with the last ID it received misses
	// nothing. An afterItem that names no item starts after the addition
	// of the greatest ID below it; one above every ID given so far, from
	// now, with only the items whose ID is above afterItem (those added
	// later with an ID up to it are passed over).
	Subscribe(ctx context.Context, afterItem int64) (*Subscription, error)
	// Follow is Subscribe for the events of one kind: Subscribe(ctx, a)
	// is Follow(ctx, ItemAdded, a). With afterItem >= 0 it starts after
	// the oldest event of that kind of the item with that ID (for
	// ItemDeleted, its deletion; for ItemUpdated, its first update, since
	// an ID cannot say which of its updates a client received last: the
	// later ones come again, and none is missed), or when there is none,
	// where Subscribe would. For ItemUpdated and ItemDeleted, an afterItem
	// above every ID given so far starts from now, with the events of
	// every item: the item it names has no events yet, and the later ones
	// come whatever their IDs.
	Follow(ctx context.Context, kind EventKind, afterItem int64) (*Subscription, error)
}

// Subscription is one subscriber's stream of added items.
type Subscription struct {
	// C yields the items in order. It is closed when the subscription ends.
	C <-chan Item
	// Err, once C is closed, says why: nil when ctx ended it, an *Error
	// otherwise (ErrGoingAway at shutdown, for instance).
	Err func() error
}
