// Package readcache is an items.Store that serves hot reads from memory in
// front of another store, typically the embedded SQLite one: items by ID,
// pages of items and searches, and counts. It is exact: every answer is one
// the inner store would have given at some moment during the call, so a
// read that starts after AddItem returned, or after a subscriber got the
// item, sees the item added. It is bounded in bytes, and evicts as the
// service's one cache does (see internal/cache) when full.
//
// # Only in front of a store that one process writes
//
// The cache keys on the inner store's versions (items.Writes), which
// record the writes made in this process only: it must not be used in
// front of a store whose writes are Shared (PostgreSQL). It also relies on
// the inner store giving each item an ID above those of all items
// committed before it, as the SQLite and memory stores do.
//
// # What is cached, and for how long
//
// An item found by ID, and a full page (below), change only when an item
// is updated or deleted: they are cached with the count of the changes
// (items.WriteVersion.Changes) and served while it is current, so that
// every update or delete makes them all stale at once. Not-found answers
// are not cached: the ID may be assigned later.
//
// A page of Items is keyed by its query. A full page (as many items as
// Limit) in ascending ID order, taken from its start, changes with no
// addition: an item added later has an ID above every ID in the page, so
// it falls after the page. Pages in other orders are cached as short pages
// are. A short page, the end of the list, grows when a matching item is
// added; it is cached with the version it was read at, and served only
// while that version is current. Counts of searches are cached likewise.
// The count of all items is kept up to date by the versions instead of
// read again.
//
// # Versions
//
// The inner store replaces its version when a write begins and again when
// it ends, before it publishes the write or returns (see items.Writes). A
// read loads the version before it calls the inner store, and caches a
// short page or a count only if no write was under way then and the
// version is the same after (Writes.Unchanged): no write began or ended
// during the inner read, so its result is the answer for the state of the
// store at that version. The entry keeps the version, and is served only
// while the version is still current. Then no write has begun since, so
// the state of the inner store is the same and it would give the same
// answer now. In particular no short page or count is served while a
// write is under way, when the write may have committed or not: such
// reads go to the inner store. A read that began before a write and ends
// after it finds the version changed and does not cache its result, which
// may predate the commit.
//
// The count of all items is cached with its version too. When a later
// version has no write under way and no write has failed since, every
// addition since has stored exactly one item and every deletion removed
// one, so the count is the cached one plus the additions and minus the
// deletions that succeeded since. A failed write may have stored its
// item or not: the count is read again.
//
// # Results are shared
//
// A hit returns the cached page itself and items whose Description points
// at the cached string: callers must not modify what Items returns, nor
// what the Description of any returned item points at. Returned pages have
// no spare capacity, so appending to one copies it.
package readcache
