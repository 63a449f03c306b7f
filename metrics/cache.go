package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"itemsapi/internal/cache"
)

// caches collects, at each scrape, what each cache of the service holds
// and how it serves, under the label cache (a name the service gives,
// from a set fixed in code).
type caches struct {
	mu    sync.Mutex
	stats map[string]func() cache.Stats

	bytes, budget, entries, hits, misses, evictions *prometheus.Desc
}

func newCaches() *caches {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "cache", name), help, []string{"cache"}, nil)
	}
	return &caches{
		stats:     make(map[string]func() cache.Stats),
		bytes:     desc("bytes", "What the entries of a cache are reckoned to take on the heap, overheads included."),
		budget:    desc("budget_bytes", "The budget of a cache: its bytes never exceed it."),
		entries:   desc("entries", "Entries kept in a cache."),
		hits:      desc("hits_total", "Look-ups that found an entry."),
		misses:    desc("misses_total", "Look-ups that found none."),
		evictions: desc("evictions_total", "Entries evicted to make room."),
	}
}

// Describe implements prometheus.Collector.
func (c *caches) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.bytes, c.budget, c.entries, c.hits, c.misses, c.evictions} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *caches) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, stats := range c.stats {
		st := stats()
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(st.Bytes), name)
		ch <- prometheus.MustNewConstMetric(c.budget, prometheus.GaugeValue, float64(st.MaxBytes), name)
		ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(st.Entries), name)
		ch <- prometheus.MustNewConstMetric(c.hits, prometheus.CounterValue, float64(st.Hits), name)
		ch <- prometheus.MustNewConstMetric(c.misses, prometheus.CounterValue, float64(st.Misses), name)
		ch <- prometheus.MustNewConstMetric(c.evictions, prometheus.CounterValue, float64(st.Evictions), name)
	}
}

// Cache measures a cache under name (itemsapi_cache_bytes{cache="query"},
// …): stats is called at each scrape. A second call with the same name
// replaces the first.
func (m *Metrics) Cache(name string, stats func() cache.Stats) {
	m.caches.mu.Lock()
	defer m.caches.mu.Unlock()
	m.caches.stats[name] = stats
}
