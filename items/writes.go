package items

import "sync/atomic"

// Writes is a store's record of its writes of items, the one fact that
// every cache of reads keys on (store/readcache, the response cache of
// httpapi). A store makes one and, for each AddItem, UpdateItem and
// DeleteItem, calls Begin before it changes anything and End once the
// change is committed or has failed, before it publishes the change's
// event to subscribers and before it returns. Each Begin and each End
// replaces the current WriteVersion with the next.
//
// A cache loads the version before it reads the store, and keeps what it
// read only if Unchanged says no write was under way then and none began
// or ended since: its result is then the answer for the state of the store
// at that version. It serves what it keeps only while the version is the
// same, so never after a write has begun, and a client that learns of a
// write (from its answer or from a subscription) never gets an answer from
// before it.
//
// Writes made by other processes are not recorded: when other processes
// may write to the store (Shared), no cache may key on its versions.
type Writes struct {
	shared bool
	cur    atomic.Pointer[WriteVersion]
}

// NewWrites returns the record of a store's writes, at its first version;
// shared says whether other processes may write to the store too.
func NewWrites(shared bool) *Writes {
	w := &Writes{shared: shared}
	w.cur.Store(&WriteVersion{})
	return w
}

// Shared reports whether other processes may write to the store too: then
// the versions say nothing of their writes, and no cache may keep an
// answer across them.
func (w *Writes) Shared() bool { return w.shared }

// WriteVersion is the state of a store's writes at one moment. It never
// changes: Begin and End replace it by the next.
type WriteVersion struct {
	// Seq counts the versions before this one; no two versions of a
	// store share it.
	Seq uint64
	// Changes counts the Begins and Ends of updates and deletions: what
	// is read of items that exist, and what additions do not change,
	// may be kept with it.
	Changes uint64
	// UnderWay counts the writes begun and not ended, ChangesUnderWay the
	// updates and deletions among them.
	UnderWay, ChangesUnderWay int
	// Added and Deleted count the additions and deletions ended in
	// success, Failed the writes ended in failure, which may have
	// committed or not.
	Added, Deleted, Failed uint64
}

// Quiet reports whether no write was under way at v.
func (v *WriteVersion) Quiet() bool { return v.UnderWay == 0 }

// Version returns the current version.
func (w *Writes) Version() *WriteVersion { return w.cur.Load() }

// Unchanged reports whether a read that loaded v before it read the store
// read the state of v, so that what it read may be kept with v: no write
// was under way at v, and none has begun since.
func (w *Writes) Unchanged(v *WriteVersion) bool {
	return v.Quiet() && w.cur.Load() == v
}

// ChangesUnchanged is Unchanged for updates and deletions alone: what a
// read loaded at v may be kept with v.Changes.
func (w *Writes) ChangesUnchanged(v *WriteVersion) bool {
	return v.ChangesUnderWay == 0 && w.cur.Load().Changes == v.Changes
}

// Write is one write begun with Begin.
type Write struct {
	w    *Writes
	kind EventKind
}

// Begin records that a write of kind begins. Nothing stops writes from
// running at once: a store that commits concurrent writes together still
// can.
func (w *Writes) Begin(kind EventKind) Write {
	w.update(func(v *WriteVersion) {
		v.UnderWay++
		if kind != ItemAdded {
			v.Changes++
			v.ChangesUnderWay++
		}
	})
	return Write{w, kind}
}

// End records that the write has ended: with err nil, having made its
// change; otherwise, whether it did or not (a refused update counts as a
// failure too). Call it once.
func (wr Write) End(err error) {
	wr.w.update(func(v *WriteVersion) {
		v.UnderWay--
		if wr.kind != ItemAdded {
			v.Changes++
			v.ChangesUnderWay--
		}
		switch {
		case err != nil:
			v.Failed++
		case wr.kind == ItemAdded:
			v.Added++
		case wr.kind == ItemDeleted:
			v.Deleted++
		}
	})
}

// update replaces the current version by the next, which f changes.
func (w *Writes) update(f func(*WriteVersion)) {
	for {
		old := w.cur.Load()
		v := *old
		v.Seq++
		f(&v)
		if w.cur.CompareAndSwap(old, &v) {
			return
		}
	}
}
