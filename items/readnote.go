package items

import (
	"context"
	"sync/atomic"
)

// ReadNote records, for one request, whether every read of items it made
// returned what no later addition can change: an item found by ID, or a
// full page in ascending ID order read from its start, to which an added
// item (whose ID is above every other) can only come after. A cache of
// whole answers (the response cache) may then keep the answer across
// additions, and drop it only at the next update or deletion
// (WriteVersion.Changes), as store/readcache keeps such reads.
//
// Only a store layer that knows the rule marks reads (store/readcache).
// A request with no marked read is not stable: an answer that read the
// store through a layer that marks nothing keeps the stricter rule.
type ReadNote struct {
	stable, unstable atomic.Uint32
}

type readNoteKey struct{}

// WithReadNote returns ctx with a new ReadNote for the reads made with it.
func WithReadNote(ctx context.Context) (context.Context, *ReadNote) {
	n := new(ReadNote)
	return context.WithValue(ctx, readNoteKey{}, n), n
}

// NoteRead records on ctx's ReadNote, if any, a read of items whose result
// no addition changes (stable) or one that an addition may change.
func NoteRead(ctx context.Context, stable bool) {
	n, ok := ctx.Value(readNoteKey{}).(*ReadNote)
	if !ok {
		return
	}
	if stable {
		n.stable.Add(1)
	} else {
		n.unstable.Add(1)
	}
}

// StableAcrossAdditions reports whether the request read items, and
// every read it made was one that no addition changes.
func (n *ReadNote) StableAcrossAdditions() bool {
	return n != nil && n.stable.Load() > 0 && n.unstable.Load() == 0
}
