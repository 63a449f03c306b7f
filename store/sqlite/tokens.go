package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"itemsapi/items"
)

// tokenColumns are the columns of a token, for scanToken, of tokens t.
const tokenColumns = `t.id, t.user_id, t.role, t.created_at, t.expires_at, t.last_used_at, t.revoked_at, t.bootstrap`

// userRole is the role of user u at the time ?1 (unix microseconds): ADMIN
// when one of its tokens grants it and is neither revoked nor expired.
// Computed at every read, so that an expiry needs no write.
const userRole = `CASE WHEN EXISTS (SELECT 1 FROM tokens a WHERE a.user_id = u.id AND a.role = 'ADMIN'
	AND a.revoked_at IS NULL AND (a.expires_at IS NULL OR a.expires_at > ?1)) THEN 'ADMIN' ELSE 'USER' END`

// SetClock makes the store read the time from now, for roles and expiry
// (see items.SettableClock).
func (s *Store) SetClock(now func() time.Time) { s.clock.SetClock(now) }

func micros(t time.Time) int64 { return t.UTC().UnixMicro() }

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(*t), Valid: true}
}

func timeOf(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := time.UnixMicro(n.Int64).UTC()
	return &t
}

// scanToken reads the columns tokenColumns, then extra.
func scanToken(row scanner, extra ...any) (items.Token, error) {
	var (
		t                      items.Token
		role                   string
		created                int64
		expires, used, revoked sql.NullInt64
		bootstrap              int64
	)
	dest := append([]any{&t.ID, &t.UserID, &role, &created, &expires, &used, &revoked, &bootstrap}, extra...)
	if err := row.Scan(dest...); err != nil {
		return t, err
	}
	r, err := parseRole(role)
	if err != nil {
		return t, err
	}
	t.Role = r
	t.CreatedAt = time.UnixMicro(created).UTC()
	t.ExpiresAt, t.LastUsedAt, t.RevokedAt = timeOf(expires), timeOf(used), timeOf(revoked)
	t.Bootstrap = bootstrap == 1
	return t, nil
}

// UserByToken implements items.Store.
func (s *Store) UserByToken(ctx context.Context, hash items.TokenHash) (items.User, items.Role, error) {
	tok, u, err := s.TokenByHash(ctx, hash)
	return items.UsableTokenUser(tok, u, err, s.clock.Now())
}

// TokenByHash implements items.TokenStore.
func (s *Store) TokenByHash(ctx context.Context, hash items.TokenHash) (items.Token, items.User, error) {
	var (
		u    items.User
		role string
	)
	t, err := scanToken(s.tokenByHash.QueryRowContext(ctx, micros(s.clock.Now()), hash[:]), &u.Name, &role)
	if errors.Is(err, sql.ErrNoRows) {
		return items.Token{}, items.User{}, items.Errorf(items.Unauthenticated, "unknown token")
	}
	if err != nil {
		return items.Token{}, items.User{}, translate(ctx, "token by hash", err)
	}
	u.ID = t.UserID
	if u.Role, err = parseRole(role); err != nil {
		return items.Token{}, items.User{}, err
	}
	return t, u, nil
}

// TokenRevision implements items.TokenStore: one row, read after the call
// began (another process, the token command, may have revoked a token),
// by a read that the calls of the moment share (see internal/fresh).
func (s *Store) TokenRevision(ctx context.Context) (int64, error) {
	return s.revision.Get(ctx)
}

// readRevision reads the token revision.
func (s *Store) readRevision(ctx context.Context) (int64, error) {
	rev, err := s.revisions.read(ctx)
	if err != nil {
		return 0, translate(ctx, "token revision", err)
	}
	return rev, nil
}

// revisionReader reads the token revision on a read-only connection of its
// own, with a statement it prepared once, through the driver: the read
// that every authenticated request waits for goes through no pool and
// takes no reader from the requests (under load, a third of its CPU was
// database/sql's and the pool's). Its reads run one at a time, which
// Store.revision (a fresh.Read) ensures.
type revisionReader struct {
	db   *sql.DB
	conn *sql.Conn
	// stmt is used only within conn.Raw, on the connection it was
	// prepared on.
	stmt driver.Stmt
	dest []driver.Value
}

