package auth_test

import (
	"errors"
	"testing"
	"time"

	"itemsapi/auth"
	"itemsapi/internal/testserver"
	"itemsapi/items"
	"itemsapi/store/memory"
	"itemsapi/store/storetest"
)

func newTokens(t *testing.T, opts auth.Options) (*auth.Tokens, *testserver.Counting, *storetest.FakeClock) {
	t.Helper()
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	clock := storetest.NewFakeClock()
	mem.SetClock(clock.Now)
	opts.Clock = clock.Now
	if opts.MaxBytes == 0 {
		opts.MaxBytes = 1 << 20
	}
	store := &testserver.Counting{Store: mem}
	tokens := auth.NewTokens(store, opts)
	t.Cleanup(func() { tokens.Close() })
	return tokens, store, clock
}

func create(t *testing.T, s items.Store, name string, role items.Role, exp *time.Time) (items.Token, items.TokenHash) {
	t.Helper()
	tok, secret := storetest.CreateToken(t, s, name, role, exp)
	return tok, items.HashToken(secret)
}

// TestSteadyState: a remembered token costs one revision check and no
// look-up per request, which reads no row in memory and on PostgreSQL,
// one on SQLite.
func TestSteadyState(t *testing.T) {
	tokens, store, _ := newTokens(t, auth.Options{})
	ctx := t.Context()
	_, hash := create(t, store, "ann", items.RoleUser, nil)
	for range 100 {
		c, err := tokens.Authenticate(ctx, hash)
		if err != nil || c.User.Name != "ann" || c.Role != items.RoleUser {
			t.Fatalf("Authenticate = %+v, %v; want ann USER", c, err)
		}
	}
	if n := store.TokenLookups.Load(); n != 1 {
		t.Errorf("100 requests with one token made %d look-ups, want 1", n)
	}
	if n := store.TokenRevisions.Load(); n != 100 {
		t.Errorf("100 requests made %d revision checks, want 100 (one each)", n)
	}
}

