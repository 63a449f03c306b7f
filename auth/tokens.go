package auth

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"itemsapi/internal/cache"
	"itemsapi/internal/positive"
	"itemsapi/items"
)

// Store is what Tokens needs of a store.
type Store interface {
	TokenByHash(ctx context.Context, hash items.TokenHash) (items.Token, items.User, error)
	TokenRevision(ctx context.Context) (int64, error)
	TouchTokens(ctx context.Context, used map[int64]time.Time) error
}

// Options tune Tokens; the zero value gives the defaults.
type Options struct {
	// MaxBytes bounds the memory of the tokens whose look-up is
	// remembered (see internal/cache); 0 remembers none, so that every
	// request looks its token up.
	MaxBytes int64
	// Clock tells the time for expiry (time.Now); tests move it forward.
	Clock func() time.Time
	// TouchInterval is how often uses are written to the store as tokens'
	// lastUsedAt (a minute): at most once per token per interval.
	TouchInterval time.Duration
	// PollInterval is how often Watch's watchers learn of revocations made
	// by other processes, and of expiries (250ms).
	PollInterval time.Duration
	// Logger receives failures to record uses; nil discards them.
	Logger *slog.Logger
	// Notified, when set, returns a channel that the store closes when it
	// hears of a revocation (as postgres.Store.TokenRevisionChanged does),
	// so that watchers hear at once rather than at the next poll.
	Notified func() <-chan struct{}
}

// Tokens authenticates requests by token hash, exactly and cheaply: it
// remembers each token's look-up, with the store's token revision read
// before it. A request whose token is remembered costs one call of
// TokenRevision (one row read on SQLite, none on PostgreSQL and in
// memory) and no look-up while the revision is unchanged: no token was
// revoked since, on any process. When it changed, the token is looked up
// again, so a revocation holds from the next request on. Expiry is
// compared with the clock at every request, so it needs no write and no
// revision. Unknown tokens are not remembered: one may be created at any
// moment.
//
// Uses are counted in memory and written as lastUsedAt at most once per
// TouchInterval, by a goroutine of their own, never by the request.
//
// Tokens is safe for concurrent use. Close writes the last uses.
type Tokens struct {
	store Store
	cache *tokenCache
	opts  Options
	log   *slog.Logger

	mu        sync.Mutex
	revision  int64         // the greatest revision seen
	changed   chan struct{} // closed when revision grows, then replaced
	dirty     []*entry      // the entries used since the last write of uses
	lastTouch atomic.Int64  // unix microseconds; read without mu
	touching  bool
	closed    bool
	polling   bool
	stopPoll  chan struct{}
	wg        sync.WaitGroup
}

var _ TokenStore = (*Tokens)(nil)

// entry is a remembered look-up.
type entry struct {
	tok  items.Token
	user items.User // without its role, which other tokens change
	rev  int64      // the revision read before the look-up
	// used is the last use, in unix microseconds; dirty says the entry is
	// in Tokens.dirty, its use not written yet.
	used  atomic.Int64
	dirty atomic.Bool
}

// NewTokens returns Tokens over store.
func NewTokens(store Store, opts Options) *Tokens {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	opts.TouchInterval = positive.Or(opts.TouchInterval, time.Minute)
	opts.PollInterval = positive.Or(opts.PollInterval, 250*time.Millisecond)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Tokens{
		store: store, cache: newTokenCache(opts.MaxBytes), opts: opts, log: log,
		changed: make(chan struct{}), stopPoll: make(chan struct{}),
	}
	t.lastTouch.Store(opts.Clock().UnixMicro())
	return t
}

func (t *Tokens) now() time.Time { return items.Clock(t.opts.Clock).Now() }

// Authenticate implements TokenStore: the caller that holds the token with
// that hash. It fails with code Unauthenticated for an unknown token, with
// items.ErrTokenRevoked or items.ErrTokenExpired for one that may no
// longer be used, and with the store's error when it could not check.
func (t *Tokens) Authenticate(ctx context.Context, hash items.TokenHash) (items.Caller, error) {
	e, err := t.lookup(ctx, hash)
	if err != nil {
		return items.Caller{}, err
	}
	now := t.now()
	if err := e.tok.Usable(now); err != nil {
		return items.Caller{}, err
	}
	// To the second: a token sent by many requests at once is not one
	// contended write per request.
	if us := now.UnixMicro(); us-e.used.Load() >= int64(time.Second/time.Microsecond) {
		e.used.Store(us)
		// Once per entry until the next write of uses: the lock is rare.
		if e.dirty.CompareAndSwap(false, true) {
			t.mu.Lock()
			t.dirty = append(t.dirty, e)
			t.mu.Unlock()
		}
	}
	t.maybeTouch(now)
	return items.Caller{User: e.user, Role: e.tok.Role, Token: e.tok}, nil
}

// Check returns nil while the token with that hash may be used, else the
// error Authenticate would return. It costs what Authenticate costs, and
// counts as no use.
func (t *Tokens) Check(ctx context.Context, hash items.TokenHash) error {
	e, err := t.lookup(ctx, hash)
	if err != nil {
		return err
	}
	return e.tok.Usable(t.now())
}

