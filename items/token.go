package items

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// TokenHash is the SHA-256 of a token: what stores keep instead of the
// token itself.
type TokenHash [sha256.Size]byte

// tokenPrefix marks our tokens so that secret scanners and people can tell
// them apart from other credentials.
const tokenPrefix = "itm_"

// NewToken returns a new random token (256 bits) and its hash, without an
// ID in it: for tests and callers that store it with AddToken. The token
// is shown once to whoever asked for it and never stored.
func NewToken() (token string, hash TokenHash) {
	token = tokenPrefix + secret()
	return token, HashToken(token)
}

// MintToken returns a new random token for the token with that ID, and its
// hash: "itm_<id>_<secret>". The ID is not secret: it lets people name a
// token (in a support request, in `itemsapi token list`) without showing
// it. The whole string is what is hashed, so the ID cannot be changed.
func MintToken(id int64) (token string, hash TokenHash) {
	token = tokenPrefix + strconv.FormatInt(id, 10) + "_" + secret()
	return token, HashToken(token)
}

func secret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// TokenIDFromPrefix returns the ID that a token made by MintToken carries
// in its prefix, and false for any other string (tokens made before IDs,
// or by NewToken, carry none). Only the prefix is read: "itm_42_" is
// enough.
func TokenIDFromPrefix(s string) (int64, bool) {
	rest, ok := strings.CutPrefix(s, tokenPrefix)
	if !ok {
		return 0, false
	}
	digits, _, ok := strings.Cut(rest, "_")
	if !ok || digits == "" || len(digits) > 19 || digits[0] == '0' {
		return 0, false
	}
	id, err := strconv.ParseInt(digits, 10, 64)
	return id, err == nil
}

// HashToken returns the hash under which a token is stored.
func HashToken(token string) TokenHash {
	return sha256.Sum256([]byte(token))
}

// Token is an API token as stores keep it: everything but its secret.
type Token struct {
	// ID is assigned by the store, increasing, never reused.
	ID     int64
	UserID int64
	// Role is what the token grants: the role of the requests it makes.
	Role      Role
	CreatedAt time.Time
	// ExpiresAt is when the token stops working; nil: never.
	ExpiresAt *time.Time
	// LastUsedAt is when the token was last used, to the minute or so:
	// servers record uses in memory and write them at most once a minute.
	LastUsedAt *time.Time
	// RevokedAt is when the token was first revoked; nil: it was not.
	RevokedAt *time.Time
	// Bootstrap marks the token that BOOTSTRAP_ADMIN_TOKEN made.
	Bootstrap bool
}

// Errors of a token that exists but may not be used.
var (
	ErrTokenRevoked = Errorf(Unauthenticated, "the API token was revoked")
	ErrTokenExpired = Errorf(Unauthenticated, "the API token has expired")
)

// Usable returns nil when the token may be used at now, else
// ErrTokenRevoked or ErrTokenExpired (code Unauthenticated).
func (t Token) Usable(now time.Time) error {
	if t.RevokedAt != nil {
		return ErrTokenRevoked
	}
	if t.Expired(now) {
		return ErrTokenExpired
	}
	return nil
}

// Expired reports whether the token has an expiry at or before now.
func (t Token) Expired(now time.Time) bool {
	return t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)
}

