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

// WithAddBatches returns cfg with at most n insertion batches at once.
func WithAddBatches(cfg Config, n int) Config {
	cfg.addBatches = n
	return cfg
}

// Adds returns how many AddItem calls wait for a batch and how many
// batches run.
func (s *Store) Adds() (waiting, running int) {
	s.adds.mu.Lock()
	defer s.adds.mu.Unlock()
	for _, req := range s.adds.queue {
		if !req.withdrawn {
			waiting++
		}
	}
	return waiting, s.adds.running
}

// The statements of the log and the settings they run under, for the
// plan test.
const (
	StampSQL   = stampSQL
	StampPlans = "SELECT " + stampPlans
	ReadSQL    = readSQL
	LogPlans   = logPlans
)