// lookup returns the entry of hash, valid at the store's current revision.
func (t *Tokens) lookup(ctx context.Context, hash items.TokenHash) (*entry, error) {
	rev, err := t.store.TokenRevision(ctx)
	if err != nil {
		return nil, err
	}
	t.observe(rev)
	e := t.cache.get(hash)
	if e != nil && e.rev == rev {
		return e, nil
	}
	// The revision was read before the look-up: a revocation that the
	// look-up missed has increased it, and the next request looks again.
	tok, user, err := t.store.TokenByHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	user.Role = ""
	fresh := &entry{tok: tok, user: user, rev: rev}
	if e != nil {
		// The old entry's unwritten use, if any, is written from the
		// old entry, which stays in t.dirty.
		fresh.used.Store(e.used.Load())
	}
	t.cache.put(hash, fresh)
	return fresh, nil
}

// observe records a revision read from the store, and wakes the watchers
// when it grew.
func (t *Tokens) observe(rev int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if rev > t.revision {
		t.revision = rev
		close(t.changed)
		t.changed = make(chan struct{})
	}
}

// maybeTouch starts writing the uses when TouchInterval has passed since
// the last time.
func (t *Tokens) maybeTouch(now time.Time) {
	due := t.lastTouch.Load() + t.opts.TouchInterval.Microseconds()
	if now.UnixMicro() < due {
		return // the hot path: no lock
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || t.touching || now.UnixMicro() < t.lastTouch.Load()+t.opts.TouchInterval.Microseconds() {
		return
	}
	t.touching = true
	t.lastTouch.Store(now.UnixMicro())
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.touch()
	}()
}

// touch writes the uses not written yet: those of the entries in t.dirty,
// evicted from the cache or not.
func (t *Tokens) touch() {
	t.mu.Lock()
	dirty := t.dirty
	t.dirty = nil
	t.mu.Unlock()
	used := make(map[int64]time.Time, len(dirty))
	for _, e := range dirty {
		e.dirty.Store(false) // before the read: a later use marks it again
		if at := time.UnixMicro(e.used.Load()).UTC(); at.After(used[e.tok.ID]) {
			used[e.tok.ID] = at
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := t.store.TouchTokens(ctx, used); err != nil {
		t.log.Warn("recording when tokens were last used", "op", "touch_tokens", "tokens", len(used), "err", err)
	}
	t.mu.Lock()
	t.touching = false
	t.mu.Unlock()
}

// Changed returns a channel that is closed once a revocation newer than
// any seen so far is seen: by a request, or by the poll that the first
// call of Changed starts, every PollInterval, until Close. Call it again
// for the next one.
func (t *Tokens) Changed() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.polling && !t.closed {
		t.polling = true
		t.wg.Add(1)
		go t.poll()
	}
	return t.changed
}

func (t *Tokens) poll() {
	defer t.wg.Done()
	tick := time.NewTicker(t.opts.PollInterval)
	defer tick.Stop()
	var notified <-chan struct{} // nil: never
	if t.opts.Notified != nil {
		notified = t.opts.Notified()
	}
	for {
		select {
		case <-t.stopPoll:
			return
		case <-tick.C:
		case <-notified:
			notified = t.opts.Notified() // before the read, which sees what closed it
		}
		ctx, cancel := context.WithTimeout(context.Background(), t.opts.PollInterval*4)
		rev, err := t.store.TokenRevision(ctx)
		cancel()
		if err == nil {
			t.observe(rev)
		}
	}
}

// Watch authenticates the token with that hash, as Authenticate does, and
// then watches it until ctx ends: the channel receives
// items.ErrTokenRevoked, items.ErrTokenExpired (or a store error) once,
// within about PollInterval of the token's revocation (by any process)
// or expiry, and is never closed. Its goroutine ends with ctx or after
// sending. For websockets: refuse connection_init when Watch fails, close
// the socket when the channel yields.
func (t *Tokens) Watch(ctx context.Context, hash items.TokenHash) (items.Caller, <-chan error, error) {
	caller, err := t.Authenticate(ctx, hash)
	if err != nil {
		return items.Caller{}, nil, err
	}
	ended := make(chan error, 1)
	changed := t.Changed() // before the goroutine: no revocation slips between
	go func() {
		tick := time.NewTicker(t.opts.PollInterval)
		defer tick.Stop()
		for {
			var err error
			select {
			case <-ctx.Done():
				return
			case <-changed:
				changed = t.Changed() // before the check, which sees what closed it
				err = t.Check(ctx, hash)
			case <-tick.C:
				err = caller.Token.Usable(t.now()) // expiry: no store call
			}
			if err != nil && ctx.Err() == nil {
				if !errors.Is(err, items.ErrTokenRevoked) && !errors.Is(err, items.ErrTokenExpired) &&
					items.ErrorCode(err) != items.Unauthenticated {
					continue // the store did not answer: keep watching
				}
				ended <- err
				return
			}
		}
	}()
	return caller, ended, nil
}

// CacheStats returns what the cache of look-ups holds.
func (t *Tokens) CacheStats() cache.Stats { return t.cache.stats() }

// Close stops the poll and writes the uses not written yet. Authenticate
// still works after it, but records no more uses.
func (t *Tokens) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	close(t.stopPoll)
	t.mu.Unlock()
	t.wg.Wait()
	t.touch()
	return nil
}
