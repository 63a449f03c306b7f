package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"itemsapi/internal/fresh"
	"itemsapi/items"
)

// Token revocations reach every process: a revocation increases the one
// row of token_revision and, in the same transaction, notifies the channel
// tokens_<oid of token_revision>.
//
// TokenRevision, the check every authenticated request makes, reads that
// row: one primary-key-less single-row read, one round trip, which the
// requests that arrive while the previous read runs share (internal/fresh). A value kept
// in memory from the notifications would save it, but would not be exact:
// a client that saw its revocation return from process A, then sent the
// token to process B, was measured getting an answer from B before B's
// listener had heard (the notification travels apart from the answer).
// "From the next request on, on every process" needs B to ask the
// database after the request arrived.
//
// The notifications still serve: the store's listener (listen.go), which
// LISTENs for stamped items on the same connection, wakes
// TokenRevisionChanged's waiters at once, so that watchers (websockets
// whose token is revoked) hear within milliseconds rather than at their
// next poll. Each time it connects it reads the row (catch-up) and wakes
// them if it moved.

// tokenWatch is what a Store knows of revocations.
type tokenWatch struct {
	channel  string
	revision atomic.Int64 // the greatest revision heard of
	read     *fresh.Read[int64]
	clock    items.SettableClock

	mu      sync.Mutex
	changed chan struct{} // closed when revision grows, then replaced
}

// SetClock makes the store read the time from now, for roles and expiry
// (see items.SettableClock).
func (s *Store) SetClock(now func() time.Time) { s.tokens.clock.SetClock(now) }

// tokenChannel names the channel of revocations, which the listener
// LISTENs to.
func (s *Store) tokenChannel(ctx context.Context) error {
	bctx, cancel := s.bound(ctx)
	defer cancel()
	var oid uint32
	if err := s.pool.QueryRow(bctx, `SELECT 'token_revision'::regclass::oid`).Scan(&oid); err != nil {
		return translate("find the token_revision table", err)
	}
	s.tokens.channel = fmt.Sprintf("tokens_%d", oid)
	return nil
}

// catchUpTokens reads the revision on the listener's connection once it
// LISTENs: what a revocation committed before LISTEN took effect is in
// that read, what commits after it is notified.
func (s *Store) catchUpTokens(ctx context.Context, conn *pgx.Conn) error {
	bctx, cancel := s.bound(ctx)
	defer cancel()
	var rev int64
	if err := conn.QueryRow(bctx, `SELECT revision FROM token_revision`).Scan(&rev); err != nil {
		return translate("read the token revision", err)
	}
	s.raiseRevision(rev)
	return nil
}

// heardRevision records the revision a notification carries.
func (s *Store) heardRevision(payload string) error {
	rev, err := strconv.ParseInt(payload, 10, 64)
	if err != nil {
		return fmt.Errorf("token notification %q: %v", payload, err)
	}
	s.raiseRevision(rev)
	return nil
}

// raiseRevision records rev and wakes the waiters of TokenRevisionChanged,
// unless a revision as great is known.
func (s *Store) raiseRevision(rev int64) {
	w := &s.tokens
	w.mu.Lock()
	defer w.mu.Unlock()
	if rev <= w.revision.Load() {
		return
	}
	w.revision.Store(rev)
	if w.changed != nil {
		close(w.changed)
		w.changed = nil
	}
}

// TokenRevisionChanged returns a channel closed when this store hears of
// a revocation (by any process) newer than any it heard of before: by a
// notification, at once. Call it again for the next one. For
// auth.Options.Notified.
func (s *Store) TokenRevisionChanged() <-chan struct{} {
	w := &s.tokens
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.changed == nil {
		w.changed = make(chan struct{})
	}
	return w.changed
}

// TokenRevision implements items.TokenStore: exact (see above), from one
// row read after the call began, which the calls of the moment share (see
// internal/fresh).
func (s *Store) TokenRevision(ctx context.Context) (int64, error) {
	rev, err := s.tokens.read.Get(ctx)
	if err != nil {
		return 0, err
	}
	s.raiseRevision(rev)
	return rev, nil
}

