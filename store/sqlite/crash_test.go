package sqlite

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"itemsapi/items"
)

// crashDBEnv names the database that TestCrashChild writes to; it runs only
// when TestKillNineLosesNothing sets it.
const crashDBEnv = "ITEMS_SQLITE_CRASH_DB"

// TestKillNineLosesNothing runs TestCrashChild in a process of its own,
// which adds items from many goroutines at once, kills that process with
// SIGKILL in the middle of the load, and checks that every item whose
// AddItem returned is in the database, whole, and that the database holds
// nothing half-written.
func TestKillNineLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a child process: skipped with -short")
	}
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "items.db")
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashDBEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	const enough = 3000
	acked := make(map[int64]string)
	ack := regexp.MustCompile(`^(\d+) (.+)$`)
	timeout := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
	defer timeout.Stop()
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		m := ack.FindStringSubmatch(lines.Text())
		if m == nil {
			continue
		}
		id, _ := strconv.ParseInt(m[1], 10, 64)
		acked[id] = m[2]
		if len(acked) == enough {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
		}
		// The lines written before the kill are acknowledgements too.
	}
	_ = cmd.Wait()
	if len(acked) < enough {
		t.Fatalf("the child acknowledged %d items before it ended, want %d", len(acked), enough)
	}

	s := openAt(t, path)
	for id, name := range acked {
		it, err := s.Item(ctx, id)
		if err != nil || it.Name != name {
			t.Errorf("acknowledged item %d %q: Item() = %v, %v", id, name, it, err)
		}
	}
	names := regexp.MustCompile(`^g\d+ #\d+$`)
	var all []string
	for after := int64(len(items.DemoItems)); ; {
		page, err := s.Items(ctx, items.ItemQuery{After: after, Limit: items.MaxPageSize})
		if err != nil {
			t.Fatalf("Items() = %v", err)
		}
		if len(page) == 0 {
			break
		}
		for _, it := range page {
			if !names.MatchString(it.Name) {
				t.Errorf("item %d: name %q, not one the child wrote", it.ID, it.Name)
			}
			all = append(all, it.Name)
		}
		after = page[len(page)-1].ID
	}
	if n, err := s.CountItems(ctx, ""); err != nil || n != len(all)+len(items.DemoItems) {
		t.Errorf(`CountItems("") = %d, %v, want %d`, n, err, len(all)+len(items.DemoItems))
	}
	checkIndex(t, s)
	t.Logf("%d items acknowledged, %d stored, all acknowledged ones present after kill -9", len(acked), len(all))
}

// TestCrashChild is the process that TestKillNineLosesNothing kills: it
// adds items from 32 goroutines until then, and writes the ID and name of
// each acknowledged item on a line of its own.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashDBEnv)
	if path == "" {
		t.Skip("run by TestKillNineLosesNothing")
	}
	s := openAt(t, path)
	for g := range 32 {
		go func() {
			for i := 0; ; i++ {
				it, err := s.AddItem(t.Context(), items.NewItem{Name: fmt.Sprintf("g%d #%d", g, i)})
				if err != nil {
					fmt.Fprintf(os.Stderr, "AddItem: %v\n", err)
					os.Exit(1)
				}
				// One write per line: lines do not interleave.
				os.Stdout.WriteString(fmt.Sprintf("%d %s\n", it.ID, it.Name))
			}
		}()
	}
	select {}
}

// openAt opens the database at path and closes it when the test ends.
func openAt(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
