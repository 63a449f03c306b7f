package httpapi

import (
	"bytes"
	"context"
	"hash/maphash"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
	"unsafe"

	"itemsapi/internal/cache"
	"itemsapi/items"
	"itemsapi/metrics"
)

// The response cache answers a query that was answered before, byte for
// byte the same request, with the bytes of that answer, without parsing,
// validating or running anything, as long as no write has happened since.
//
// Exact: it keys on the store's versions (items.Writes), which every write
// replaces when it begins and again once it has committed, before it is
// published to subscribers or returns. An answer is kept with the version
// read before its request ran, if no write was under way then nor began
// meanwhile, and served only while that version is current. An answer
// whose every read of items was one that no addition changes (an item
// found by ID, a full page in ID order: see items.ReadNote) is kept with
// the count of updates and deletions instead, and served until the next
// one: additions, which real traffic makes all the time, leave it. A request
// that starts after a write returned, or after a subscriber got its event,
// therefore never gets an answer made before it. This holds where this
// process makes every write (SQLite, memory): where other processes write
// too (PostgreSQL, whose writes are Shared), the server turns the cache
// off.
//
// Only answers that depend on nothing but the items are kept: queries
// without errors that select no @auth field and no User (see
// graph.CallerIndependent), sent as a POST with an application/json body
// of at most maxKeyBytes, or as a GET, without a graphql-sse stream token. Their key is the method, the Accept
// header and the body or query string. Batches are not kept.
//
// Bounded: the keys and bodies kept are weighed in bytes in the service's
// one cache (see internal/cache), within maxBytes; an answer larger than a
// sixteenth of it is not kept. Entries are found by a hash of their key,
// and the key kept with the entry is compared, so a hit costs no
// allocation and a collision is a miss.

// maxKeyBytes bounds the request bodies the cache considers.
const maxKeyBytes = 8 << 10

type responseCache struct {
	writes  *items.Writes
	metrics *metrics.Metrics
	seed    maphash.Seed
	entries *cache.Cache[uint64, *cachedResponse]

	keys sync.Pool // *[]byte buffers for building keys
}

type cachedResponse struct {
	key string
	seq uint64 // the items.WriteVersion it was made at
	// stable: no addition changes the answer, which stays current while
	// the version's Changes is changes.
	stable    bool
	changes   uint64
	body      []byte
	operation string
	// The header values of the answer, shared by every response that
	// serves it: nothing changes a header once the answer is written.
	contentType, cacheControl []string
	contentLength             []string // see setLength
}

// cost is what e holds besides the cache's overhead: its strings and
// slices, and the headers' slices and strings.
func (e *cachedResponse) cost() int64 {
	return int64(unsafe.Sizeof(*e) + uintptr(len(e.key)+len(e.body)+len(e.operation)) + 128)
}

func newResponseCache(maxBytes int64, writes *items.Writes, m *metrics.Metrics) *responseCache {
	c := &responseCache{
		writes:  writes,
		metrics: m,
		seed:    maphash.MakeSeed(),
		entries: cache.New[uint64, *cachedResponse](cache.Config{MaxBytes: maxBytes, MaxEntryBytes: maxBytes / 16}),
	}
	c.keys.New = func() any { b := make([]byte, 0, 1024); return &b }
	return c
}

// cacheNote is how the transport hands the cache an answer that may be
// kept: the body of a 200 that it writes in one piece.
type cacheNote struct {
	body      []byte // nil: not to be kept
	operation string
}

type cacheNoteKey struct{}

// noteCacheable hands the cache body, the answer to the request of ctx,
// to keep if the request is one the cache considers. The transport writes
// body as it is, and does not change it after.
func noteCacheable(ctx context.Context, operation string, body []byte) {
	if n, ok := ctx.Value(cacheNoteKey{}).(*cacheNote); ok {
		n.body = body
		n.operation = operation
	}
}

// cachesBodies reports whether the response cache may keep the answer of
// ctx's request (noteCacheable keeps its body).
func cachesBodies(ctx context.Context) bool {
	_, ok := ctx.Value(cacheNoteKey{}).(*cacheNote)
	return ok
}

