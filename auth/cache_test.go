package auth_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"

	"itemsapi/auth"
	"itemsapi/internal/cache"
	"itemsapi/items"
	"itemsapi/store/memory"
)

type countingTokens struct {
	auth.TokenStore
	calls int
}

func (c *countingTokens) UserByToken(ctx context.Context, h items.TokenHash) (items.User, items.Role, error) {
	c.calls++
	return c.TokenStore.UserByToken(ctx, h)
}

func TestCachedTokens(t *testing.T) {
	ctx := t.Context()
	mem := memory.New()
	defer mem.Close()
	inner := &countingTokens{TokenStore: mem}
	cached := auth.CachedTokens(inner, 16*cache.EntryOverhead)

	tokens := make([]items.TokenHash, 3)
	for i, name := range []string{"ann", "ben", "cat"} {
		_, hash := items.NewToken()
		if _, err := mem.AddToken(ctx, name, items.RoleUser, hash); err != nil {
			t.Fatal(err)
		}
		tokens[i] = hash
	}
	for range 3 {
		u, role, err := cached.UserByToken(ctx, tokens[0])
		if err != nil || u.Name != "ann" || role != items.RoleUser {
			t.Fatalf("UserByToken = %v %v %v, want ann USER", u, role, err)
		}
	}
	if inner.calls != 1 {
		t.Errorf("3 lookups of one token made %d store calls, want 1", inner.calls)
	}

	// An unknown token is asked every time: it may be created meanwhile.
	_, unknown := items.NewToken()
	for range 2 {
		if _, _, err := cached.UserByToken(ctx, unknown); items.ErrorCode(err) != items.Unauthenticated {
			t.Fatalf("unknown token: %v, want UNAUTHENTICATED", err)
		}
	}
	if _, err := mem.AddToken(ctx, "dan", items.RoleAdmin, unknown); err != nil {
		t.Fatal(err)
	}
	if u, role, err := cached.UserByToken(ctx, unknown); err != nil || u.Name != "dan" || role != items.RoleAdmin {
		t.Errorf("a token created after a miss: %v %v %v, want dan ADMIN", u, role, err)
	}

	// Bounded: more tokens than it holds still all answer.
	for _, h := range tokens {
		if _, _, err := cached.UserByToken(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
}

// namedTokens knows every token, each of a user with a long name.
type namedTokens struct{}

func (namedTokens) UserByToken(_ context.Context, h items.TokenHash) (items.User, items.Role, error) {
	name := fmt.Sprintf("%x", h[:]) // 64 bytes, the longest name
	return items.User{ID: int64(h[0]), Name: name, Role: items.RoleUser}, items.RoleUser, nil
}

// TestCachedTokensWithinBudget looks up far more tokens than fit and
// checks that the heap grows by no more than the budget.
func TestCachedTokensWithinBudget(t *testing.T) {
	const budget = 1 << 20
	heap := func() int64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	before := heap()
	cached := auth.CachedTokens(namedTokens{}, budget)
	for i := range 50_000 { // some 25 MB if all were kept
		var h items.TokenHash
		binary.LittleEndian.PutUint64(h[:], uint64(i))
		if _, _, err := cached.UserByToken(t.Context(), h); err != nil {
			t.Fatal(err)
		}
	}
	grown := heap() - before
	runtime.KeepAlive(cached)
	t.Logf("50,000 tokens: the heap grew by %d bytes; budget %d", grown, budget)
	if grown > budget+budget/16 {
		t.Errorf("the heap grew by %d bytes, over the budget of %d", grown, budget)
	}
}