// openRevisionReader opens the revision reader of the database at path.
func openRevisionReader(ctx context.Context, path string) (*revisionReader, error) {
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %v", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	r := &revisionReader{db: db, dest: make([]driver.Value, 1)}
	if r.conn, err = db.Conn(ctx); err == nil {
		err = r.conn.Raw(func(dc any) error {
			var err error
			r.stmt, err = dc.(driver.ConnPrepareContext).PrepareContext(ctx, `SELECT revision FROM token_revision`)
			return err
		})
	}
	if err != nil {
		_ = r.close()
		return nil, translate(ctx, "prepare the token revision", err)
	}
	return r, nil
}

// read reads the revision.
func (r *revisionReader) read(ctx context.Context) (int64, error) {
	var rev int64
	err := r.conn.Raw(func(any) error {
		rows, err := r.stmt.(driver.StmtQueryContext).QueryContext(ctx, nil)
		if err != nil {
			return err
		}
		err = rows.Next(r.dest)
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		v, ok := r.dest[0].(int64)
		if !ok {
			return fmt.Errorf("token revision of type %T", r.dest[0])
		}
		rev = v
		return nil
	})
	return rev, err
}

// close closes the statement, the connection and its pool.
func (r *revisionReader) close() error {
	var errs []error
	if r.conn != nil {
		if r.stmt != nil {
			errs = append(errs, r.conn.Raw(func(any) error { return r.stmt.Close() }))
		}
		errs = append(errs, r.conn.Close())
	}
	errs = append(errs, r.db.Close())
	return errors.Join(errs...)
}

// Token implements items.TokenStore.
func (s *Store) Token(ctx context.Context, id int64) (items.Token, error) {
	t, err := scanToken(s.r.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens t WHERE t.id = ?`, id))
	return found(ctx, "token", id, t, err)
}

// Tokens implements items.TokenStore.
func (s *Store) Tokens(ctx context.Context, q items.TokenQuery) ([]items.Token, error) {
	if err := items.CheckLimit(q.Limit); err != nil {
		return nil, err
	}
	query := `SELECT ` + tokenColumns + ` FROM tokens t WHERE t.id > ? ORDER BY t.id LIMIT ?`
	args := []any{q.After, q.Limit}
	if q.UserID > 0 {
		query = `SELECT ` + tokenColumns + ` FROM tokens t WHERE t.user_id = ? AND t.id > ? ORDER BY t.id LIMIT ?`
		args = []any{q.UserID, q.After, q.Limit}
	}
	rows, err := s.r.QueryContext(ctx, query, args...)
	scan := func(row scanner) (items.Token, error) { return scanToken(row) }
	return scanRows(ctx, "tokens", make([]items.Token, 0, q.Limit), scan, rows, err)
}

// CountTokens implements items.TokenStore.
func (s *Store) CountTokens(ctx context.Context, userID int64) (int, error) {
	var n int
	var err error
	if userID > 0 {
		err = s.r.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE user_id = ?`, userID).Scan(&n)
	} else {
		err = s.r.QueryRowContext(ctx, `SELECT count(*) FROM tokens`).Scan(&n)
	}
	if err != nil {
		return 0, translate(ctx, "count tokens", err)
	}
	return n, nil
}

// findUser is the user that name designates: exactly, else the oldest
// equal but for ASCII case.
const findUser = `SELECT u.id, u.name, ` + userRole + ` FROM users u WHERE lower(u.name) = ?2
	ORDER BY u.name <> ?3, u.id LIMIT 1`

// UserByName implements items.TokenStore.
func (s *Store) UserByName(ctx context.Context, name string) (items.User, error) {
	var (
		u    items.User
		role string
	)
	err := s.r.QueryRowContext(ctx, findUser, micros(s.clock.Now()), items.FoldUserName(name), name).Scan(&u.ID, &u.Name, &role)
	if errors.Is(err, sql.ErrNoRows) {
		return items.User{}, items.Errorf(items.NotFound, "no user %q", name)
	}
	if err != nil {
		return items.User{}, translate(ctx, "user by name", err)
	}
	if u.Role, err = parseRole(role); err != nil {
		return items.User{}, err
	}
	return u, nil
}