// readRevision reads the token revision.
func (s *Store) readRevision(ctx context.Context) (int64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var rev int64
	if err := s.pool.QueryRow(ctx, `SELECT revision FROM token_revision`).Scan(&rev); err != nil {
		return 0, translate("read the token revision", err)
	}
	return rev, nil
}

// revise increases the revision and notifies the other processes, in tx,
// and returns the new revision.
func (s *Store) revise(ctx context.Context, tx pgx.Tx) (int64, error) {
	var rev int64
	if err := tx.QueryRow(ctx, `UPDATE token_revision SET revision = revision + 1 RETURNING revision`).Scan(&rev); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, s.tokens.channel, strconv.FormatInt(rev, 10)); err != nil {
		return 0, err
	}
	return rev, nil
}

// tokenColumns are the columns of a token, for scanToken, of tokens t.
const tokenColumns = `t.id, t.user_id, t.role, t.created_at, t.expires_at, t.last_used_at, t.revoked_at, t.bootstrap`

// userRole is the role of user u at the time $1: ADMIN when one of its
// tokens grants it and is neither revoked nor expired. Computed at every
// read, so that an expiry needs no write.
const userRole = `CASE WHEN EXISTS (SELECT 1 FROM tokens a WHERE a.user_id = u.id AND a.role = 'ADMIN'
	AND a.revoked_at IS NULL AND (a.expires_at IS NULL OR a.expires_at > $1)) THEN 'ADMIN' ELSE 'USER' END`

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

// scanToken reads the columns tokenColumns, then extra.
func scanToken(row pgx.Row, extra ...any) (items.Token, error) {
	var t items.Token
	dest := append([]any{&t.ID, &t.UserID, &t.Role, &t.CreatedAt, &t.ExpiresAt, &t.LastUsedAt, &t.RevokedAt, &t.Bootstrap}, extra...)
	if err := row.Scan(dest...); err != nil {
		return t, err
	}
	t.CreatedAt = t.CreatedAt.UTC()
	t.ExpiresAt, t.LastUsedAt, t.RevokedAt = utcPtr(t.ExpiresAt), utcPtr(t.LastUsedAt), utcPtr(t.RevokedAt)
	return t, nil
}

// Users implements items.Store. Each user comes once, however often its ID
// is asked for.
func (s *Store) Users(ctx context.Context, ids []int64) ([]items.User, error) {
	if len(ids) == 0 {
		return []items.User{}, nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT u.id, u.name, `+userRole+` FROM users u WHERE u.id = ANY($2)`, s.tokens.clock.Now(), ids)
	if err != nil {
		return nil, translate("read users", err)
	}
	defer rows.Close()
	users := make([]items.User, 0, len(ids))
	for rows.Next() {
		var u items.User
		if err := rows.Scan(&u.ID, &u.Name, &u.Role); err != nil {
			return nil, translate("read users", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("read users", err)
	}
	return users, nil
}

// UserByToken implements items.Store.
func (s *Store) UserByToken(ctx context.Context, hash items.TokenHash) (items.User, items.Role, error) {
	tok, u, err := s.TokenByHash(ctx, hash)
	return items.UsableTokenUser(tok, u, err, s.tokens.clock.Now())
}

// tokenByHash returns the token with that hash and its user, or
// pgx.ErrNoRows.
func (s *Store) tokenByHash(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, hash items.TokenHash) (items.Token, items.User, error) {
	var u items.User
	t, err := scanToken(q.QueryRow(ctx, `SELECT `+tokenColumns+`, u.name, `+userRole+`
		FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = $2`, s.tokens.clock.Now(), hash[:]), &u.Name, &u.Role)
	u.ID = t.UserID
	return t, u, err
}

// TokenByHash implements items.TokenStore.
func (s *Store) TokenByHash(ctx context.Context, hash items.TokenHash) (items.Token, items.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	t, u, err := s.tokenByHash(ctx, s.pool, hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return items.Token{}, items.User{}, items.Errorf(items.Unauthenticated, "unknown token")
	}
	if err != nil {
		return items.Token{}, items.User{}, translate("find token", err)
	}
	return t, u, nil
}

// Token implements items.TokenStore.
func (s *Store) Token(ctx context.Context, id int64) (items.Token, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens t WHERE t.id = $1`, id))
	return found("token", id, t, err)
}

