package items_test

import (
	"errors"
	"sync"
	"testing"

	"itemsapi/items"
)

// TestWritesUnchanged: what a read loaded at a version may be kept only if
// no write was under way then and none began or ended since; updates and
// deletes alone change what ChangesUnchanged says.
func TestWritesUnchanged(t *testing.T) {
	w := items.NewWrites(false)
	v0 := w.Version()
	if !w.Unchanged(v0) || !w.ChangesUnchanged(v0) {
		t.Fatal("the first version is not unchanged")
	}
	add := w.Begin(items.ItemAdded)
	during := w.Version()
	if w.Unchanged(v0) || w.Unchanged(during) {
		t.Error("Unchanged during an addition, from before it or during it")
	}
	if !w.ChangesUnchanged(v0) || !w.ChangesUnchanged(during) {
		t.Error("an addition changed ChangesUnchanged")
	}
	add.End(nil)
	after := w.Version()
	if w.Unchanged(during) || !w.Unchanged(after) {
		t.Error("Unchanged: not as the addition's end left it")
	}
	update := w.Begin(items.ItemUpdated)
	if w.ChangesUnchanged(after) || w.ChangesUnchanged(w.Version()) {
		t.Error("ChangesUnchanged during an update")
	}
	update.End(errors.New("refused"))
	if got := w.Version(); got.Seq != 4 || got.Changes != 2 || got.Added != 1 || got.Failed != 1 || !got.Quiet() {
		t.Errorf("version = %+v, want 4 versions on, 2 changes, 1 added, 1 failed, quiet", *got)
	}
	if w.Shared() || !items.NewWrites(true).Shared() {
		t.Error("Shared is not what NewWrites was told")
	}
}

// TestWritesConcurrent: writes begun and ended at once are all counted.
func TestWritesConcurrent(t *testing.T) {
	w := items.NewWrites(false)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				w.Begin(items.ItemAdded).End(nil)
				w.Begin(items.ItemDeleted).End(nil)
			}
		})
	}
	wg.Wait()
	if got := w.Version(); got.Added != 800 || got.Deleted != 800 || got.Seq != 3200 || got.Changes != 1600 || !got.Quiet() {
		t.Errorf("version = %+v, want 800 added and deleted, 3,200 versions, 1,600 changes, quiet", *got)
	}
}
