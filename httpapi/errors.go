package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"

	"itemsapi/items"
)

// writeError answers a request that never reached GraphQL execution with
// a GraphQL-shaped error body that carries code's public code, and no
// data key. The status is code.Status() or one that says more (a
// BadRequest may be a 413, a 429, a 503, …).
func writeError(w http.ResponseWriter, status int, code items.Code, message string) {
	body, _ := json.Marshal(map[string]any{
		"errors": []map[string]any{{
			"message":    message,
			"extensions": code.Extensions(),
		}},
	})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// byteSize writes n bytes for people: 2 MiB, 512 KiB, 100 bytes.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