// ValidateExpiry checks the expiry asked for a new token at now: in the
// future, and at most a calendar year ahead (now.AddDate(1, 0, 0)). It
// fails with code Invalid.
func ValidateExpiry(expiresAt *time.Time, now time.Time) error {
	if expiresAt == nil {
		return nil
	}
	if !expiresAt.After(now) {
		return Errorf(Invalid, "expiresAt %s is not in the future", expiresAt.UTC().Format(time.RFC3339))
	}
	if expiresAt.After(now.AddDate(1, 0, 0)) {
		return Errorf(Invalid, "expiresAt %s is more than a year ahead", expiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// NewTokenRequest is what a caller supplies to create a token with
// TokenStore.CreateToken.
type NewTokenRequest struct {
	// UserName designates the user as for Store.AddToken.
	UserName string
	Role     Role
	// ExpiresAt, when not nil, is when the token stops working. Stores
	// take any time; the rules of ValidateExpiry are the caller's.
	ExpiresAt *time.Time
}

// TokenQuery selects one page of tokens in ID order.
type TokenQuery struct {
	// UserID, when positive, keeps that user's tokens.
	UserID int64
	// After, when positive, keeps the tokens whose ID is greater.
	After int64
	// Limit is the largest number of tokens returned, 0 to MaxPageSize+1.
	Limit int
}

// ErrLastAdmin refuses to revoke the last usable ADMIN token (see
// TokenStore.RevokeToken). Match it with errors.Is.
var ErrLastAdmin = Errorf(Invalid, "this is the last unrevoked, unexpired ADMIN token: revoking it would leave nobody able to administer the service (create another ADMIN token first, or use `itemsapi token revoke`)")

// BootstrapResult says what TokenStore.BootstrapToken did.
type BootstrapResult struct {
	// Token is the bootstrap token as it is now.
	Token Token
	// Created reports that the value was new.
	Created bool
	// Revoked reports that the value was revoked before: it stays so.
	Revoked bool
	// RevokedPrevious counts the previous bootstrap tokens revoked now.
	RevokedPrevious int
}

// TokenStore is the token lifecycle part of Store. Every time a store
// compares with the current time (roles, expiry), it uses its clock, the
// same for every caller, so that an expiry needs no write to show.
type TokenStore interface {
	// CreateToken stores a new token for the user that n.UserName
	// designates (as AddToken does, creating the user if need be), minted
	// by MintToken with the ID the store assigns, and returns it with the
	// token string, which is not kept. It fails with code Invalid as
	// AddToken does.
	CreateToken(ctx context.Context, n NewTokenRequest) (Token, string, error)
	// TokenByHash returns the token with that hash, revoked and expired
	// ones included, and its user (with the role Users gives), or an error
	// with code Unauthenticated when no token has that hash.
	TokenByHash(ctx context.Context, hash TokenHash) (Token, User, error)
	// Token returns the token with that ID or an error with code NotFound.
	Token(ctx context.Context, id int64) (Token, error)
	// Tokens returns the page of tokens that q selects, oldest first. An
	// error with code Invalid for a limit outside 0..MaxPageSize+1.
	Tokens(ctx context.Context, q TokenQuery) ([]Token, error)
	// CountTokens returns how many tokens the user with that ID holds
	// (all users' when 0).
	CountTokens(ctx context.Context, userID int64) (int, error)
	// UserByName returns the user that name designates (exactly, else
	// equal but for ASCII case, the oldest such) or code NotFound.
	UserByName(ctx context.Context, name string) (User, error)
	// RevokeToken revokes the token with that ID and returns it: its
	// RevokedAt is the first revocation's, whatever the number of calls.
	// Unknown: code NotFound. With keepLastAdmin, revoking the last usable
	// ADMIN token (unrevoked, unexpired) fails with ErrLastAdmin; the
	// check and the revocation are atomic, so two concurrent revocations
	// cannot revoke the last two. A revocation increases TokenRevision in
	// the same transaction, for every process sharing the store.
	RevokeToken(ctx context.Context, id int64, keepLastAdmin bool) (Token, error)
	// TouchTokens records when tokens were last used (token ID → time);
	// a time earlier than the one stored changes nothing, unknown IDs are
	// ignored.
	TouchTokens(ctx context.Context, used map[int64]time.Time) error
	// TokenRevision returns a number that increases with every
	// revocation, made by any process sharing the store, once it has
	// committed: a cache of token look-ups that saw the revision before a
	// look-up, and sees it unchanged later, knows that no token was
	// revoked since. It is the one check an authenticated request makes
	// when its token is cached, so it is cheap: a read of one row, or none.
	TokenRevision(ctx context.Context) (int64, error)
	// BootstrapToken makes the token with that hash a usable ADMIN token of
	// user "admin" marked Bootstrap, unless it was revoked: a revoked
	// value stays revoked. When the value is new, the previous bootstrap
	// tokens are revoked in the same transaction. Several processes may
	// bootstrap the same value at once.
	BootstrapToken(ctx context.Context, hash TokenHash) (BootstrapResult, error)
}

// UsableTokenUser is how stores implement Store.UserByToken over
// TokenStore.TokenByHash: the user and role of a token usable at now.
func UsableTokenUser(tok Token, u User, err error, now time.Time) (User, Role, error) {
	if err != nil {
		return User{}, "", err
	}
	if err := tok.Usable(now); err != nil {
		return User{}, "", err
	}
	return u, tok.Role, nil
}

// Clock returns the current time; stores take one (SetClock) so that tests
// can move time forward to an expiry rather than wait for it.
type Clock func() time.Time

// Now returns c's time, or the system's when c is nil, in UTC to the
// microsecond as stores keep times.
func (c Clock) Now() time.Time {
	var t time.Time
	if c == nil {
		t = time.Now()
	} else {
		t = c()
	}
	return t.UTC().Truncate(time.Microsecond)
}

// SettableClock is a store's clock: the system's until a test sets
// another, which it may do while the store serves. The zero value reads
// the system clock.
type SettableClock struct{ c atomic.Pointer[Clock] }

// SetClock makes the clock read the time from now, for roles and expiry:
// tests move it forward rather than wait. nil restores the system clock
// (a database's clock is never used for them).
func (s *SettableClock) SetClock(now func() time.Time) {
	c := Clock(now)
	s.c.Store(&c)
}

// Now returns the time, as Clock.Now does.
func (s *SettableClock) Now() time.Time {
	if c := s.c.Load(); c != nil {
		return c.Now()
	}
	return Clock(nil).Now()
}
