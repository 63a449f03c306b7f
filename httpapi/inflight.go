package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"itemsapi/gqlspec"
	"itemsapi/metrics"
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
//   - before a document is parsed (gqlspec.Limits lexes it first, and knows
//     its tokens), gqlspec.BytesPerToken per token, for the document parsed
//     and validated.
//
// Both stay reserved until the request has been answered. A request that
// cannot reserve what it needs within inflightWait is answered 503 with
// Retry-After: 1, and nothing of it runs. A request whose needs exceed the
// whole budget is granted the whole budget, so that it runs, alone.
// Websocket upgrades reserve nothing; each message reserves
// bodyBytesFactor times its bytes as they are read, and parsing its
// document what it takes, until it has been handled (websocket.go): a
// socket whose message cannot have its memory within inflightWait is
// closed with 1013, try again later.
//
// Each client address (addressOf) holds at most its share of the budget
// (MaxSharePerAddress, shares.go): past it, a request waits for its
// address's own requests to end, as for the budget, and is refused the
// same way, with a message that names the share; a request whose needs
// exceed the share is granted the share, and runs alone among its
// address's. The documents that running operations keep (heldDocs) are
// shared between clients, and count in the budget only.

// bodyBytesFactor is what reading and decoding a body takes per byte.
const bodyBytesFactor = 3

// inflightWait is the longest a request waits for memory to be freed.
const inflightWait = time.Second

// errBusy is the error of a reservation that could not be had in time.
var errBusy = errors.New("too many bytes in flight")

// inflight is the budget of the bytes in flight: a weighted semaphore
// that is not first come, first served (golang.org/x/sync/semaphore is):
// a request that fits in what is free goes ahead of larger ones waiting,
// so that a flood of large bodies does not hold up small queries. A large
// one that finds no room within inflightWait is refused, not starved.
type inflight struct {
	max     int64
	maxBody int64
	metrics *metrics.Metrics // nil: refusals not counted
	log     *slog.Logger     // nil: refusals not logged

	mu   sync.Mutex
	used int64
	// byAddress counts what each client address holds, within its share
	// (shares.go); nothing when shares are off.
	byAddress addressCounts
	waiting   int           // requests waiting for room: release wakes them
	freed     chan struct{} // closed, and replaced, when bytes are released
}

func newInflight(maxBytes, maxBody int64) *inflight {
	return &inflight{max: maxBytes, maxBody: maxBody, freed: make(chan struct{}), byAddress: newAddressCounts(maxBytes, 0)}
}

// share sets the share of each client address to frac of the budget
// (shareOf); m, when not nil, counts refusals, and log, when not nil,
// logs the first of an address. It returns f.
func (f *inflight) share(frac float64, m *metrics.Metrics, log *slog.Logger) *inflight {
	f.byAddress = newAddressCounts(f.max, frac)
	f.metrics, f.log = m, log
	return f
}

// limitFor returns the most that a request of addr may hold: the budget,
// or the address's share of it.
func (f *inflight) limitFor(addr netip.Addr) int64 {
	if f.byAddress.on() && addr.IsValid() {
		return f.byAddress.share
	}
	return f.max
}

// fits reports whether addr may take n more bytes now. f.mu is held.
func (f *inflight) fits(addr netip.Addr, n int64) bool {
	return f.used+n <= f.max && f.byAddress.fits(addr, n)
}

// tryAcquire takes n bytes for addr (the zero Addr: for no address) if
// they are free.
func (f *inflight) tryAcquire(addr netip.Addr, n int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.fits(addr, n) {
		return false
	}
	f.used += n
	f.byAddress.add(addr, n)
	return true
}

// acquire takes n bytes for addr, waiting for them until ctx is done.
// When ctx ends first, it reports whether addr's share, rather than the
// budget, was what it lacked.
func (f *inflight) acquire(ctx context.Context, addr netip.Addr, n int64) (byAddress bool, err error) {
	f.mu.Lock()
	f.waiting++
	defer func() {
		f.mu.Lock()
		f.waiting--
		f.mu.Unlock()
	}()
	for !f.fits(addr, n) {
		freed := f.freed
		f.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return f.refusedFor(addr, n), ctx.Err()
		}
		f.mu.Lock()
	}
	f.used += n
	f.byAddress.add(addr, n)
	f.mu.Unlock()
	return false, nil
}

// refusedFor counts the refusal of n bytes to addr, and reports whether
// its share, rather than the budget, was what it lacked; the first
// refusal of an address for its share is logged.
func (f *inflight) refusedFor(addr netip.Addr, n int64) (byAddress bool) {
	f.mu.Lock()
	byAddress = f.used+n <= f.max
	warn := byAddress && f.byAddress.refused(addr)
	f.mu.Unlock()
	countRefused(f.metrics, limitInflightBytes, byAddress)
	if warn {
		warnShare(f.log, addr, limitInflightBytes, f.byAddress.share, f.max)
	}
	return byAddress
}