// Tokens implements items.TokenStore.
func (s *Store) Tokens(ctx context.Context, q items.TokenQuery) ([]items.Token, error) {
	if err := items.CheckLimit(q.Limit); err != nil {
		return nil, err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM tokens t
		WHERE ($1::bigint <= 0 OR t.user_id = $1) AND t.id > $2 ORDER BY t.id LIMIT $3`, q.UserID, q.After, q.Limit)
	if err != nil {
		return nil, translate("read tokens", err)
	}
	defer rows.Close()
	page := make([]items.Token, 0, q.Limit)
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, translate("read tokens", err)
		}
		page = append(page, t)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("read tokens", err)
	}
	return page, nil
}

// CountTokens implements items.TokenStore.
func (s *Store) CountTokens(ctx context.Context, userID int64) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM tokens WHERE $1::bigint <= 0 OR user_id = $1`, userID).Scan(&n); err != nil {
		return 0, translate("count tokens", err)
	}
	return n, nil
}

// UserByName implements items.TokenStore.
func (s *Store) UserByName(ctx context.Context, name string) (items.User, error) {
	if err := checkText("user", name); err != nil {
		return items.User{}, err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var u items.User
	err := s.pool.QueryRow(ctx, `SELECT u.id, u.name, `+userRole+` FROM users u
		WHERE lower(u.name COLLATE "C") = $2 ORDER BY u.name <> $3, u.id LIMIT 1`,
		s.tokens.clock.Now(), items.FoldUserName(name), name).Scan(&u.ID, &u.Name, &u.Role)
	if errors.Is(err, pgx.ErrNoRows) {
		return items.User{}, items.Errorf(items.NotFound, "no user %q", name)
	}
	if err != nil {
		return items.User{}, translate("find user", err)
	}
	return u, nil
}

// AddToken implements items.Store. It returns an error with code Invalid
// for a role that is not valid, a user name that is not valid UTF-8 or
// contains a NUL character, or a new user's name that
// items.ValidateNewUserName refuses.
//
// A hash stored already (a restart with the same bootstrap token) costs
// one read. Otherwise one transaction creates the user or raises its role,
// then adds the token; when another transaction added the same hash first
// (processes bootstrapping one token at once), the insertion waits for it,
// does nothing, and this transaction rolls back, so that the user change
// is undone and the token's holder is returned as it is.
func (s *Store) AddToken(ctx context.Context, userName string, role items.Role, hash items.TokenHash) (items.User, error) {
	if !role.Valid() {
		return items.User{}, items.Errorf(items.Invalid, "role %q is not valid", role)
	}
	if err := checkText("user", userName); err != nil {
		return items.User{}, err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, u, err := s.tokenByHash(ctx, s.pool, hash)
	if err == nil {
		return u, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return items.User{}, translate("find token", err)
	}
	var added bool
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		u, err := userInTx(ctx, tx, userName, role)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO tokens (hash, user_id, role, created_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (hash) DO NOTHING`,
			hash[:], u.ID, role, s.tokens.clock.Now())
		if err != nil {
			return err
		}
		added = tag.RowsAffected() > 0
		if !added {
			return errRollback
		}
		return nil
	})
	if err != nil && !errors.Is(err, errRollback) {
		return items.User{}, err
	}
	// Added now, or by another transaction first, which has committed.
	_, u, err = s.tokenByHash(ctx, s.pool, hash)
	if err != nil {
		return items.User{}, translate("find token", err)
	}
	return u, nil
}

// errRollback rolls back a transaction of inTx without an error.
var errRollback = errors.New("roll back")

// inTx runs f in a transaction and commits it when f succeeds; errors are
// translated, but an *items.Error and errRollback are returned as they are.
func (s *Store) inTx(ctx context.Context, f func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return translate("begin", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := f(tx); err != nil {
		if errors.Is(err, errRollback) {
			return err
		}
		return translate("token transaction", err)
	}
	return translate("commit", tx.Commit(ctx))
}

// userNameLock is the first key of the advisory locks taken on a folded
// user name ("users" in ASCII); the second is a hash of the name.
const userNameLock int32 = 0x75736572

// revocationLock keys the advisory lock that revocations take, so that the
// last-admin rule is checked and applied atomically ("revoke" in ASCII).
const revocationLock int64 = 0x7265766f6b65

// userInTx returns the user that userName designates, creating it when
// none does (its name must then pass items.ValidateNewUserName), and
// raising the unused users.role column to role. The lock, on the folded
// name until the transaction ends, keeps two transactions from each
// creating a user for "Bob" and "bob".
func userInTx(ctx context.Context, tx pgx.Tx, userName string, role items.Role) (items.User, error) {
	folded := items.FoldUserName(userName)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, userNameLock, folded); err != nil {
		return items.User{}, err
	}
	var existing string
	err := tx.QueryRow(ctx, `
		SELECT name FROM users WHERE lower(name COLLATE "C") = $1
		ORDER BY name <> $2, id LIMIT 1`,
		folded, userName,
	).Scan(&existing)
	switch {
	case err == nil:
		userName = existing
	case !errors.Is(err, pgx.ErrNoRows):
		return items.User{}, err
	default:
		if err := items.ValidateNewUserName(userName); err != nil {
			return items.User{}, err
		}
	}
	var u items.User
	err = tx.QueryRow(ctx, `
		INSERT INTO users (name, role) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE
		SET role = CASE WHEN excluded.role = 'ADMIN' THEN 'ADMIN' ELSE users.role END
		RETURNING id, name`,
		userName, role,
	).Scan(&u.ID, &u.Name)
	return u, err
}

// CreateToken implements items.TokenStore: the ID is drawn from the
// table's identity first, to mint the token that carries it.
func (s *Store) CreateToken(ctx context.Context, n items.NewTokenRequest) (items.Token, string, error) {
	if !n.Role.Valid() {
		return items.Token{}, "", items.Errorf(items.Invalid, "role %q is not valid", n.Role)
	}
	if err := checkText("user", n.UserName); err != nil {
		return items.Token{}, "", err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	now := s.tokens.clock.Now()
	t := items.Token{Role: n.Role, CreatedAt: now, ExpiresAt: utcPtr(n.ExpiresAt)}
	if t.ExpiresAt != nil {
		*t.ExpiresAt = t.ExpiresAt.Truncate(time.Microsecond)
	}
	var token string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		u, err := userInTx(ctx, tx, n.UserName, n.Role)
		if err != nil {
			return err
		}
		t.UserID = u.ID
		if err := tx.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('tokens', 'id'))`).Scan(&t.ID); err != nil {
			return err
		}
		var hash items.TokenHash
		token, hash = items.MintToken(t.ID)
		_, err = tx.Exec(ctx, `INSERT INTO tokens (id, hash, user_id, role, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, t.ID, hash[:], t.UserID, t.Role, now, t.ExpiresAt)
		return err
	})
	if err != nil {
		return items.Token{}, "", err
	}
	return t, token, nil
}

// RevokeToken implements items.TokenStore. Revocations take turns on an
// advisory lock, so the last-admin rule holds under concurrency.
func (s *Store) RevokeToken(ctx context.Context, id int64, keepLastAdmin bool) (items.Token, error) {
	var t items.Token
	err := s.revocationTx(ctx, func(ctx context.Context, tx pgx.Tx, now time.Time) (bool, error) {
		if err := lockRevocations(ctx, tx); err != nil {
			return false, err
		}
		var err error
		t, err = scanToken(tx.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens t WHERE t.id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return false, items.Errorf(items.NotFound, "no token with id %d", id)
		}
		if err != nil || t.RevokedAt != nil {
			return false, err
		}
		if keepLastAdmin && t.Role == items.RoleAdmin && !t.Expired(now) {
			var others int
			err := tx.QueryRow(ctx, `SELECT count(*) FROM tokens WHERE role = 'ADMIN' AND revoked_at IS NULL
				AND (expires_at IS NULL OR expires_at > $1) AND id <> $2`, now, id).Scan(&others)
			if err != nil {
				return false, err
			}
			if others == 0 {
				return false, items.ErrLastAdmin
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE tokens SET revoked_at = $1 WHERE id = $2`, now, id); err != nil {
			return false, err
		}
		t.RevokedAt = &now
		return true, nil
	})
	if err != nil {
		return items.Token{}, err
	}
	return t, nil
}

