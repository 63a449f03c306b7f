package sqlite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"itemsapi/items"
	"itemsapi/store/sqlite"
	"itemsapi/store/storetest"
)

// open opens the database at path and closes it when the test ends.
func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return s
}

// newDatabase creates a database named name in a directory of the test's
// own, closes it, and returns its path.
func newDatabase(t testing.TB, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	return path
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) items.Store {
		return open(t, filepath.Join(t.TempDir(), "items.db"))
	}, storetest.LogInIDOrder())
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "items.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	u, hash := storetest.AddUser(t, s, "alice", items.RoleAdmin)
	storetest.AddItems(t, s, "Cherry", "Date")
	desc := "with a description"
	if _, err := s.AddItem(ctx, items.NewItem{Name: "Elderberry", Description: &desc, CreatedByID: u.ID}); err != nil {
		t.Fatalf("AddItem() = %v", err)
	}
	before, err := s.Items(ctx, items.ItemQuery{Limit: items.MaxPageSize})
	if err != nil {
		t.Fatalf("Items() = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}

	s = open(t, path)
	after, err := s.Items(ctx, items.ItemQuery{Limit: items.MaxPageSize})
	if err != nil {
		t.Fatalf("Items() after reopening = %v", err)
	}
	// The demo items are not added again.
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("Items() after reopening mismatch (-before +after):\n%s", diff)
	}
	if got, role, err := s.UserByToken(ctx, hash); err != nil || got != u || role != items.RoleAdmin {
		t.Errorf("UserByToken() after reopening = %v, %v, %v, want %v, ADMIN, nil", got, role, err, u)
	}
	it := storetest.AddItems(t, s, "Fig")[0]
	if last := before[len(before)-1].ID; it.ID <= last {
		t.Errorf("AddItem() after reopening: ID %d, want above %d", it.ID, last)
	}
}

// TestResumeAfterReopen: subscriptions resume from the log the file
// keeps: after items updated and deleted before the file was closed, and
// after an ID above every ID given (the log's head and the greatest ID
// then come from the file).
func TestResumeAfterReopen(t *testing.T) {
	for name, check := range map[string]func(*testing.T, items.Store, items.Broker, func() (items.Store, items.Broker)){
		"after deleted":  storetest.ResumeAfterDeleted,
		"above every ID": storetest.ResumeAboveEveryID,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "items.db")
			s, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Fatalf("Open(%q) = %v", path, err)
			}
			check(t, s, s, func() (items.Store, items.Broker) {
				if err := s.Close(); err != nil {
					t.Fatalf("Close() = %v", err)
				}
				s := open(t, path)
				return s, s
			})
		})
	}
}

func TestOpenNewerSchema(t *testing.T) {
	path := newDatabase(t, "items.db")
	setUserVersion(t, path, 999)

	s, err := sqlite.Open(t.Context(), path)
	if !errors.Is(err, sqlite.ErrNewerSchema) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("Open() of a database with a newer schema = %v, want an error wrapping ErrNewerSchema", err)
	}
	t.Logf("Open() = %v", err)
}

func TestOpenPath(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:items.db"} {
		if s, err := sqlite.Open(t.Context(), path); err == nil {
			s.Close()
			t.Errorf("Open(%q) = nil error, want one", path)
		}
	}
	// Characters that are special in a URI stay part of the file name.
	dir := t.TempDir()
	path := filepath.Join(dir, "odd?name#with%25 chars.db")
	open(t, path)
	matches, err := filepath.Glob(filepath.Join(dir, "odd*"))
	if err != nil || len(matches) == 0 || matches[0] != path {
		t.Errorf("files in %s = %v, %v, want %s first", dir, matches, err, path)
	}
}

