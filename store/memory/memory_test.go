package memory_test

import (
	"testing"

	"itemsapi/items"
	"itemsapi/store/memory"
	"itemsapi/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) items.Store {
		s := memory.New()
		t.Cleanup(func() { s.Close() })
		return s
	}, storetest.LogInIDOrder())
}

// TestDescriptionNotShared checks that neither the store nor a caller can
// change a description through a pointer the other holds.
func TestDescriptionNotShared(t *testing.T) {
	s := memory.New()
	t.Cleanup(func() { s.Close() })
	desc := "original"
	added, err := s.AddItem(t.Context(), items.NewItem{Name: "x", Description: &desc})
	if err != nil {
		t.Fatalf("AddItem() = %v", err)
	}
	desc = "changed by the caller"
	*added.Description = "changed through the result"
	got, err := s.Item(t.Context(), added.ID)
	if err != nil {
		t.Fatalf("Item(%d) = %v", added.ID, err)
	}
	if got.Description == nil || *got.Description != "original" {
		t.Errorf("Item(%d).Description = %v, want %q", added.ID, got.Description, "original")
	}
}