func TestRevokedFromTheNextRequest(t *testing.T) {
	tokens, store, _ := newTokens(t, auth.Options{})
	ctx := t.Context()
	tok, hash := create(t, store, "ann", items.RoleUser, nil)
	_, other := create(t, store, "ben", items.RoleUser, nil)
	for _, h := range []items.TokenHash{hash, other} {
		if _, err := tokens.Authenticate(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.RevokeToken(ctx, tok.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Authenticate(ctx, hash); !errors.Is(err, items.ErrTokenRevoked) {
		t.Errorf("Authenticate(revoked) = %v, want %v", err, items.ErrTokenRevoked)
	}
	if err := tokens.Check(ctx, hash); !errors.Is(err, items.ErrTokenRevoked) {
		t.Errorf("Check(revoked) = %v, want %v", err, items.ErrTokenRevoked)
	}
	// Other tokens are looked up once again, then remembered again.
	before := store.TokenLookups.Load()
	for range 3 {
		if _, err := tokens.Authenticate(ctx, other); err != nil {
			t.Errorf("Authenticate(other) = %v", err)
		}
	}
	if n := store.TokenLookups.Load() - before; n != 1 {
		t.Errorf("after a revocation, 3 requests with another token made %d look-ups, want 1", n)
	}
}

func TestExpiredWithoutWrite(t *testing.T) {
	tokens, store, clock := newTokens(t, auth.Options{})
	ctx := t.Context()
	exp := clock.Now().Add(time.Hour)
	_, hash := create(t, store, "ann", items.RoleAdmin, &exp)
	if _, err := tokens.Authenticate(ctx, hash); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Hour)
	if _, err := tokens.Authenticate(ctx, hash); !errors.Is(err, items.ErrTokenExpired) {
		t.Errorf("Authenticate(expired) = %v, want %v", err, items.ErrTokenExpired)
	}
}

func TestUnknownNotRemembered(t *testing.T) {
	tokens, store, _ := newTokens(t, auth.Options{})
	ctx := t.Context()
	secret, hash := items.NewToken()
	if _, err := tokens.Authenticate(ctx, hash); items.ErrorCode(err) != items.Unauthenticated {
		t.Fatalf("Authenticate(unknown) = %v, want UNAUTHENTICATED", err)
	}
	if _, err := store.AddToken(ctx, "dan", items.RoleAdmin, items.HashToken(secret)); err != nil {
		t.Fatal(err)
	}
	if c, err := tokens.Authenticate(ctx, hash); err != nil || c.User.Name != "dan" || c.Role != items.RoleAdmin {
		t.Errorf("a token created after a miss: %+v, %v; want dan ADMIN", c, err)
	}
}

func TestBounded(t *testing.T) {
	tokens, store, _ := newTokens(t, auth.Options{MaxBytes: 1})
	ctx := t.Context()
	var hashes []items.TokenHash
	for _, name := range []string{"a", "b", "c", "d"} {
		_, h := create(t, store, name, items.RoleUser, nil)
		hashes = append(hashes, h)
	}
	for range 2 {
		for _, h := range hashes {
			if _, err := tokens.Authenticate(ctx, h); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestLastUsed: uses are written at most once per interval, not by the
// requests, and at Close.
func TestLastUsed(t *testing.T) {
	tokens, store, clock := newTokens(t, auth.Options{TouchInterval: time.Minute})
	ctx := t.Context()
	tok, hash := create(t, store, "ann", items.RoleUser, nil)
	for range 10 {
		if _, err := tokens.Authenticate(ctx, hash); err != nil {
			t.Fatal(err)
		}
	}
	if n := store.TokenTouches.Load(); n != 0 {
		t.Errorf("%d writes of uses within the first minute, want 0", n)
	}
	clock.Add(time.Minute)
	if _, err := tokens.Authenticate(ctx, hash); err != nil {
		t.Fatal(err)
	}
	clock.Add(10 * time.Second)
	if _, err := tokens.Authenticate(ctx, hash); err != nil {
		t.Fatal(err)
	}
	// Close waits for the write the minute started, then writes the rest.
	if err := tokens.Close(); err != nil {
		t.Fatal(err)
	}
	if n := store.TokenTouches.Load(); n != 2 {
		t.Errorf("%d writes of uses (one a minute on, one at Close), want 2", n)
	}
	if got, _ := store.Token(ctx, tok.ID); got.LastUsedAt == nil || !got.LastUsedAt.Equal(clock.Now()) {
		t.Errorf("after Close, lastUsedAt = %v, want %v", got.LastUsedAt, clock.Now())
	}
}

// TestWatch is the API the websocket transport uses: refuse a socket whose
// token is not usable, close one whose token is revoked or expires.
func TestWatch(t *testing.T) {
	tokens, store, clock := newTokens(t, auth.Options{PollInterval: 10 * time.Millisecond})
	ctx := t.Context()

	t.Run("unknown", func(t *testing.T) {
		_, h := items.NewToken()
		if _, _, err := tokens.Watch(ctx, h); items.ErrorCode(err) != items.Unauthenticated {
			t.Errorf("Watch(unknown) = %v, want UNAUTHENTICATED", err)
		}
	})
	t.Run("revoked", func(t *testing.T) {
		tok, hash := create(t, store, "ann", items.RoleUser, nil)
		c, ended, err := tokens.Watch(ctx, hash)
		if err != nil || c.Token.ID != tok.ID {
			t.Fatalf("Watch = %+v, %v", c, err)
		}
		select {
		case err := <-ended:
			t.Fatalf("ended before the revocation: %v", err)
		default:
		}
		// Revoked behind the cache's back, as another process would.
		if _, err := store.Store.RevokeToken(ctx, tok.ID, false); err != nil {
			t.Fatal(err)
		}
		checkEnded(t, ended, items.ErrTokenRevoked)
		if _, _, err := tokens.Watch(ctx, hash); !errors.Is(err, items.ErrTokenRevoked) {
			t.Errorf("Watch(revoked) = %v, want %v", err, items.ErrTokenRevoked)
		}
	})
	t.Run("expires", func(t *testing.T) {
		exp := clock.Now().Add(time.Hour)
		_, hash := create(t, store, "ben", items.RoleUser, &exp)
		_, ended, err := tokens.Watch(ctx, hash)
		if err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Hour)
		checkEnded(t, ended, items.ErrTokenExpired)
	})
	t.Run("changed", func(t *testing.T) {
		changed := tokens.Changed()
		tok, _ := create(t, store, "cat", items.RoleUser, nil)
		if _, err := store.Store.RevokeToken(ctx, tok.ID, false); err != nil {
			t.Fatal(err)
		}
		select {
		case <-changed:
		case <-time.After(time.Second):
			t.Errorf("Changed() not closed within a second of a revocation")
		}
	})
}

// checkEnded checks that a watch ends with want within a second.
func checkEnded(t *testing.T, ended <-chan error, want error) {
	t.Helper()
	select {
	case err := <-ended:
		if !errors.Is(err, want) {
			t.Errorf("ended with %v, want %v", err, want)
		}
	case <-time.After(time.Second):
		t.Errorf("not ended within a second, want %v", want)
	}
}