// TestTwoHandles opens one file twice, as two server processes would, and
// writes through both at once: the busy timeout and BEGIN IMMEDIATE make
// every write wait its turn instead of failing.
func TestTwoHandles(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "items.db")
	var stores [2]*sqlite.Store
	var wg sync.WaitGroup
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Go(func() {
			s, err := sqlite.Open(ctx, path)
			if err == nil {
				t.Cleanup(func() { s.Close() })
			}
			stores[i], errs[i] = s, err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open() %d = %v", i, err)
		}
	}

	const perStore = 40
	_, shared := items.NewToken()
	var mu sync.Mutex
	ids := make(map[int64]bool)
	users := make(map[int64]bool)
	for i, s := range stores {
		for g := range 4 {
			wg.Go(func() {
				u, err := s.AddToken(ctx, "admin", items.RoleAdmin, shared)
				if err != nil {
					t.Errorf("store %d: AddToken() = %v", i, err)
					return
				}
				for j := range perStore / 4 {
					it, err := s.AddItem(ctx, items.NewItem{Name: fmt.Sprintf("s%d g%d #%d", i, g, j)})
					if err != nil {
						t.Errorf("store %d: AddItem() = %v", i, err)
						return
					}
					mu.Lock()
					if ids[it.ID] {
						t.Errorf("store %d: AddItem().ID = %d, assigned already", i, it.ID)
					}
					ids[it.ID] = true
					users[u.ID] = true
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if len(users) != 1 {
		t.Errorf("AddToken(admin) through two handles made %d users, want 1", len(users))
	}
	want := 2*perStore + len(items.DemoItems)
	for i, s := range stores {
		if n, err := s.CountItems(ctx, ""); err != nil || n != want {
			t.Errorf("store %d: CountItems() = %d, %v, want %d, nil", i, n, err, want)
		}
	}
}

// setUserVersion sets the schema version of the database at path, as a
// newer program would.
func setUserVersion(t *testing.T, path string, v int) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatalf("sql.Open() = %v", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
		t.Fatalf("PRAGMA user_version = %v", err)
	}
}

// TestConcurrentOpen opens a new file from several handles at once, as
// several server processes starting together would: each Open succeeds and
// the database is created, and seeded, once.
func TestConcurrentOpen(t *testing.T) {
	const rounds, handles = 20, 4
	for round := range rounds {
		path := filepath.Join(t.TempDir(), "items.db")
		stores := make([]*sqlite.Store, handles)
		errs := make([]error, handles)
		var wg sync.WaitGroup
		for i := range handles {
			wg.Go(func() { stores[i], errs[i] = sqlite.Open(t.Context(), path) })
		}
		wg.Wait()
		for i, s := range stores {
			if errs[i] != nil {
				t.Errorf("round %d: Open() %d = %v", round, i, errs[i])
				continue
			}
			if n, err := s.CountItems(t.Context(), ""); err != nil || n != len(items.DemoItems) {
				t.Errorf("round %d: CountItems() = %d, %v, want %d, nil", round, n, err, len(items.DemoItems))
			}
			if err := s.Close(); err != nil {
				t.Errorf("round %d: Close() = %v", round, err)
			}
		}
	}
}

// TestImport imports items in batches: Item, Items, the search and
// CountItems find them, the subscribers do not get them, and a batch
// with a creator that is no user fails whole.
func TestImport(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "items.db"))
	sub := storetest.Subscribe(t, s, items.FromNow)
	u, _ := storetest.AddUser(t, s, "loader", items.RoleUser)

	const n = 5_000 // holds item 4321, with the rare marker
	batch := benchItems(0, n)
	batch = append(batch,
		items.NewItem{Name: "Grüne Äpfel", Description: storetest.Ptr("described"), CreatedByID: u.ID},
		items.NewItem{Name: `100% "pure" qzx`, Description: storetest.Ptr("")},
	)
	start := time.Now().UTC().Truncate(time.Microsecond)
	for lo := 0; lo < len(batch); lo += 1000 {
		if err := s.Import(ctx, batch[lo:min(lo+1000, len(batch))]); err != nil {
			t.Fatalf("Import(%d…) = %v", lo, err)
		}
	}
	end := time.Now().UTC()
	names := []string{"Apple", "Banana"}
	for _, b := range batch {
		names = append(names, b.Name)
	}

	all := storetest.ReadAll(t, s, "", items.MaxPageSize)
	if diff := cmp.Diff(names, storetest.Names(all)); diff != "" {
		t.Fatalf("names of Items() mismatch (-want +got):\n%s", diff)
	}
	if n, err := s.CountItems(ctx, ""); err != nil || n != len(names) {
		t.Errorf(`CountItems("") = %d, %v, want %d, nil`, n, err, len(names))
	}
	for _, it := range all[len(items.DemoItems):] {
		if it.CreatedAt.Before(start) || it.CreatedAt.After(end) {
			t.Errorf("item %d: CreatedAt = %v, want between %v and %v", it.ID, it.CreatedAt, start, end)
		}
	}
	last := all[len(all)-2:]
	want := []items.Item{
		{ID: last[0].ID, Name: "Grüne Äpfel", Description: storetest.Ptr("described"), CreatedAt: last[0].CreatedAt, CreatedByID: u.ID, Version: 1},
		{ID: last[1].ID, Name: `100% "pure" qzx`, Description: storetest.Ptr(""), CreatedAt: last[1].CreatedAt, Version: 1},
	}
	for _, w := range want {
		got, err := s.Item(ctx, w.ID)
		if err != nil {
			t.Fatalf("Item(%d) = %v", w.ID, err)
		}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("Item(%d) mismatch (-want +got):\n%s", w.ID, diff)
		}
	}

	for _, q := range []struct {
		search string
		want   int
	}{
		{"QZX", 2},
		{"grüne ÄPFEL", 1},
		{`"pure"`, 1},
		{"an", containing(names, "an")},
		{"ana", containing(names, "ana")},
		{"Pomegranate", containing(names, "Pomegranate")},
	} {
		found, err := s.Items(ctx, items.ItemQuery{Search: q.search, Limit: items.MaxPageSize + 1})
		if err != nil {
			t.Fatalf("Items(Search %q) = %v", q.search, err)
		}
		if wantPage := min(q.want, items.MaxPageSize+1); len(found) != wantPage {
			t.Errorf("Items(Search %q) = %d items, want %d", q.search, len(found), wantPage)
		}
		if n, err := s.CountItems(ctx, q.search); err != nil || n != q.want {
			t.Errorf("CountItems(%q) = %d, %v, want %d, nil", q.search, n, err, q.want)
		}
	}

	bad := []items.NewItem{{Name: "fine"}, {Name: "orphan", CreatedByID: 1 << 40}}
	if err := s.Import(ctx, bad); items.ErrorCode(err) != items.Invalid {
		t.Errorf("Import() with an unknown creator = %v, want code %q", err, items.Invalid)
	}
	if n, err := s.CountItems(ctx, ""); err != nil || n != len(names) {
		t.Errorf(`CountItems("") after a failed Import = %d, %v, want %d, nil`, n, err, len(names))
	}

	// The subscription gets the imported items, in order, then the next
	// added one: the log holds every item stored.
	added := storetest.AddItems(t, s, "added")
	imported := all[len(items.DemoItems):]
	if diff := cmp.Diff(append(imported, added...), storetest.Receive(t, sub, len(imported)+1)); diff != "" {
		t.Errorf("received items mismatch (-added +received):\n%s", diff)
	}
}

// containing returns how many of names contain sub, case-insensitively.
func containing(names []string, sub string) int {
	n := 0
	for _, name := range names {
		if strings.Contains(items.FoldString(name), items.FoldString(sub)) {
			n++
		}
	}
	return n
}

// TestOpenReadOnly checks that a database the process cannot write fails
// Open, naming the file and why, rather than letting a server start whose
// every write would fail.
func TestOpenReadOnly(t *testing.T) {
	path := newDatabase(t, "ro.db")
	if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
	if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
		// Root writes a file whatever its mode: make it immutable instead.
		f.Close()
		if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
			t.Skipf("cannot make %s read-only for this user (chattr: %v %s)", path, err, out)
		}
		t.Cleanup(func() { _ = exec.Command("chattr", "-i", path).Run() })
	}
	s, err := sqlite.Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatalf("Open(read-only %q) succeeded, want an error", path)
	}
	if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "cannot be written") {
		t.Errorf("Open(read-only) = %q, want an error naming the file and that it cannot be written", msg)
	}
}