// userInTx returns the user that userName designates, creating it when
// none does (its name must then pass items.ValidateNewUserName), and
// raising the unused users.role column to role.
func userInTx(ctx context.Context, tx *sql.Tx, userName string, role items.Role, now time.Time) (items.User, error) {
	var existing string
	err := tx.QueryRowContext(ctx, `SELECT name FROM users WHERE lower(name) = ?
		ORDER BY name <> ?, id LIMIT 1`, items.FoldUserName(userName), userName).Scan(&existing)
	switch {
	case err == nil:
		userName = existing
	case !errors.Is(err, sql.ErrNoRows):
		return items.User{}, translate(ctx, "find user", err)
	default:
		if err = items.ValidateNewUserName(userName); err != nil {
			return items.User{}, err
		}
	}
	var u items.User
	err = tx.QueryRowContext(ctx, `INSERT INTO users (name, role) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET role = CASE WHEN excluded.role = 'ADMIN' THEN 'ADMIN' ELSE users.role END
		RETURNING id, name`, userName, string(role)).Scan(&u.ID, &u.Name)
	if err != nil {
		return items.User{}, translate(ctx, "add user", err)
	}
	return u, nil
}

// roleInTx returns the role of the user with that ID at now.
func roleInTx(ctx context.Context, tx *sql.Tx, id int64, now time.Time) (items.Role, error) {
	var role string
	if err := tx.QueryRowContext(ctx, `SELECT `+userRole+` FROM users u WHERE u.id = ?2`, micros(now), id).Scan(&role); err != nil {
		return "", translate(ctx, "user role", err)
	}
	return parseRole(role)
}

// writeTx runs f in a write transaction (BEGIN IMMEDIATE: processes sharing
// the file take turns) and commits it when f succeeds.
func (s *Store) writeTx(ctx context.Context, op string, f func(tx *sql.Tx) error) (err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return translate(ctx, op, err)
	}
	if err = f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err = tx.Commit(); err != nil {
		return translate(ctx, op, err)
	}
	return nil
}

// AddToken implements items.Store. It returns an error with code Invalid
// for a role that is not valid, or for a new user's name that
// items.ValidateNewUserName refuses. Processes that share the file may add
// the same token, or tokens for one new user, at once: the write lock,
// taken at BEGIN, orders them.
func (s *Store) AddToken(ctx context.Context, userName string, role items.Role, hash items.TokenHash) (items.User, error) {
	if !role.Valid() {
		return items.User{}, items.Errorf(items.Invalid, "role %q is not valid", role)
	}
	now := s.clock.Now()
	var u items.User
	err := s.writeTx(ctx, "add token", func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT u.id, u.name FROM tokens t JOIN users u ON u.id = t.user_id
			WHERE t.hash = ?`, hash[:]).Scan(&u.ID, &u.Name)
		switch {
		case err == nil:
			// Stored already: change nothing.
		case !errors.Is(err, sql.ErrNoRows):
			return translate(ctx, "add token", err)
		default:
			if u, err = userInTx(ctx, tx, userName, role, now); err != nil {
				return err
			}
			if _, err = tx.ExecContext(ctx, `INSERT INTO tokens (hash, user_id, role, created_at) VALUES (?, ?, ?, ?)`,
				hash[:], u.ID, string(role), micros(now)); err != nil {
				return translate(ctx, "add token", err)
			}
		}
		u.Role, err = roleInTx(ctx, tx, u.ID, now)
		return err
	})
	if err != nil {
		return items.User{}, err
	}
	return u, nil
}

// CreateToken implements items.TokenStore. The ID is the next of the
// table's AUTOINCREMENT sequence, read under the write lock.
func (s *Store) CreateToken(ctx context.Context, n items.NewTokenRequest) (items.Token, string, error) {
	if !n.Role.Valid() {
		return items.Token{}, "", items.Errorf(items.Invalid, "role %q is not valid", n.Role)
	}
	now := s.clock.Now()
	t := items.Token{Role: n.Role, CreatedAt: now}
	if n.ExpiresAt != nil {
		e := n.ExpiresAt.UTC().Truncate(time.Microsecond)
		t.ExpiresAt = &e
	}
	var token string
	err := s.writeTx(ctx, "create token", func(tx *sql.Tx) error {
		u, err := userInTx(ctx, tx, n.UserName, n.Role, now)
		if err != nil {
			return err
		}
		t.UserID = u.ID
		err = tx.QueryRowContext(ctx, `SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'tokens'), 0),
			(SELECT coalesce(max(id), 0) FROM tokens)) + 1`).Scan(&t.ID)
		if err != nil {
			return translate(ctx, "create token", err)
		}
		var hash items.TokenHash
		token, hash = items.MintToken(t.ID)
		_, err = tx.ExecContext(ctx, `INSERT INTO tokens (id, hash, user_id, role, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			t.ID, hash[:], t.UserID, string(t.Role), micros(now), nullMicros(t.ExpiresAt))
		return translate(ctx, "create token", err)
	})
	if err != nil {
		return items.Token{}, "", err
	}
	return t, token, nil
}

