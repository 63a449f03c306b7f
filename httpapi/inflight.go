package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// Bytes in flight: the requests being read and parsed at once, across all
// clients, hold at most a set budget of memory, so that a thousand
// concurrent bodies of 2 MB cannot take gigabytes between them. The
// memory is reckoned, not measured:
//
//   - before its body is read, a request reserves bodyBytesFactor times
//     its Content-Length (the limit of a body when the length is not
//     declared; the query string for a GET): the body as read, which may
//     take twice its size while it grows, and the document decoded from it;
//   - before a document is parsed (graph.Limits lexes it first, and knows
//     its tokens), graph.BytesPerToken per token, for the document parsed
//     and validated.
//
// Both stay reserved until the request has been answered. A request that
// cannot reserve what it needs within inflightWait is answered 503 with
// Retry-After: 1, and nothing of it runs. A request whose needs exceed the
// whole budget is granted the whole budget, so that it runs, alone.
// Websocket upgrades reserve nothing: a socket's messages are bounded by
// its own read limit.

// bodyBytesFactor is what reading and decoding a body takes per byte.
const bodyBytesFactor = 3

// inflightWait is the longest a request waits for memory to be freed.
const inflightWait = time.Second

// errBusy is the error of a reservation that could not be had in time.
var errBusy = errors.New("too many bytes in flight")

// inflight is the budget of the bytes in flight.
type inflight struct {
	sem     *semaphore.Weighted
	max     int64
	maxBody int64
}

func newInflight(maxBytes, maxBody int64) *inflight {
	return &inflight{sem: semaphore.NewWeighted(maxBytes), max: maxBytes, maxBody: maxBody}
}

// reservation is what one request holds of the budget.
type reservation struct {
	in *inflight

	mu      sync.Mutex
	held    int64
	refused bool
}

type reservationKey struct{}

// middleware reserves the memory to read a request's body, and lets
// graph.Limits reserve more through reserve; it releases all of it once
// the request is answered.
func (f *inflight) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			next.ServeHTTP(w, r)
			return
		}
		n := int64(len(r.URL.RawQuery))
		if r.Method == http.MethodPost {
			n = r.ContentLength
			if n < 0 || n > f.maxBody {
				n = f.maxBody
			}
		}
		res := &reservation{in: f}
		defer res.release()
		if res.grow(r.Context(), n*bodyBytesFactor) != nil {
			writeBusy(w)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), reservationKey{}, res)))
	})
}

// grow reserves n more bytes, waiting up to inflightWait for them.
func (res *reservation) grow(ctx context.Context, n int64) error {
	res.mu.Lock()
	defer res.mu.Unlock()
	n = min(n, res.in.max-res.held)
	if n <= 0 {
		return nil
	}
	if !res.in.sem.TryAcquire(n) { // the timer only when it must wait
		ctx, cancel := context.WithTimeout(ctx, inflightWait)
		defer cancel()
		if err := res.in.sem.Acquire(ctx, n); err != nil {
			res.refused = true
			return errBusy
		}
	}
	res.held += n
	return nil
}

// release gives back all that res holds.
func (res *reservation) release() {
	res.mu.Lock()
	defer res.mu.Unlock()
	if res.held > 0 {
		res.in.sem.Release(res.held)
		res.held = 0
	}
}

// reserve is graph.Limits.Reserve: it reserves n more bytes for the
// request of ctx, if it has a reservation (a websocket's operations have
// none).
func reserve(ctx context.Context, n int64) error {
	res, ok := ctx.Value(reservationKey{}).(*reservation)
	if !ok {
		return nil
	}
	return res.grow(ctx, n)
}

// refused reports whether the request of ctx was refused memory.
func refused(ctx context.Context) bool {
	res, ok := ctx.Value(reservationKey{}).(*reservation)
	if !ok {
		return false
	}
	res.mu.Lock()
	defer res.mu.Unlock()
	return res.refused
}

// writeBusy answers a request refused for lack of memory.
func writeBusy(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(int(inflightWait/time.Second)))
	writeError(w, http.StatusServiceUnavailable, codeBadRequest,
		"the server is reading and parsing as many bytes as it may: retry later")
}
