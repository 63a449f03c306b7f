package metrics_test

import (
	"testing"

	"itemsapi/internal/cache"
)

func TestCache(t *testing.T) {
	reg, m := newMetrics()
	c := cache.New[string, string](cache.Config{MaxBytes: 1 << 20})
	m.Cache("query", c.Stats)
	c.Set("a", "A", 100)
	c.Get("a")
	c.Get("b")
	for name, want := range map[string]float64{
		"itemsapi_cache_entries":      1,
		"itemsapi_cache_bytes":        100 + cache.EntryOverhead,
		"itemsapi_cache_budget_bytes": 1 << 20,
		"itemsapi_cache_hits_total":   1,
		"itemsapi_cache_misses_total": 1,
	} {
		checkSnapshot(t, reg, name, map[string]float64{"cache=query": want})
	}
}
