package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"itemsapi/items"
)

// Clocked is a store whose clock a test can set, to move to an expiry
// rather than wait for it.
type Clocked interface {
	SetClock(now func() time.Time)
}

// FakeClock is a clock that moves only when told, safe for concurrent use.
type FakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewFakeClock returns a clock at the system's time, to the microsecond.
func NewFakeClock() *FakeClock {
	return &FakeClock{t: time.Now().UTC().Truncate(time.Microsecond)}
}

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock forward by d.
func (c *FakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// runTokens adds the token lifecycle cases to Run.
func runTokens(t *testing.T, newStore func(t *testing.T) items.Store) {
	runCases(t, newStore, []storeCase{
		{"CreateToken", testCreateToken},
		{"TokensPages", testTokensPages},
		{"RevokeToken", testRevokeToken},
		{"ExpiredToken", testExpiredToken},
		{"ConcurrentRevoke", testConcurrentRevoke},
		{"LastAdmin", testLastAdmin},
		{"RoleFromUsableTokens", testRoleFromUsableTokens},
		{"TouchTokens", testTouchTokens},
		{"BootstrapToken", testBootstrapToken},
		{"ConcurrentBootstrap", testConcurrentBootstrap},
	})
}

// CreateToken makes a token for the user with that name and fails t on
// error.
func CreateToken(t testing.TB, s items.Store, name string, role items.Role, expiresAt *time.Time) (items.Token, string) {
	t.Helper()
	tok, secret, err := s.CreateToken(t.Context(), items.NewTokenRequest{UserName: name, Role: role, ExpiresAt: expiresAt})
	if err != nil {
		t.Fatalf("CreateToken(%q, %v) = %v", name, role, err)
	}
	return tok, secret
}

func setClock(t *testing.T, s items.Store) *FakeClock {
	t.Helper()
	c, ok := s.(Clocked)
	if !ok {
		t.Skip("the store has no clock to set (SetClock)")
	}
	clock := NewFakeClock()
	c.SetClock(clock.Now)
	return clock
}

func testCreateToken(t *testing.T, s items.Store) {
	ctx := t.Context()
	clock := setClock(t, s)
	old, oldHash := AddUser(t, s, "ann", items.RoleUser)
	exp := clock.Now().Add(time.Hour)
	tok, secret := CreateToken(t, s, "ann", items.RoleAdmin, &exp)
	if tok.ID <= 0 || tok.UserID != old.ID || tok.Role != items.RoleAdmin || !tok.CreatedAt.Equal(clock.Now()) ||
		tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(exp) || tok.RevokedAt != nil || tok.LastUsedAt != nil || tok.Bootstrap {
		t.Errorf("CreateToken(ann, ADMIN, +1h) = %+v", tok)
	}
	if id, ok := items.TokenIDFromPrefix(secret); !ok || id != tok.ID {
		t.Errorf("TokenIDFromPrefix(the token) = %d, %v; want %d, true", id, ok, tok.ID)
	}
	got, u, err := s.TokenByHash(ctx, items.HashToken(secret))
	if err != nil {
		t.Fatalf("TokenByHash(new token) = %v", err)
	}
	if diff := cmp.Diff(tok, got); diff != "" {
		t.Errorf("TokenByHash(new token) mismatch (-created +got):\n%s", diff)
	}
	if want := (items.User{ID: old.ID, Name: "ann", Role: items.RoleAdmin}); u != want {
		t.Errorf("TokenByHash(new token) user = %v, want %v", u, want)
	}
	if byID, err := s.Token(ctx, tok.ID); err != nil || !cmp.Equal(tok, byID) {
		t.Errorf("Token(%d) = %+v, %v; want %+v", tok.ID, byID, err, tok)
	}
	// The token added by hash before has an ID too, a smaller one.
	first, _, err := s.TokenByHash(ctx, oldHash)
	if err != nil || first.ID <= 0 || first.ID >= tok.ID || first.ExpiresAt != nil {
		t.Errorf("TokenByHash(older token) = %+v, %v; want an ID below %d and no expiry", first, err, tok.ID)
	}
	next, _ := CreateToken(t, s, "newbie", items.RoleUser, nil)
	if next.ID <= tok.ID || next.ExpiresAt != nil {
		t.Errorf("CreateToken(newbie) = %+v, want an ID above %d and no expiry", next, tok.ID)
	}
	if _, err := s.Token(ctx, next.ID+100); items.ErrorCode(err) != items.NotFound {
		t.Errorf("Token(unknown) = %v, want code %s", err, items.NotFound)
	}
	for _, name := range []string{"", "bad name", "\u0430dmin"} {
		if _, _, err := s.CreateToken(ctx, items.NewTokenRequest{UserName: name, Role: items.RoleUser}); items.ErrorCode(err) != items.Invalid {
			t.Errorf("CreateToken(%q) = %v, want code %s", name, err, items.Invalid)
		}
	}
	if _, _, err := s.CreateToken(ctx, items.NewTokenRequest{UserName: "x", Role: "ROOT"}); items.ErrorCode(err) != items.Invalid {
		t.Errorf("CreateToken(role ROOT) = %v, want code %s", err, items.Invalid)
	}
	if u, err := s.UserByName(ctx, "ANN"); err != nil || u.ID != old.ID || u.Role != items.RoleAdmin {
		t.Errorf("UserByName(ANN) = %v, %v; want ann, ADMIN", u, err)
	}
	if _, err := s.UserByName(ctx, "nobody"); items.ErrorCode(err) != items.NotFound {
		t.Errorf("UserByName(nobody) = %v, want code %s", err, items.NotFound)
	}
}

func testTokensPages(t *testing.T, s items.Store) {
	ctx := t.Context()
	var ann, all []int64
	for i := range 7 {
		name := "ann"
		if i%2 == 1 {
			name = "ben"
		}
		tok, _ := CreateToken(t, s, name, items.RoleUser, nil)
		all = append(all, tok.ID)
		if name == "ann" {
			ann = append(ann, tok.ID)
		}
	}
	annUser, err := s.UserByName(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	walk := func(userID int64, size int) []int64 {
		var ids []int64
		after := int64(0)
		for range 20 {
			page, err := s.Tokens(ctx, items.TokenQuery{UserID: userID, After: after, Limit: size})
			if err != nil {
				t.Fatalf("Tokens(user %d, after %d, limit %d) = %v", userID, after, size, err)
			}
			for _, tok := range page {
				if userID > 0 && tok.UserID != userID {
					t.Errorf("Tokens(user %d) returned a token of user %d", userID, tok.UserID)
				}
				ids = append(ids, tok.ID)
			}
			if len(page) < size {
				return ids
			}
			after = page[len(page)-1].ID
		}
		t.Fatalf("Tokens never ended")
		return nil
	}
	for _, size := range []int{1, 2, 3, 100} {
		if diff := cmp.Diff(all, walk(0, size)); diff != "" {
			t.Errorf("all tokens by %d (-want +got):\n%s", size, diff)
		}
		if diff := cmp.Diff(ann, walk(annUser.ID, size)); diff != "" {
			t.Errorf("ann's tokens by %d (-want +got):\n%s", size, diff)
		}
	}
	if page, err := s.Tokens(ctx, items.TokenQuery{UserID: 1 << 40, Limit: 10}); err != nil || len(page) != 0 {
		t.Errorf("Tokens(unknown user) = %v, %v; want none", page, err)
	}
	if _, err := s.Tokens(ctx, items.TokenQuery{Limit: items.MaxPageSize + 2}); items.ErrorCode(err) != items.Invalid {
		t.Errorf("Tokens(limit %d) = %v, want code %s", items.MaxPageSize+2, err, items.Invalid)
	}
	for _, tt := range []struct {
		user int64
		want int
	}{{0, len(all)}, {annUser.ID, len(ann)}, {1 << 40, 0}} {
		if n, err := s.CountTokens(ctx, tt.user); err != nil || n != tt.want {
			t.Errorf("CountTokens(%d) = %d, %v; want %d", tt.user, n, err, tt.want)
		}
	}
}

func revision(t testing.TB, s items.Store) int64 {
	t.Helper()
	rev, err := s.TokenRevision(t.Context())
	if err != nil {
		t.Fatalf("TokenRevision() = %v", err)
	}
	return rev
}

func testRevokeToken(t *testing.T, s items.Store) {
	ctx := t.Context()
	clock := setClock(t, s)
	tok, secret := CreateToken(t, s, "cat", items.RoleUser, nil)
	hash := items.HashToken(secret)
	before := revision(t, s)
	revoked, err := s.RevokeToken(ctx, tok.ID, true)
	if err != nil {
		t.Fatalf("RevokeToken(%d) = %v", tok.ID, err)
	}
	if revoked.RevokedAt == nil || !revoked.RevokedAt.Equal(clock.Now()) || revoked.ID != tok.ID {
		t.Errorf("RevokeToken(%d) = %+v, want it revoked now (%v)", tok.ID, revoked, clock.Now())
	}
	after := revision(t, s)
	if after <= before {
		t.Errorf("TokenRevision() after a revocation = %d, want more than %d", after, before)
	}
	if _, _, err := s.UserByToken(ctx, hash); !errors.Is(err, items.ErrTokenRevoked) {
		t.Errorf("UserByToken(revoked) = %v, want %v", err, items.ErrTokenRevoked)
	}
	if got, _, err := s.TokenByHash(ctx, hash); err != nil || got.RevokedAt == nil {
		t.Errorf("TokenByHash(revoked) = %+v, %v; want it, revoked", got, err)
	}
	// Again, later: the first revocation's time stays, and nothing changed.
	clock.Add(time.Hour)
	again, err := s.RevokeToken(ctx, tok.ID, true)
	if err != nil || again.RevokedAt == nil || !again.RevokedAt.Equal(*revoked.RevokedAt) {
		t.Errorf("RevokeToken(%d) again = %+v, %v; want RevokedAt %v kept", tok.ID, again, err, revoked.RevokedAt)
	}
	if got := revision(t, s); got != after {
		t.Errorf("TokenRevision() after revoking again = %d, want %d unchanged", got, after)
	}
	if _, err := s.RevokeToken(ctx, tok.ID+1000, true); items.ErrorCode(err) != items.NotFound {
		t.Errorf("RevokeToken(unknown) = %v, want code %s", err, items.NotFound)
	}
	// Tokens added by hash are revoked the same way.
	_, h2 := AddUser(t, s, "cat", items.RoleUser)
	old, _, err := s.TokenByHash(ctx, h2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeToken(ctx, old.ID, true); err != nil {
		t.Fatalf("RevokeToken(token added by hash) = %v", err)
	}
	if _, _, err := s.UserByToken(ctx, h2); !errors.Is(err, items.ErrTokenRevoked) {
		t.Errorf("UserByToken(revoked) = %v, want %v", err, items.ErrTokenRevoked)
	}
}

func testExpiredToken(t *testing.T, s items.Store) {
	ctx := t.Context()
	clock := setClock(t, s)
	past := clock.Now().Add(-time.Minute)
	gone, secret := CreateToken(t, s, "dan", items.RoleAdmin, &past)
	if _, _, err := s.UserByToken(ctx, items.HashToken(secret)); !errors.Is(err, items.ErrTokenExpired) {
		t.Errorf("UserByToken(expired) = %v, want %v", err, items.ErrTokenExpired)
	}
	got, u, err := s.TokenByHash(ctx, items.HashToken(secret))
	if err != nil || got.ID != gone.ID || u.Role != items.RoleUser {
		t.Errorf("TokenByHash(expired ADMIN token) = %+v, %v, %v; want it, with the user's role USER", got, u, err)
	}
	soon := clock.Now().Add(time.Hour)
	_, secret = CreateToken(t, s, "dan", items.RoleUser, &soon)
	if _, _, err := s.UserByToken(ctx, items.HashToken(secret)); err != nil {
		t.Errorf("UserByToken(expiring in an hour) = %v", err)
	}
	clock.Add(time.Hour) // exactly at the expiry: expired
	if _, _, err := s.UserByToken(ctx, items.HashToken(secret)); !errors.Is(err, items.ErrTokenExpired) {
		t.Errorf("UserByToken(at its expiry) = %v, want %v", err, items.ErrTokenExpired)
	}
}

func testConcurrentRevoke(t *testing.T, s items.Store) {
	ctx := t.Context()
	// The same token, many times at once: one revocation time for all.
	tok, _ := CreateToken(t, s, "eve", items.RoleUser, nil)
	const n = 8
	var wg sync.WaitGroup
	times := make([]*time.Time, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			r, err := s.RevokeToken(ctx, tok.ID, true)
			times[i], errs[i] = r.RevokedAt, err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || times[i] == nil || !times[i].Equal(*times[0]) {
			t.Errorf("RevokeToken %d = %v, %v; want %v", i, times[i], errs[i], times[0])
		}
	}
	// The last two ADMIN tokens at once: one stays.
	a, _ := CreateToken(t, s, "root1", items.RoleAdmin, nil)
	b, _ := CreateToken(t, s, "root2", items.RoleAdmin, nil)
	var errA, errB error
	wg.Go(func() { _, errA = s.RevokeToken(ctx, a.ID, true) })
	wg.Go(func() { _, errB = s.RevokeToken(ctx, b.ID, true) })
	wg.Wait()
	if (errA == nil) == (errB == nil) {
		t.Fatalf("revoking the last two ADMIN tokens at once = %v, %v; want one refused with ErrLastAdmin", errA, errB)
	}
	if err := errors.Join(errA, errB); !errors.Is(err, items.ErrLastAdmin) {
		t.Errorf("the refusal = %v, want %v", err, items.ErrLastAdmin)
	}
}

func testLastAdmin(t *testing.T, s items.Store) {
	ctx := t.Context()
	clock := setClock(t, s)
	user, _ := CreateToken(t, s, "fay", items.RoleUser, nil)
	// No ADMIN token at all: a USER token is no admin's.
	if _, err := s.RevokeToken(ctx, user.ID, true); err != nil {
		t.Errorf("RevokeToken(USER token, none ADMIN) = %v", err)
	}
	soon := clock.Now().Add(time.Minute)
	expiring, _ := CreateToken(t, s, "gil", items.RoleAdmin, &soon)
	admin, _ := CreateToken(t, s, "hal", items.RoleAdmin, nil)
	clock.Add(time.Hour) // gil's token has expired: it does not count
	if _, err := s.RevokeToken(ctx, admin.ID, true); !errors.Is(err, items.ErrLastAdmin) || items.ErrorCode(err) != items.Invalid {
		t.Fatalf("RevokeToken(last usable ADMIN) = %v, want %v", err, items.ErrLastAdmin)
	}
	if got, err := s.Token(ctx, admin.ID); err != nil || got.RevokedAt != nil {
		t.Errorf("after a refused revocation, Token = %+v, %v; want it unrevoked", got, err)
	}
	// An expired ADMIN token is not the last usable one.
	if _, err := s.RevokeToken(ctx, expiring.ID, true); err != nil {
		t.Errorf("RevokeToken(expired ADMIN) = %v", err)
	}
	other, _ := CreateToken(t, s, "ivy", items.RoleAdmin, nil)
	if _, err := s.RevokeToken(ctx, admin.ID, true); err != nil {
		t.Errorf("RevokeToken(ADMIN, another left) = %v", err)
	}
	// Without the rule (the CLI), the last goes too.
	if _, err := s.RevokeToken(ctx, other.ID, false); err != nil {
		t.Errorf("RevokeToken(last ADMIN, keepLastAdmin false) = %v", err)
	}
}

func testRoleFromUsableTokens(t *testing.T, s items.Store) {
	ctx := t.Context()
	clock := setClock(t, s)
	userTok, secret := CreateToken(t, s, "jo", items.RoleUser, nil)
	role := func(when string, want items.Role) {
		t.Helper()
		users, err := s.Users(ctx, []int64{userTok.UserID})
		if err != nil || len(users) != 1 || users[0].Role != want {
			t.Errorf("%s: Users(jo) = %v, %v; want role %s", when, users, err, want)
		}
		if u, err := s.UserByName(ctx, "jo"); err != nil || u.Role != want {
			t.Errorf("%s: UserByName(jo) = %v, %v; want role %s", when, u, err, want)
		}
		if _, u, err := s.TokenByHash(ctx, items.HashToken(secret)); err != nil || u.Role != want {
			t.Errorf("%s: TokenByHash(jo's USER token) user = %v, %v; want role %s", when, u, err, want)
		}
	}
	role("one USER token", items.RoleUser)
	exp := clock.Now().Add(time.Hour)
	admin, _ := CreateToken(t, s, "jo", items.RoleAdmin, &exp)
	role("an ADMIN token expiring in an hour", items.RoleAdmin)
	clock.Add(2 * time.Hour)
	role("once it expired, with no write", items.RoleUser)
	admin2, _ := CreateToken(t, s, "jo", items.RoleAdmin, nil)
	role("a second ADMIN token", items.RoleAdmin)
	if _, err := s.RevokeToken(ctx, admin2.ID, false); err != nil {
		t.Fatal(err)
	}
	role("the second revoked", items.RoleUser)
	_ = admin
}

func testTouchTokens(t *testing.T, s items.Store) {
	ctx := t.Context()
	a, _ := CreateToken(t, s, "kim", items.RoleUser, nil)
	b, _ := CreateToken(t, s, "kim", items.RoleUser, nil)
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	if err := s.TouchTokens(ctx, map[int64]time.Time{a.ID: t0, b.ID: t0, b.ID + 1000: t0}); err != nil {
		t.Fatalf("TouchTokens = %v", err)
	}
	if err := s.TouchTokens(ctx, map[int64]time.Time{a.ID: t0.Add(time.Minute), b.ID: t0.Add(-time.Minute)}); err != nil {
		t.Fatalf("TouchTokens = %v", err)
	}
	for id, want := range map[int64]time.Time{a.ID: t0.Add(time.Minute), b.ID: t0} {
		got, err := s.Token(ctx, id)
		if err != nil || got.LastUsedAt == nil || !got.LastUsedAt.Equal(want) {
			t.Errorf("Token(%d).LastUsedAt = %v, %v; want %v", id, got.LastUsedAt, err, want)
		}
	}
	if err := s.TouchTokens(ctx, nil); err != nil {
		t.Errorf("TouchTokens(nil) = %v", err)
	}
}

func testBootstrapToken(t *testing.T, s items.Store) {
	ctx := t.Context()
	first := items.HashToken("first bootstrap value")
	res, err := s.BootstrapToken(ctx, first)
	if err != nil || !res.Created || res.Revoked || res.RevokedPrevious != 0 || !res.Token.Bootstrap || res.Token.Role != items.RoleAdmin {
		t.Fatalf("BootstrapToken(new) = %+v, %v", res, err)
	}
	if u, role, err := s.UserByToken(ctx, first); err != nil || u.Name != "admin" || role != items.RoleAdmin {
		t.Errorf("UserByToken(bootstrap) = %v, %v, %v; want admin, ADMIN", u, role, err)
	}
	again, err := s.BootstrapToken(ctx, first)
	if err != nil || again.Created || again.Revoked || again.Token.ID != res.Token.ID {
		t.Errorf("BootstrapToken(same value) = %+v, %v; want token %d kept", again, err, res.Token.ID)
	}
	before := revision(t, s)
	second := items.HashToken("second bootstrap value")
	res2, err := s.BootstrapToken(ctx, second)
	if err != nil || !res2.Created || res2.RevokedPrevious != 1 {
		t.Fatalf("BootstrapToken(new value) = %+v, %v; want created, 1 previous revoked", res2, err)
	}
	if revision(t, s) <= before {
		t.Errorf("TokenRevision() did not increase with the previous bootstrap token's revocation")
	}
	if _, _, err := s.UserByToken(ctx, first); !errors.Is(err, items.ErrTokenRevoked) {
		t.Errorf("UserByToken(previous bootstrap value) = %v, want %v", err, items.ErrTokenRevoked)
	}
	// Back to the first value: it stays revoked, and the second stays too.
	back, err := s.BootstrapToken(ctx, first)
	if err != nil || !back.Revoked || back.Created {
		t.Errorf("BootstrapToken(revoked value) = %+v, %v; want Revoked", back, err)
	}
	if _, _, err := s.UserByToken(ctx, first); !errors.Is(err, items.ErrTokenRevoked) {
		t.Errorf("a revoked bootstrap value was revived: %v", err)
	}
	if _, _, err := s.UserByToken(ctx, second); err != nil {
		t.Errorf("UserByToken(current bootstrap value) = %v", err)
	}
	// A token added by hash before (as older servers did) is marked when
	// bootstrapped, and so revoked by the next new value.
	legacy := items.HashToken("legacy value")
	if _, err := s.AddToken(ctx, "admin", items.RoleAdmin, legacy); err != nil {
		t.Fatal(err)
	}
	if r, err := s.BootstrapToken(ctx, legacy); err != nil || r.Created || !r.Token.Bootstrap {
		t.Errorf("BootstrapToken(legacy value) = %+v, %v; want kept and marked", r, err)
	}
	if r, err := s.BootstrapToken(ctx, items.HashToken("third")); err != nil || r.RevokedPrevious != 2 {
		t.Errorf("BootstrapToken(third) = %+v, %v; want the 2 previous revoked", r, err)
	}
}

func testConcurrentBootstrap(t *testing.T, s items.Store) {
	ctx := t.Context()
	hash := items.HashToken("shared bootstrap value")
	const n = 6
	var wg sync.WaitGroup
	ids := make([]int64, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			r, err := s.BootstrapToken(ctx, hash)
			ids[i], errs[i] = r.Token.ID, err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Errorf("BootstrapToken %d = %d, %v; want token %d", i, ids[i], errs[i], ids[0])
		}
	}
	if n, err := s.CountTokens(ctx, 0); err != nil || n != 1 {
		t.Errorf("CountTokens() = %d, %v; want 1", n, err)
	}
}
