package items

import (
	"time"
)

// ItemUpdate is what a caller asks to change of an item. A nil field is
// left unchanged; ClearDescription (description: null) removes the
// description. At least one of Name, Description and ClearDescription must
// be set. It has not been validated: Apply does it, after the checks that
// come first.
type ItemUpdate struct {
	Name             *string
	Description      *string
	ClearDescription bool
	// ExpectedVersion, when set, is the version the caller saw: the update
	// fails with code Conflict if the item's version is another.
	ExpectedVersion *int
	// By is who asks: see MayChange.
	By Caller
}

// MayChange reports whether c may change or delete it: an ADMIN may change
// any item, a USER only the items it added, and the demo items (added by
// nobody) are ADMIN-only. It fails with code Forbidden.
func MayChange(c Caller, it Item) error {
	if c.Role == RoleAdmin || it.CreatedByID != 0 && it.CreatedByID == c.User.ID {
		return nil
	}
	if it.CreatedByID == 0 {
		return Errorf(Forbidden, "item %d is a demo item: only an ADMIN may change it", it.ID)
	}
	return Errorf(Forbidden, "item %d was added by another user: only its creator or an ADMIN may change it", it.ID)
}

// NoItem is the error of an update or a delete of an item that does not
// exist (or no longer does): code Invalid, naming the ID.
func NoItem(id int64) error {
	return Errorf(Invalid, "no item with id %d", id)
}

// CheckVersion fails with code Conflict when expected is set and is not
// the version of it.
func CheckVersion(it Item, expected *int) error {
	if expected != nil && *expected != it.Version {
		return Errorf(Conflict, "item %d is at version %d, not %d: read it again and retry", it.ID, it.Version, *expected)
	}
	return nil
}

// Apply returns it as u leaves it at time now, having checked, in the
// order of the public contract, that u.By may change it (Forbidden), that
// u passes addItem's rules and changes something (Invalid), and that
// u.ExpectedVersion is it's version (Conflict). The result has the next
// version and UpdatedAt set to now. Stores call it on the item as it is
// in the transaction that writes the result.
func (u ItemUpdate) Apply(it Item, now time.Time) (Item, error) {
	if err := MayChange(u.By, it); err != nil {
		return it, err
	}
	if u.Name == nil && u.Description == nil && !u.ClearDescription {
		return it, Errorf(Invalid, "an update must change name or description")
	}
	// addItem's rules apply to what u sets: a field it leaves keeps what
	// is stored, which a name stored under the first version's rules
	// (with a bidirectional control, or not in NFC) would not pass now.
	name, desc := it.Name, it.Description
	if u.Name != nil {
		var err error
		if name, err = ValidateName(*u.Name); err != nil {
			return it, err
		}
	}
	switch {
	case u.ClearDescription:
		desc = nil
	case u.Description != nil:
		if err := validateDescription(*u.Description); err != nil {
			return it, err
		}
		d := *u.Description
		desc = &d
	}
	if err := CheckVersion(it, u.ExpectedVersion); err != nil {
		return it, err
	}
	it.Name, it.Description = name, desc
	it.Version++
	t := now.UTC().Truncate(time.Microsecond)
	it.UpdatedAt = &t
	return it, nil
}

// ItemDelete is what a caller asks to delete an item.
type ItemDelete struct {
	// ExpectedVersion, when set, is the version the caller saw: the delete
	// fails with code Conflict if the item's version is another.
	ExpectedVersion *int
	// By is who asks: see MayChange.
	By Caller
}

// Check checks, in the order of the public contract, that d.By may delete
// it (Forbidden) and that d.ExpectedVersion is it's version (Conflict).
func (d ItemDelete) Check(it Item) error {
	if err := MayChange(d.By, it); err != nil {
		return err
	}
	return CheckVersion(it, d.ExpectedVersion)
}

// EventKind says what an event of the log records.
type EventKind uint8

// The kinds of events.
const (
	ItemAdded EventKind = iota + 1
	ItemUpdated
	ItemDeleted
)

// String returns the kind's name as the PostgreSQL events table spells it.
func (k EventKind) String() string {
	switch k {
	case ItemAdded:
		return "item_added"
	case ItemUpdated:
		return "item_updated"
	case ItemDeleted:
		return "item_deleted"
	}
	return "unknown"
}

// ParseEventKind returns the kind that String spells s as.
func ParseEventKind(s string) (EventKind, bool) {
	for k := ItemAdded; k <= ItemDeleted; k++ {
		if k.String() == s {
			return k, true
		}
	}
	return 0, false
}