// revocationTx runs f in a transaction, within the store's time bound,
// with the time of the call. When f reports that it revoked tokens, the
// transaction raises the token revision (and notifies every process), and
// once it commits this process knows the new revision at once.
func (s *Store) revocationTx(ctx context.Context, f func(ctx context.Context, tx pgx.Tx, now time.Time) (revoked bool, err error)) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	now := s.tokens.clock.Now()
	var rev int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		revoked, err := f(ctx, tx, now)
		if err != nil || !revoked {
			return err
		}
		rev, err = s.revise(ctx, tx)
		return err
	})
	if err != nil {
		return err
	}
	s.raiseRevision(rev)
	return nil
}

// lockRevocations takes the advisory lock on which revocations take
// turns, until tx ends.
func lockRevocations(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, revocationLock)
	return err
}

// TouchTokens implements items.TokenStore: one statement for them all.
func (s *Store) TouchTokens(ctx context.Context, used map[int64]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(used))
	ats := make([]time.Time, 0, len(used))
	for id, at := range used {
		ids = append(ids, id)
		ats = append(ats, at.UTC())
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `UPDATE tokens t SET last_used_at = u.at
		FROM unnest($1::bigint[], $2::timestamptz[]) AS u(id, at)
		WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at < u.at)`, ids, ats)
	return translate("touch tokens", err)
}

