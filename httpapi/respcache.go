package httpapi

import (
	"bytes"
	"context"
	"hash/maphash"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
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
// Exact: every write that goes through the store bumps a generation after
// it commits and before it returns; an answer is kept with the generation
// read before its request ran, and served only while the generation is
// unchanged. A request that starts after a write returned therefore never
// gets an answer made before it. This holds where this process makes every
// write (SQLite, memory): on PostgreSQL, where other processes write too,
// the server turns the cache off.
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
	gen     atomic.Uint64
	metrics *metrics.Metrics
	seed    maphash.Seed
	entries *cache.Cache[uint64, *cachedResponse]

	keys sync.Pool // *[]byte buffers for building keys
}

type cachedResponse struct {
	key       string
	gen       uint64
	body      []byte
	operation string
	// The header values of the answer, shared by every response that
	// serves it: nothing changes a header once the answer is written.
	contentType, cacheControl []string
}

// cost is what e holds besides the cache's overhead: its strings and
// slices, and the headers' slices and strings.
func (e *cachedResponse) cost() int64 {
	return int64(unsafe.Sizeof(*e) + uintptr(len(e.key)+len(e.body)+len(e.operation)) + 128)
}

func newResponseCache(maxBytes int64, m *metrics.Metrics) *responseCache {
	c := &responseCache{
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
		gen := c.gen.Load()
		if e := c.lookup(key, gen); e != nil {
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
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), cacheNoteKey{}, note)))
		if note.body != nil {
			c.store(keyStr, &cachedResponse{
				gen:          gen,
				contentType:  slices.Clone(w.Header().Values("Content-Type")),
				cacheControl: slices.Clone(w.Header().Values("Cache-Control")),
				body:         note.body,
				operation:    note.operation,
			})
		}
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

func (c *responseCache) lookup(key []byte, gen uint64) *cachedResponse {
	e, ok := c.entries.Get(maphash.Bytes(c.seed, key))
	if !ok || e.gen != gen || e.key != string(key) {
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
	if old, ok := c.entries.Peek(h); ok && old.key == key && old.gen > e.gen {
		return
	}
	c.entries.Set(h, e, e.cost())
}

// watch returns s with every write bumping the cache's generation once it
// has committed.
func (c *responseCache) watch(s items.Store) items.Store { return &watchedStore{Store: s, c: c} }

type watchedStore struct {
	items.Store
	c *responseCache
}

func (s *watchedStore) AddItem(ctx context.Context, n items.NewItem) (items.Item, error) {
	// Bumped whatever the outcome: an error may come after a commit
	// (a cancelled wait for a commit that went on).
	defer s.c.gen.Add(1)
	return s.Store.AddItem(ctx, n)
}

func (s *watchedStore) UpdateItem(ctx context.Context, id int64, u items.ItemUpdate) (items.Item, error) {
	defer s.c.gen.Add(1)
	return s.Store.UpdateItem(ctx, id, u)
}

func (s *watchedStore) DeleteItem(ctx context.Context, id int64, d items.ItemDelete) error {
	defer s.c.gen.Add(1)
	return s.Store.DeleteItem(ctx, id, d)
}

func (s *watchedStore) AddToken(ctx context.Context, userName string, role items.Role, hash items.TokenHash) (items.User, error) {
	defer s.c.gen.Add(1)
	return s.Store.AddToken(ctx, userName, role, hash)
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