// release gives back n bytes of addr and wakes the requests waiting, each
// to see whether it fits now.
func (f *inflight) release(addr netip.Addr, n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.used -= n
	f.byAddress.add(addr, -n)
	if f.waiting > 0 { // else nobody holds f.freed: no new channel to make
		close(f.freed)
		f.freed = make(chan struct{})
	}
}

// reservation is what one request holds of the budget.
type reservation struct {
	in   *inflight
	addr netip.Addr // the client address, whose share it draws on

	mu      sync.Mutex
	held    int64
	refused bool
	// byAddress: it was refused because its address held its share.
	byAddress bool
}

type reservationKey struct{}

// middleware reserves the memory to read a request's body, and lets
// gqlspec.Limits reserve more through reserve; it releases all of it once
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
		res := &reservation{in: f, addr: addressOf(r)}
		defer res.release()
		if res.grow(r.Context(), n*bodyBytesFactor) != nil {
			writeBusy(w, res.message())
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), reservationKey{}, res)))
	})
}

// grow reserves n more bytes, waiting up to inflightWait for them.
func (res *reservation) grow(ctx context.Context, n int64) error {
	res.mu.Lock()
	defer res.mu.Unlock()
	n = min(n, res.in.limitFor(res.addr)-res.held)
	if n <= 0 {
		return nil
	}
	if !res.in.tryAcquire(res.addr, n) { // the timer only when it must wait
		ctx, cancel := context.WithTimeout(ctx, inflightWait)
		defer cancel()
		if byAddress, err := res.in.acquire(ctx, res.addr, n); err != nil {
			res.refused, res.byAddress = true, byAddress
			return errBusy
		}
	}
	res.held += n
	return nil
}

// trim gives back what res holds beyond n bytes.
func (res *reservation) trim(n int64) {
	res.mu.Lock()
	defer res.mu.Unlock()
	if res.held > n {
		res.in.release(res.addr, res.held-n)
		res.held = n
	}
}

// release gives back all that res holds.
func (res *reservation) release() {
	res.mu.Lock()
	defer res.mu.Unlock()
	if res.held > 0 {
		res.in.release(res.addr, res.held)
		res.held = 0
	}
}

// reserve is gqlspec.Limits.Reserve: it reserves n more bytes for the
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

// writeBusy answers a request refused for lack of memory with msg.
func writeBusy(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(int(inflightWait/time.Second)))
	writeError(w, http.StatusServiceUnavailable, codeBadRequest, msg)
}

// busyMessage is the error message of a request or operation refused for
// lack of memory, and busyShareMessage of one whose client address held
// its share (both fit in a websocket's close reason).
const (
	busyMessage      = "the server is reading and parsing as many bytes as it may: retry later"
	busyShareMessage = "this client address is reading and parsing as many bytes as it may: retry later"
)

// message is the error message of res's refusal.
func (res *reservation) message() string {
	res.mu.Lock()
	defer res.mu.Unlock()
	if res.byAddress {
		return busyShareMessage
	}
	return busyMessage
}

// errBusyShare is the error of a document that its client address could
// not hold (heldDocs) within its share.
var errBusyShare = errors.New("too many bytes in flight for this client address")

// busyMessageFor is the error message of err, errBusy or errBusyShare.
func busyMessageFor(err error) string {
	if errors.Is(err, errBusyShare) {
		return busyShareMessage
	}
	return busyMessage
}

// busyMessageOf is the error message of the refusal of ctx's request.
func busyMessageOf(ctx context.Context) string {
	if res, ok := ctx.Value(reservationKey{}).(*reservation); ok {
		return res.message()
	}
	return busyMessage
}

// heldDocs counts in the budget of bytes in flight the parsed documents
// that running operations keep: a subscription keeps its document (its
// text and its syntax tree) for as long as it runs, which its client
// decides, so a thousand sockets each running 20 subscriptions of
// distinct documents of a megabyte would otherwise keep 20 GB. A text is
// kept and counted once however many operations run it: an operation
// whose text is held already runs the held document (the same text
// parses and validates the same), whether or not gqlgen's query cache
// still holds it, so the operations of an application, which run a few
// documents many times, cost next to nothing, and no operation keeps a
// copy of its text. Documents hold at most half the budget, so that
// requests always have the other half. A client address holds at most
// its share of that half (MaxSharePerAddress), apart from its share of
// requests' bytes: a document counts in the share of the address that made
// it held first, until no operation runs it.
type heldDocs struct {
	in  *inflight
	max int64

	mu        sync.Mutex
	used      int64
	byAddress addressCounts
	docs      map[string]*heldDoc // by text
}

