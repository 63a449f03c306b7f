package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"itemsapi/internal/fresh"
	"itemsapi/internal/positive"
	"itemsapi/items"
	"itemsapi/pubsub"
)

// The defaults of Config.
const (
	DefaultConnectTimeout   = 5 * time.Second
	DefaultStatementTimeout = 5 * time.Second
	// DefaultMaxConns is the pool's size when neither Config.MaxConns nor
	// the URL's pool_max_conns sets it. Updates and deletions commit
	// independently and PostgreSQL flushes the commits that wait together
	// at once, so a connection that waits for its flush costs no CPU and
	// more of them make larger groups; reads and the revocation check need
	// theirs meanwhile. Insertions take two at most (see adder).
	DefaultMaxConns = 16
)

// Config says which database to use and how long to wait for it.
type Config struct {
	// URL is a PostgreSQL connection string, postgres://user@host:port/db?…
	// or key=value pairs. Parameters that are not connection settings are
	// sent to the server as run-time parameters: ?search_path=s puts the
	// store's tables in schema s.
	URL string
	// MaxConns is the size of the connection pool; 0 keeps the URL's
	// pool_max_conns, else DefaultMaxConns. The store opens one more
	// connection, outside the pool, to listen for stamping rounds.
	MaxConns int32
	// ConnectTimeout bounds each attempt to open a connection; 0 means
	// DefaultConnectTimeout. It replaces the URL's connect_timeout.
	ConnectTimeout time.Duration
	// StatementTimeout is the server's statement_timeout on every
	// connection, so that neither a lock nor a slow query holds a request
	// for long; 0 means DefaultStatementTimeout. It replaces the URL's
	// statement_timeout.
	StatementTimeout time.Duration

	// idleCheck and sweep replace the constants of those names, for tests.
	idleCheck time.Duration
	sweep     time.Duration
	// addBatches replaces DefaultAddBatches, for tests.
	addBatches int
}

// DefaultConfig returns the configuration that Open uses for url when the
// other fields are zero.
func DefaultConfig(url string) Config {
	return Config{URL: url, ConnectTimeout: DefaultConnectTimeout, StatementTimeout: DefaultStatementTimeout}
}

func (c Config) withDefaults() Config {
	c.ConnectTimeout = positive.Or(c.ConnectTimeout, DefaultConnectTimeout)
	c.StatementTimeout = positive.Or(c.StatementTimeout, DefaultStatementTimeout)
	c.idleCheck = positive.Or(c.idleCheck, idleCheck)
	c.sweep = positive.Or(c.sweep, sweep)
	c.addBatches = positive.Or(c.addBatches, addBatches)
	return c
}

// Store is an items.Store and items.Broker in a PostgreSQL database, safe
// for concurrent use. The zero value is not usable; call Open.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	cfg  Config

	// listenConfig is the configuration of the listener's connection,
	// which is not one of the pool's.
	listenConfig *pgx.ConnConfig
	// itemsOID is the object ID of this store's items table. It names the
	// channel of its notifications and keys the lock of its stamping
	// rounds, so that stores in other schemas of the same database neither
	// hear nor wait for this one.
	itemsOID uint32
	channel  string
	// itemsSeq is the object ID of the items' ID sequence (see addItemsSQL).
	itemsSeq uint32
	// name tells this Store's notifications from other processes'.
	name string

	// events is the log of added items as this process follows it: the
	// follower appends to it, under appendMu (see Subscribe).
	events   *pubsub.Log
	appendMu sync.Mutex
	// wake asks the follower for a stamping round and a read.
	wake chan struct{}
	// pending is the stamping that callers of stampSince wait for, and
	// stamping says whether stampPending runs; both under barrierMu.
	barrierMu sync.Mutex
	pending   *stampWait
	stamping  bool

	listenerPID atomic.Uint32 // the listening backend's process ID; 0 while down
	stop        context.CancelFunc
	done        chan struct{} // closed when the listener has stopped
	followed    chan struct{} // closed when the follower has stopped
	closeOnce   sync.Once

	// adds gathers AddItem calls into batches (see adds.go).
	adds adder
	// tokens follows token revocations (see tokens.go).
	tokens tokenWatch
	// writes records this process's writes of items; other processes
	// write too.
	writes *items.Writes
}

var (
	_ items.Store  = (*Store)(nil)
	_ items.Broker = (*Store)(nil)
)

