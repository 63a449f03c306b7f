package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"itemsapi/store/sqlite"
)

// TestKillNineLosesNothing runs the real binary, adds items from several
// clients, kills the process with SIGKILL in the middle of the load, and
// checks that every addItem that was answered with success is in the
// database, whole.
func TestKillNineLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary: skipped with -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "itemsapi")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dbPath := filepath.Join(dir, "items.db")
	cmd := exec.CommandContext(t.Context(), bin, "--addr", "127.0.0.1:0", "--db", "sqlite:"+dbPath)
	cmd.Env = append(os.Environ(), "BOOTSTRAP_ADMIN_TOKEN="+adminToken)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var url string
	select {
	case a := <-addr:
		url = "http://" + a
	case <-time.After(15 * time.Second):
		t.Fatal("the server did not listen within 15 s")
	}
	waitHealthy(t, url)

	// Clients add items until the server dies; each remembers what was
	// acknowledged.
	var (
		mu    sync.Mutex
		acked = map[string]string{} // id → name
		wg    sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	enough := make(chan struct{})
	var once sync.Once
	for c := range 8 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				name := fmt.Sprintf("client %d item %d", c, i)
				id, err := addItem(ctx, url, name)
				if err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked[id] = name
				if len(acked) >= 400 {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		})
	}
	select {
	case <-enough:
	case <-ctx.Done():
		t.Fatal("fewer than 400 items were added in 30 s")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	_ = cmd.Wait()

	store, err := sqlite.Open(t.Context(), dbPath)
	if err != nil {
		t.Fatalf("reopening after kill -9: %v", err)
	}
	defer store.Close()
	mu.Lock()
	defer mu.Unlock()
	for id, name := range acked {
		var n int64
		fmt.Sscan(id, &n)
		it, err := store.Item(t.Context(), n)
		if err != nil {
			t.Errorf("acknowledged item %s (%q) is lost: %v", id, name, err)
			continue
		}
		if it.Name != name {
			t.Errorf("item %s = %q, want %q", id, it.Name, name)
		}
	}
	t.Logf("%d acknowledged items, all present after kill -9", len(acked))
}

// addItem adds one item and returns its id once the server acknowledged it.
func addItem(ctx context.Context, url, name string) (string, error) {
	body, _ := json.Marshal(map[string]any{
		"query":     `mutation($n: String!) { addItem(input: {name: $n}) { id } }`,
		"variables": map[string]any{"n": name},
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			AddItem struct{ ID string }
		}
		Errors []any
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return "", err
	}
	if len(r.Errors) > 0 || r.Data.AddItem.ID == "" {
		return "", fmt.Errorf("addItem errors: %v", r.Errors)
	}
	return r.Data.AddItem.ID, nil
}