type heldDoc struct {
	doc  *ast.QueryDocument
	text string
	addr netip.Addr // whose share it counts in
	refs int
	cost int64
}

// newHeldDocs returns the held documents of in's budget, of which a
// client address may hold share (a fraction, shareOf).
func newHeldDocs(in *inflight, share float64) *heldDocs {
	return &heldDocs{in: in, max: in.max / 2, byAddress: newAddressCounts(in.max/2, share), docs: map[string]*heldDoc{}}
}

// hold counts rc's document for one more running operation, of the
// client address addr, if the budget and addr's share of it have room for
// it (it does not wait), and returns what to call once the operation has
// ended; it fails with errBusy, or errBusyShare. rc then runs the held
// document of its text.
func (h *heldDocs) hold(rc *graphql.OperationContext, addr netip.Addr) (release func(), err error) {
	d, err := h.holdDoc(rc, addr)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return func() {}, nil
	}
	var once sync.Once
	return func() { once.Do(func() { h.release(d) }) }, nil
}

// holdDoc is hold for a caller that keeps the held document itself, and
// calls release(d) once when its operation has ended (a websocket's
// subscription: no closure to keep for each of 20,000). d is nil when
// nothing is held (nothing to release).
func (h *heldDocs) holdDoc(rc *graphql.OperationContext, addr netip.Addr) (d *heldDoc, err error) {
	if h == nil || rc.Doc == nil || rc.Operation == nil {
		return nil, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	d = h.docs[rc.RawQuery]
	switch {
	case d != nil:
		op := d.doc.Operations.ForName(rc.Operation.Name)
		if op == nil { // cannot be: the same text
			return nil, errBusy
		}
		rc.Doc, rc.Operation, rc.RawQuery = d.doc, op, d.text
	default:
		cost := docCost(rc.Doc, len(rc.RawQuery))
		switch {
		case h.used+cost > h.max:
			countRefused(h.in.metrics, limitInflightBytes, false)
			return nil, errBusy
		case !h.byAddress.fits(addr, cost):
			countRefused(h.in.metrics, limitInflightBytes, true)
			if h.byAddress.refused(addr) {
				warnShare(h.in.log, addr, "held_documents", h.byAddress.share, h.max)
			}
			return nil, errBusyShare
		case !h.in.tryAcquire(netip.Addr{}, cost):
			countRefused(h.in.metrics, limitInflightBytes, false)
			return nil, errBusy
		}
		h.used += cost
		h.byAddress.add(addr, cost)
		text := rc.RawQuery
		if src := docSource(rc.Doc); src != nil && src.Input == text {
			text = src.Input // the document's copy, not the request's
		}
		rc.RawQuery = text
		d = &heldDoc{doc: rc.Doc, text: text, addr: addr, cost: cost}
		h.docs[text] = d
	}
	d.refs++
	return d, nil
}

// release uncounts one operation of d, a document from holdDoc (nil:
// none). Each holdDoc is released once.
func (h *heldDocs) release(d *heldDoc) {
	if d == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if d.refs--; d.refs == 0 {
		delete(h.docs, d.text)
		h.used -= d.cost
		h.byAddress.add(d.addr, -d.cost)
		h.in.release(netip.Addr{}, d.cost)
	}
}

// docSource returns the text a document was parsed from, or nil.
func docSource(doc *ast.QueryDocument) *ast.Source {
	for _, op := range doc.Operations {
		if op.Position != nil && op.Position.Src != nil {
			return op.Position.Src
		}
	}
	return nil
}

// docCost is what a parsed document of n bytes of text is reckoned to
// keep on the heap: its text, and gqlspec.BytesPerToken per node of its
// syntax tree (a field, argument, directive, fragment or variable), which
// over-counts a node as the tokens it is made of would. Unlike the query
// cache's reckoning per byte of text, it does not count a comment or a
// string as a tree: a document padded with a comment of a megabyte costs
// a megabyte.
func docCost(doc *ast.QueryDocument, n int) int64 {
	nodes := 0
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			nodes++
			switch sel := sel.(type) {
			case *ast.Field:
				nodes += len(sel.Arguments) + len(sel.Directives)
				walk(sel.SelectionSet)
			case *ast.InlineFragment:
				nodes += len(sel.Directives)
				walk(sel.SelectionSet)
			case *ast.FragmentSpread:
				nodes += len(sel.Directives)
			}
		}
	}
	for _, op := range doc.Operations {
		nodes += 1 + len(op.VariableDefinitions) + len(op.Directives)
		walk(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		nodes += 1 + len(f.Directives)
		walk(f.SelectionSet)
	}
	return int64(n) + int64(nodes)*gqlspec.BytesPerToken
}