// RevokeToken implements items.TokenStore.
func (s *Store) RevokeToken(ctx context.Context, id int64, keepLastAdmin bool) (items.Token, error) {
	now := s.clock.Now()
	var t items.Token
	err := s.writeTx(ctx, "revoke token", func(tx *sql.Tx) error {
		var err error
		t, err = scanToken(tx.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens t WHERE t.id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return items.Errorf(items.NotFound, "no token with id %d", id)
		}
		if err != nil {
			return translate(ctx, "revoke token", err)
		}
		if t.RevokedAt != nil {
			return nil
		}
		if keepLastAdmin && t.Role == items.RoleAdmin && !t.Expired(now) {
			var others int
			err := tx.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE role = 'ADMIN' AND revoked_at IS NULL
				AND (expires_at IS NULL OR expires_at > ?) AND id <> ?`, micros(now), id).Scan(&others)
			if err != nil {
				return translate(ctx, "revoke token", err)
			}
			if others == 0 {
				return items.ErrLastAdmin
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE id = ?`, micros(now), id); err != nil {
			return translate(ctx, "revoke token", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE token_revision SET revision = revision + 1`); err != nil {
			return translate(ctx, "revoke token", err)
		}
		t.RevokedAt = &now
		return nil
	})
	if err != nil {
		return items.Token{}, err
	}
	return t, nil
}

// TouchTokens implements items.TokenStore: one transaction for them all.
func (s *Store) TouchTokens(ctx context.Context, used map[int64]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	return s.writeTx(ctx, "touch tokens", func(tx *sql.Tx) error {
		for id, at := range used {
			if _, err := tx.ExecContext(ctx, `UPDATE tokens SET last_used_at = ?1
				WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1)`, micros(at), id); err != nil {
				return translate(ctx, "touch tokens", err)
			}
		}
		return nil
	})
}

// BootstrapToken implements items.TokenStore.
func (s *Store) BootstrapToken(ctx context.Context, hash items.TokenHash) (items.BootstrapResult, error) {
	now := s.clock.Now()
	var res items.BootstrapResult
	err := s.writeTx(ctx, "bootstrap token", func(tx *sql.Tx) error {
		t, err := scanToken(tx.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens t WHERE t.hash = ?`, hash[:]))
		switch {
		case err == nil:
			if t.RevokedAt != nil {
				res = items.BootstrapResult{Token: t, Revoked: true}
				return nil
			}
			if !t.Bootstrap {
				if _, err := tx.ExecContext(ctx, `UPDATE tokens SET bootstrap = 1 WHERE id = ?`, t.ID); err != nil {
					return translate(ctx, "bootstrap token", err)
				}
				t.Bootstrap = true
			}
			res = items.BootstrapResult{Token: t}
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return translate(ctx, "bootstrap token", err)
		}
		r, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE bootstrap = 1 AND revoked_at IS NULL`, micros(now))
		if err != nil {
			return translate(ctx, "bootstrap token", err)
		}
		n, _ := r.RowsAffected()
		if n > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE token_revision SET revision = revision + 1`); err != nil {
				return translate(ctx, "bootstrap token", err)
			}
		}
		u, err := userInTx(ctx, tx, "admin", items.RoleAdmin, now)
		if err != nil {
			return err
		}
		t = items.Token{UserID: u.ID, Role: items.RoleAdmin, CreatedAt: now, Bootstrap: true}
		err = tx.QueryRowContext(ctx, `INSERT INTO tokens (hash, user_id, role, created_at, bootstrap) VALUES (?, ?, 'ADMIN', ?, 1)
			RETURNING id`, hash[:], u.ID, micros(now)).Scan(&t.ID)
		if err != nil {
			return translate(ctx, "bootstrap token", err)
		}
		res = items.BootstrapResult{Token: t, Created: true, RevokedPrevious: int(n)}
		return nil
	})
	if err != nil {
		return items.BootstrapResult{}, err
	}
	return res, nil
}
