package auth_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"
	"time"

	"itemsapi/auth"
	"itemsapi/internal/heap"
	"itemsapi/items"
)

// namedTokens knows every token, each of a user with a long name.
type namedTokens struct{}

func (namedTokens) TokenByHash(_ context.Context, h items.TokenHash) (items.Token, items.User, error) {
	name := fmt.Sprintf("%x", h[:]) // 64 bytes, the longest name
	id := int64(binary.LittleEndian.Uint64(h[:]))
	return items.Token{ID: id, UserID: id, Role: items.RoleUser, CreatedAt: time.Now()},
		items.User{ID: id, Name: name, Role: items.RoleUser}, nil
}

func (namedTokens) TokenRevision(context.Context) (int64, error) { return 0, nil }

func (namedTokens) TouchTokens(context.Context, map[int64]time.Time) error { return nil }

// TestCachedTokensWithinBudget looks up far more tokens than fit and
// checks that the heap grows by no more than the budget.
func TestCachedTokensWithinBudget(t *testing.T) {
	const budget = 1 << 20
	before := heap.InUse()
	// No use is recorded (Check), as a flood of one-off tokens would not
	// be either past the first minute's writes.
	tokens := auth.NewTokens(namedTokens{}, auth.Options{MaxBytes: budget})
	for i := range 50_000 { // some 25 MB if all were kept
		var h items.TokenHash
		binary.LittleEndian.PutUint64(h[:], uint64(i))
		if err := tokens.Check(t.Context(), h); err != nil {
			t.Fatal(err)
		}
	}
	grown := heap.InUse() - before
	runtime.KeepAlive(tokens)
	t.Logf("50,000 tokens: the heap grew by %d bytes; budget %d", grown, budget)
	if grown > budget+budget/16 {
		t.Errorf("the heap grew by %d bytes, over the budget of %d", grown, budget)
	}
	if st := tokens.CacheStats(); st.Entries == 0 {
		t.Errorf("CacheStats() = %+v, want entries", st)
	}
}
