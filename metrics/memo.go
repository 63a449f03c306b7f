package metrics

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// memo keeps the children of a metric vector by their label values, so
// that a request finds its child in a map read without a lock, where
// WithLabelValues hashes the values and looks them up under a lock at
// every call. Every label takes its values from a bounded set (see the
// package's doc) and no child is ever deleted, so the map stays small and
// a child, once made, stays its vector's: the series are the same as
// through WithLabelValues.
type memo[K comparable, M any] struct {
	m     atomic.Pointer[map[K]M] // never changed once stored: copied to add
	mu    sync.Mutex              // serializes additions
	child func(K) M
}

func newMemo[K comparable, M any](child func(K) M) *memo[K, M] {
	return &memo[K, M]{child: child}
}

// get returns the child of k, made the first time k is asked for.
func (c *memo[K, M]) get(k K) M {
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
	}
	v := c.child(k)
	next := make(map[K]M, 1+len(mapOf(old)))
	for k, v := range mapOf(old) {
		next[k] = v
	}
	next[k] = v
	c.m.Store(&next)
	return v
}

func mapOf[K comparable, M any](p *map[K]M) map[K]M {
	if p == nil {
		return nil
	}
	return *p
}

// opSeries are the two series of one operation name and type.
type opSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// opLabels are the label values of an operation's series.
type opLabels struct{ op, typ string }

// httpLabels are the label values of an HTTP request's series.
type httpLabels struct{ method, path, status string }

// storeSeries are the two series of one store method.
type storeSeries struct {
	duration prometheus.Observer
	errors   prometheus.Counter
}

// newMemos makes the memos of m's vectors.
func (m *Metrics) newMemos() {
	m.opSeries = newMemo(func(l opLabels) opSeries {
		return opSeries{m.gqlRequests.WithLabelValues(l.op, l.typ), m.gqlDuration.WithLabelValues(l.op, l.typ)}
	})
	m.httpRequestSeries = newMemo(func(l httpLabels) prometheus.Counter {
		return m.httpRequests.WithLabelValues(l.method, l.path, l.status)
	})
	m.httpDurationSeries = newMemo(func(l httpLabels) prometheus.Observer {
		return m.httpDuration.WithLabelValues(l.method, l.path)
	})
	m.storeSeries = newMemo(func(method string) storeSeries {
		return storeSeries{m.storeDuration.WithLabelValues(method), m.storeErrors.WithLabelValues(method)}
	})
}
