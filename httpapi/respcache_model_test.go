package httpapi_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"testing"

	"itemsapi/httpapi"
	"itemsapi/internal/testserver"
	"itemsapi/items"
	"itemsapi/store/memory"
	"itemsapi/store/readcache"
)

// TestResponseCacheModel checks the response cache, in front of the read
// cache as the server runs them on SQLite, against the same store read
// with no cache at all: random additions, updates and deletions, each
// followed by random queries (items by ID, known or not yet; pages forward
// and backward, full and short, from cursors; searches; counts; other
// orders), each asked twice of the cached handler, whose answers must be
// the uncached handler's, byte for byte. Answers that no addition changes
// are kept across additions; this is what says they are still right.
func TestResponseCacheModel(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { responseCacheModel(t, seed) })
	}
}

func responseCacheModel(t *testing.T, seed uint64) {
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	token := addToken(t, mem, "root", items.RoleAdmin)
	logger := slog.New(slog.DiscardHandler)
	cached := httpapi.NewHandler(httpapi.DefaultConfig(), httpapi.Deps{Store: readcache.New(mem, 1<<20), Broker: mem, Logger: logger})
	cfg := httpapi.DefaultConfig()
	cfg.ResponseCacheBytes = 0
	plain := httpapi.NewHandler(cfg, httpapi.Deps{Store: mem, Broker: mem, Logger: logger})

	rng := rand.New(rand.NewPCG(seed, 99))
	ask := func(h http.Handler, tok, query string) string {
		_, body := testserver.Serve(h, tok, query, nil)
		return body
	}
	maxID := 2 // the demo items
	cursors := []string{""}
	words := []string{"a", "an", "e", "x", "pe"}
	query := func() string {
		k := rng.IntN(6)
		after := cursors[rng.IntN(len(cursors))]
		switch rng.IntN(8) {
		case 0, 1:
			return fmt.Sprintf(`{ item(id: "%d") { id name description version updatedAt } }`, 1+rng.IntN(maxID+3))
		case 2:
			return fmt.Sprintf(`{ items(first: %d, after: %q) { nodes { id name version } pageInfo { hasNextPage hasPreviousPage endCursor } } }`, k, after)
		case 3:
			return fmt.Sprintf(`{ items(first: %d) { totalCount edges { cursor node { id } } } }`, k)
		case 4:
			return fmt.Sprintf(`{ search(query: %q, first: %d, after: %q) { nodes { id name } pageInfo { hasNextPage endCursor } } }`, words[rng.IntN(len(words))], k, after)
		case 5:
			return fmt.Sprintf(`{ items(last: %d) { nodes { id } pageInfo { hasPreviousPage startCursor } } }`, k)
		case 6:
			return fmt.Sprintf(`{ items(first: %d, orderBy: {field: NAME, direction: DESC}) { nodes { id name } } }`, k)
		default:
			return fmt.Sprintf(`{ a: item(id: "%d") { name } b: items(first: %d) { nodes { id } pageInfo { hasNextPage } } }`, 1+rng.IntN(maxID+3), k)
		}
	}
	write := func() string {
		id := 1 + rng.IntN(maxID+1)
		name := []string{"Apple", "Pear", "Banana", "Peach", "Melon", "Axe"}[rng.IntN(6)]
		switch rng.IntN(4) {
		case 0:
			return fmt.Sprintf(`mutation { updateItem(id: "%d", input: {name: "%s %d"}) { id } }`, id, name, rng.IntN(100))
		case 1:
			return fmt.Sprintf(`mutation { deleteItem(id: "%d") }`, id)
		default:
			maxID++
			return fmt.Sprintf(`mutation { addItem(input: {name: "%s %d"}) { id } }`, name, maxID)
		}
	}
	var history []string
	for step := range 400 {
		if step%3 == 0 {
			ask(cached, token, write())
		}
		for range 4 {
			// Half the queries are asked again from those asked before, so
			// that answers kept before a write are asked for after it.
			q := query()
			if len(history) > 0 && rng.IntN(2) == 0 {
				q = history[rng.IntN(len(history))]
			} else if len(history) < 200 {
				history = append(history, q)
			} else {
				history[rng.IntN(len(history))] = q
			}
			want := ask(plain, "", q)
			for try := range 2 {
				if got := ask(cached, "", q); got != want {
					t.Fatalf("step %d, %s (ask %d):\n got %s\nwant %s", step, q, try+1, got, want)
				}
			}
			var page struct {
				Data map[string]struct {
					PageInfo struct{ EndCursor *string }
				}
			}
			if json.Unmarshal([]byte(want), &page) == nil {
				for _, c := range page.Data {
					if c.PageInfo.EndCursor != nil && len(cursors) < 64 {
						cursors = append(cursors, *c.PageInfo.EndCursor)
					}
				}
			}
		}
	}
}
