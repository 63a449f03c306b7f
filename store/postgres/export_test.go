package postgres

import (
	"context"
	"time"
)

// ListenerPID returns the process ID of the backend that the store's
// listener is connected to, 0 while it is reconnecting.
func (s *Store) ListenerPID() uint32 { return s.listenerPID.Load() }

// WithIdleCheck returns cfg with the listener checking its connection, and
// catching up, after d without a notification.
func WithIdleCheck(cfg Config, d time.Duration) Config {
	cfg.idleCheck = d
	return cfg
}

// WithSweep returns cfg with the follower running a stamping round and
// reading the log every d without being woken.
func WithSweep(cfg Config, d time.Duration) Config {
	cfg.sweep = d
	return cfg
}

// Stamp runs stamping rounds until every committed event has a position,
// and returns the newest position.
func (s *Store) Stamp(ctx context.Context) (int64, error) { return s.stamp(ctx) }

// PageSQL is pageSQL, for the plan test.
var PageSQL = pageSQL
