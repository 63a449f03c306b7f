// Package postgres is the items.Store and items.Broker for PostgreSQL,
// through pgx. Several server processes may share one database: each sees
// the items the others add, and each one's subscribers get every item added
// by any of them, in one order, through LISTEN/NOTIFY (see Subscribe).
//
// The store needs the pg_trgm extension (shipped with PostgreSQL, and
// trusted since PostgreSQL 13: a user with CREATE on the database may
// install it). The first Open installs it, in schema public, and creates the
// tables in the first schema of the connection's search_path, so one
// database can hold several stores, one per schema.
//
// Insertions commit independently: no lock is shared by the writers of
// every process, so AddItem's rate grows with the connections and the
// processes, and commits share their WAL flushes. Subscribers still read
// one order: after commit, each event gets a position in the store's log
// from a stamping round, and positions become visible in increasing order
// (see Subscribe, and docs/log.md for why simpler designs lose or reorder
// events).
package postgres