// Open connects to the database that cfg names, brings its schema up to
// date, and starts listening for the items that any process adds. It fails
// when the database cannot be reached within cfg.ConnectTimeout (or before
// ctx ends), when the URL does not parse, when the schema cannot be
// migrated, and, wrapping ErrNewerSchema, when a newer version of the
// program has migrated the database. log receives the listener's
// connection losses and recoveries and the migrations applied; nil
// discards them.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	poolConfig, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		// The parse error may quote the URL, password and all.
		return nil, errors.New("postgres: the database URL does not parse")
	}
	switch {
	case cfg.MaxConns > 0:
		poolConfig.MaxConns = cfg.MaxConns
	case !strings.Contains(cfg.URL, "pool_max_conns"):
		poolConfig.MaxConns = DefaultMaxConns
	}
	cc := poolConfig.ConnConfig
	cc.ConnectTimeout = cfg.ConnectTimeout
	cc.RuntimeParams["statement_timeout"] = strconv.FormatInt(cfg.StatementTimeout.Milliseconds(), 10)
	if cc.RuntimeParams["application_name"] == "" {
		cc.RuntimeParams["application_name"] = "itemsapi"
	}

	s := &Store{
		log:          log,
		cfg:          cfg,
		listenConfig: cc.Copy(),
		name:         rand.Text(),
		wake:         make(chan struct{}, 1),
		done:         make(chan struct{}),
		followed:     make(chan struct{}),
		writes:       items.NewWrites(true),
		adds:         adder{limit: cfg.addBatches},
	}
	s.tokens.read = fresh.New(s.readRevision)
	s.pool, err = pgxpool.NewWithConfig(ctx, poolConfig)
	if err != nil {
		return nil, translate("open pool", err)
	}
	if err := s.open(ctx); err != nil {
		s.pool.Close()
		return nil, err
	}
	return s, nil
}

// open migrates the schema and starts the listener.
func (s *Store) open(ctx context.Context) error {
	if err := migrate(ctx, s.pool, s.log); err != nil {
		return err
	}
	bctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.pool.QueryRow(bctx, `SELECT 'items'::regclass::oid, pg_get_serial_sequence('items', 'id')::regclass::oid`).Scan(&s.itemsOID, &s.itemsSeq); err != nil {
		return translate("find the items table", err)
	}
	s.channel = fmt.Sprintf("items_added_%d", s.itemsOID)
	if err := s.tokenChannel(ctx); err != nil {
		return err
	}

	conn, err := s.connectListener(ctx)
	if err != nil {
		return err
	}
	// Events stamped before LISTEN took effect are not news.
	var head int64
	if err := conn.QueryRow(bctx, `SELECT coalesce(max(pos), 0) FROM events WHERE pos IS NOT NULL`).Scan(&head); err != nil {
		closeConn(conn)
		return translate("find the last event", err)
	}
	s.events = pubsub.New(s.readEvents, head, pubsub.Options{})
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	go s.listen(lctx, conn)
	go s.follow(lctx)
	s.wakeStamper() // events that a process left unstamped
	return nil
}

// bound limits a call's wait for the database: the server ends a statement
// after StatementTimeout, but a network that drops packets would leave the
// client waiting for an answer that never comes.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.ConnectTimeout+s.cfg.StatementTimeout+time.Second)
}

// Writes implements items.Store: it records this process's writes, but
// other processes write to the database too (Shared), and their items
// reach subscribers through the log.
func (s *Store) Writes() *items.Writes { return s.writes }

// Ping implements items.Store: it fails while the database does not answer
// within the store's timeouts, with an internal error.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.pool.Ping(ctx); err != nil {
		return translate("ping", err)
	}
	return nil
}

// Close implements items.Store: it stops the listener and waits for it,
// ends the subscriptions, and closes the pool. Later calls do nothing. It
// never fails.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.adds.close()
		s.stop()
		<-s.done
		<-s.followed
		if s.events != nil {
			s.events.Close()
		}
		s.pool.Close()
	})
	return nil
}

// dbError is a failure of the database or of the connection to it: an
// internal error to callers. Its text, for the log, is the driver's; it
// unwraps to a context error when one caused it, so that callers can tell
// a cancelled request, but never to a driver's type.
type dbError struct {
	op     string
	msg    string
	ctxErr error
}

func (e *dbError) Error() string { return "postgres: " + e.op + ": " + e.msg }

func (e *dbError) Unwrap() error { return e.ctxErr }

// PostgreSQL error codes that the store translates.
const (
	codeUniqueViolation      = "23505"
	codeCharacterNotInRepert = "22021" // invalid byte sequence for encoding
	codeUntranslatableChar   = "22P05" // e.g. \u0000 in a text value
)

// translate turns err, from the driver, into an error for callers: an
// *items.Error when the client's input is at fault, a *dbError otherwise.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	if e, ok := errors.AsType[*items.Error](err); ok {
		return e
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch pgErr.Code {
		case codeUniqueViolation:
			return items.Errorf(items.Conflict, "%s: it exists already", op)
		case codeCharacterNotInRepert, codeUntranslatableChar:
			return items.Errorf(items.Invalid, "%s: the text is not valid UTF-8 or contains a NUL character", op)
		}
	}
	return &dbError{op: op, msg: err.Error(), ctxErr: ctxCause(err)}
}

// ctxCause returns the context error that caused err, if any.
func ctxCause(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return context.Canceled
	case errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err):
		return context.DeadlineExceeded
	}
	return nil
}