// BootstrapToken implements items.TokenStore. The transaction holds the
// lock on user admin's name, so processes bootstrapping at once take turns.
func (s *Store) BootstrapToken(ctx context.Context, hash items.TokenHash) (items.BootstrapResult, error) {
	var res items.BootstrapResult
	err := s.revocationTx(ctx, func(ctx context.Context, tx pgx.Tx, now time.Time) (bool, error) {
		u, err := userInTx(ctx, tx, "admin", items.RoleAdmin)
		if err != nil {
			return false, err
		}
		if err := lockRevocations(ctx, tx); err != nil {
			return false, err
		}
		t, err := scanToken(tx.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens t WHERE t.hash = $1`, hash[:]))
		switch {
		case err == nil:
			if t.RevokedAt != nil {
				res = items.BootstrapResult{Token: t, Revoked: true}
				return false, nil
			}
			if !t.Bootstrap {
				if _, err := tx.Exec(ctx, `UPDATE tokens SET bootstrap = true WHERE id = $1`, t.ID); err != nil {
					return false, err
				}
				t.Bootstrap = true
			}
			res = items.BootstrapResult{Token: t}
			return false, nil
		case !errors.Is(err, pgx.ErrNoRows):
			return false, err
		}
		tag, err := tx.Exec(ctx, `UPDATE tokens SET revoked_at = $1 WHERE bootstrap AND revoked_at IS NULL`, now)
		if err != nil {
			return false, err
		}
		t = items.Token{UserID: u.ID, Role: items.RoleAdmin, CreatedAt: now, Bootstrap: true}
		if err := tx.QueryRow(ctx, `INSERT INTO tokens (hash, user_id, role, created_at, bootstrap)
			VALUES ($1, $2, 'ADMIN', $3, true) RETURNING id`, hash[:], u.ID, now).Scan(&t.ID); err != nil {
			return false, err
		}
		res = items.BootstrapResult{Token: t, Created: true, RevokedPrevious: int(tag.RowsAffected())}
		return tag.RowsAffected() > 0, nil
	})
	if err != nil {
		return items.BootstrapResult{}, err
	}
	return res, nil
}