// middleware serves the requests it holds an answer for and keeps the
// answers it may.
func (c *responseCache) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		bufp := c.keys.Get().(*[]byte)
		key, body, ok := c.key(r, (*bufp)[:0])
		if !ok {
			c.keys.Put(bufp)
			next.ServeHTTP(w, r)
			return
		}
		v := c.writes.Version()
		if e := c.lookup(key, v); e != nil {
			*bufp = key
			c.keys.Put(bufp)
			c.serve(w, r, e, start)
			return
		}
		keyStr := string(key)
		if body != nil {
			r.Body = io.NopCloser(&bodyReader{b: append([]byte(nil), body...)})
		}
		*bufp = key
		c.keys.Put(bufp)
		note := &cacheNote{}
		ctx, reads := items.WithReadNote(context.WithValue(r.Context(), cacheNoteKey{}, note))
		next.ServeHTTP(w, r.WithContext(ctx))
		if note.body == nil {
			return
		}
		e := &cachedResponse{
			seq:          v.Seq,
			contentType:  slices.Clone(w.Header().Values("Content-Type")),
			cacheControl: slices.Clone(w.Header().Values("Cache-Control")),
			body:         note.body,
			operation:    note.operation,
		}
		e.contentLength = contentLength(len(e.body))
		switch {
		case reads.StableAcrossAdditions() && c.writes.ChangesUnchanged(v):
			e.stable, e.changes = true, v.Changes
		case !c.writes.Unchanged(v):
			return
		}
		c.store(keyStr, e)
	})
}

// key builds the key of r into buf. For a POST it reads the body, which
// it returns for the handler to read in turn; ok is false for a request
// the cache does not consider.
func (c *responseCache) key(r *http.Request, buf []byte) (key, body []byte, ok bool) {
	if streamToken(r) != "" {
		// An operation of a reserved graphql-sse stream: its answer is a
		// 202 and events on that stream, whatever the cache holds for
		// the same body.
		return nil, nil, false
	}
	accept := r.Header.Get("Accept")
	switch r.Method {
	case http.MethodGet:
		if r.Header.Get("Upgrade") != "" || len(r.URL.RawQuery) > maxKeyBytes {
			return nil, nil, false
		}
		buf = append(buf, "GET\x00"...)
		buf = append(buf, accept...)
		buf = append(buf, 0)
		return append(buf, r.URL.RawQuery...), nil, true
	case http.MethodPost:
		if r.ContentLength <= 0 || r.ContentLength > maxKeyBytes || checkContentType(r.Header.Get("Content-Type")) != nil {
			// The transport refuses what it does not take: a request
			// it would refuse is never answered from here.
			return nil, nil, false
		}
		buf = append(buf, "POST\x00"...)
		buf = append(buf, accept...)
		buf = append(buf, 0)
		head := len(buf)
		buf = append(buf, make([]byte, r.ContentLength)...)
		if _, err := io.ReadFull(r.Body, buf[head:]); err != nil {
			return nil, nil, false // the transport answers the short body
		}
		if buf[head] == '[' || bytes.Contains(buf[head:], []byte("mutation")) {
			// A batch, or (most likely) a mutation: not kept, but its
			// body has been read. A query that merely holds the word
			// is only answered without the cache.
			body = append([]byte(nil), buf[head:]...)
			r.Body = io.NopCloser(&bodyReader{b: body})
			return nil, nil, false
		}
		return buf, buf[head:], true
	}
	return nil, nil, false
}

// lookup returns the answer kept for key that is current at v, or nil.
func (c *responseCache) lookup(key []byte, v *items.WriteVersion) *cachedResponse {
	e, ok := c.entries.Get(maphash.Bytes(c.seed, key))
	if !ok || e.key != string(key) || !(e.seq == v.Seq || e.stable && e.changes == v.Changes) {
		return nil
	}
	return e
}

func (c *responseCache) serve(w http.ResponseWriter, r *http.Request, e *cachedResponse, start time.Time) {
	h := w.Header()
	h["Content-Type"] = e.contentType
	if e.cacheControl != nil {
		h["Cache-Control"] = e.cacheControl
	}
	if e.contentLength != nil {
		h["Content-Length"] = e.contentLength
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(e.body)
	setOperation(r.Context(), e.operation)
	if c.metrics != nil {
		c.metrics.CachedResponse(e.operation, time.Since(start))
	}
}

// store keeps e under key, unless a newer answer is kept already.
func (c *responseCache) store(key string, e *cachedResponse) {
	e.key = key
	h := maphash.String(c.seed, key)
	if old, ok := c.entries.Peek(h); ok && old.key == key && old.seq > e.seq {
		return
	}
	c.entries.Set(h, e, e.cost())
}

// bodyReader is a bytes.Reader without the methods the transport does not
// need.
type bodyReader struct {
	b []byte
	i int
}

func (r *bodyReader) Read(p []byte) (int, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.i:])
	r.i += n
	return n, nil
}
