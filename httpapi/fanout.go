package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	coderws "github.com/coder/websocket"

	"itemsapi/items"
	"itemsapi/pubsub"
)

// Subscriptions of websockets to a store's log (itemAdded, itemUpdated,
// itemDeleted) are not each a goroutine that executes every event: a
// subscription is a position, and the subscriptions that would give the
// same answers share the executions.
//
//   - The subscriptions of one group have the same log, kind of events,
//     document, operation name and variables, and, when the document
//     selects a field with @auth, the same token (graph.
//     EventCallerIndependent): whoever subscribes, an event's answer is
//     then the same bytes. A group's goroutine reads the log after its
//     position (pubsub.Log.Read, from memory or the store), executes each
//     event once through gqlgen, and keeps the newest groupWindow answers,
//     marshalled. It never waits for a subscriber: it tells their sockets
//     that there is news, and goes on.
//   - Each socket has a pump, a goroutine that runs while the socket has
//     something to send, not while it idles: it takes, for each of the
//     socket's subscriptions, the answers after its position, frames them
//     with its operation's id and writes them, in one write (wscork.go). A
//     subscription whose socket took so long that the group's window
//     moved past its position leaves the window and reads the log by
//     itself, from its own position, executing each event on the pump
//     (with the group's executor, one execution at a time), until it has
//     caught up with the window again; a subscription that resumes with
//     `after:` starts that way. One that falls more than the log's
//     maximum lag behind is dropped, as before (pubsub.ErrTooSlow).
//   - Shutdown: the log ends every reader at the position where the
//     shutdown began (items.ErrGoingAway); a subscription ends once it has
//     been given everything up to there, from the window or the log.
//
// So a subscription costs no goroutine of its own, an event costs one
// execution per group rather than one per subscription, and every
// subscription still gets every event after its start exactly once, in
// the order of the log.

// groupWindow is how many executed events a group keeps for the
// subscriptions that have not taken them yet.
const groupWindow = 1024

// pumpBudget is how many events a socket's pump takes for one
// subscription in one round, before it turns to the others.
const pumpBudget = 64

// roundBytes is about how many bytes of payloads a socket's round takes
// (the last event may pass it): what one write sends (corkMax). A socket
// whose client reads slowly or not at all then holds at most one round's
// worth, not pumpBudget events of each of its subscriptions; and none
// once it waits for room before its next round (corkConn.awaitRoom).
const roundBytes = corkMax

// fanout keeps the groups of a transport's websocket subscriptions.
type fanout struct {
	t      *websocketTransport
	window int // groupWindow, but in tests

	mu     sync.Mutex
	groups map[groupKey]*group
}

func newFanout(t *websocketTransport) *fanout {
	return &fanout{t: t, window: groupWindow, groups: map[groupKey]*group{}}
}

// groupKey is what makes two subscriptions' answers the same.
type groupKey struct {
	log    *pubsub.Log
	kind   items.EventKind
	doc    string
	op     string
	vars   string
	caller string // "" when the answers depend on no caller
}

// executor is one dispatched subscription whose stream is fed by hand:
// sending an item into feed and calling handler executes it.
type executor struct {
	ctx     context.Context // the dispatch's, cancelled by cancel
	cancel  context.CancelFunc
	feed    chan<- items.Item
	handler graphql.ResponseHandler
	rc      *graphql.OperationContext
}

// discard ends x's stream.
func (x executor) discard() {
	x.cancel()
	close(x.feed)
}

// group is the subscriptions of one key, and the reading and executing
// of the log they share.
type group struct {
	f    *fanout
	key  groupKey
	log  *pubsub.Log
	kind items.EventKind

	// xmu makes executions one at a time: the group's own, and those of
	// its subscriptions that read the log by themselves.
	xmu sync.Mutex
	x   executor
	fed bool // x.feed is closed: no more executions

	// refs counts the subscriptions that use the group (under f.mu).
	refs int

	mu sync.Mutex
	// win holds the newest executed events, oldest first from win[start]:
	// every event of the group's kind whose position is above floor, up
	// to head, the position the group has read to.
	win      []entry
	start, n int
	floor    int64
	head     int64
	// stopped: the group reads no more, because of err (at head) or a
	// panic.
	stopped  bool
	err      error
	panicked bool
	sockets  map[*wsConn]int // the sockets of the subscriptions in the window
	kicks    []*wsConn       // notify's, on the group's goroutine
}

type entry struct {
	pos     int64
	payload []byte // the JSON of the answer, shared by every socket
}

// join adds a subscription to the group of key, which x, the
// subscription's own dispatch, starts if there is none (x is discarded
// otherwise).
func (f *fanout) join(key groupKey, x executor) *group {
	f.mu.Lock()
	defer f.mu.Unlock()
	if g := f.groups[key]; g != nil && !g.isStopped() {
		g.refs++
		x.discard()
		return g
	}
	head := key.log.Head()
	g := &group{
		f: f, key: key, log: key.log, kind: key.kind, x: x, refs: 1,
		win: make([]entry, f.window), floor: head, head: head,
		sockets: map[*wsConn]int{},
	}
	f.groups[key] = g
	go g.run()
	return g
}

// leave removes a subscription from g; the last one ends it.
func (f *fanout) leave(g *group) {
	f.mu.Lock()
	g.refs--
	last := g.refs == 0
	if last && f.groups[g.key] == g {
		delete(f.groups, g.key)
	}
	f.mu.Unlock()
	if last {
		g.x.cancel()
		g.xmu.Lock()
		if !g.fed {
			g.fed = true
			close(g.x.feed)
		}
		g.xmu.Unlock()
	}
}

// count returns how many groups run: for tests.
func (f *fanout) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.groups)
}

func (g *group) isStopped() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stopped
}

// run reads the log and executes each event of the group's kind once,
// until the group ends or the log fails it.
func (g *group) run() {
	buf := make([]items.Event, 0, pumpBudget)
	ctx := g.x.ctx
	for {
		changed := g.log.Changed()
		g.mu.Lock()
		pos := g.head
		g.mu.Unlock()
		events, err := g.log.Read(ctx, pos, buf)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			g.stop(err, false)
			return
		case len(events) == 0:
			select {
			case <-changed:
			case <-ctx.Done():
				return
			}
			continue
		}
		for _, e := range events {
			if !pubsub.Matches(g.kind, e.Kind) {
				g.advance(e.Pos, nil)
				continue
			}
			payload, panicked := g.execute(ctx, e.Item)
			switch {
			case panicked:
				g.stop(nil, true)
				return
			case payload == nil:
				return // ended
			}
			g.advance(e.Pos, payload)
		}
		g.notify()
	}
}

// execute executes it, inside the transport's gate of executions, and
// returns its answer's JSON: nil once ctx or the group has ended.
func (g *group) execute(ctx context.Context, it items.Item) (payload []byte, panicked bool) {
	t := g.f.t
	if t.pressure != nil {
		t.pressure.queued.Add(1)
	}
	entered := t.deliveries.Enter(ctx)
	if t.pressure != nil {
		t.pressure.queued.Add(-1)
	}
	if entered != nil {
		return nil, false
	}
	defer t.deliveries.Leave()
	t.pressure.yield(ctx)

	g.xmu.Lock()
	defer g.xmu.Unlock()
	if g.fed {
		return nil, false
	}
	defer func() {
		if p := recover(); p != nil {
			_ = g.x.rc.Recover(g.x.ctx, p) // logs it
			payload, panicked = nil, true
		}
	}()
	select {
	case g.x.feed <- it:
	case <-g.x.ctx.Done():
		return nil, false
	}
	resp := g.x.handler(g.x.ctx)
	if resp == nil {
		return nil, false
	}
	return marshalResponse(resp), false
}

// advance records that the group has read to pos, and the answer to the
// event at pos when it is one of the group's kind.
func (g *group) advance(pos int64, payload []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if payload != nil {
		if g.n == len(g.win) {
			g.floor = g.win[g.start].pos
			g.win[g.start] = entry{}
			g.start = (g.start + 1) % len(g.win)
			g.n--
		}
		g.win[(g.start+g.n)%len(g.win)] = entry{pos: pos, payload: payload}
		g.n++
	}
	g.head = pos
}

func (g *group) stop(err error, panicked bool) {
	g.mu.Lock()
	g.stopped, g.err, g.panicked = true, err, panicked
	g.mu.Unlock()
	g.notify()
}

// notify tells the sockets of the subscriptions in the window that there
// is news.
func (g *group) notify() {
	g.mu.Lock()
	g.kicks = g.kicks[:0]
	for c := range g.sockets {
		g.kicks = append(g.kicks, c)
	}
	g.mu.Unlock()
	for _, c := range g.kicks {
		c.kick()
	}
}

// at returns the i-th entry of the window. g.mu is held.
func (g *group) at(i int) entry { return g.win[(g.start+i)%len(g.win)] }

// wsSub is the state of a websocket subscription to a log: its position,
// and whether it takes the group's answers or reads the log by itself.
// Only its socket's pump uses it, after start.
type wsSub struct {
	g      *group
	ctx    context.Context // the operation's
	pos    int64           // the last position given or passed over
	joined bool            // in the group's window
	// waiting: a goroutine waits for the log to change, for a
	// subscription that reads by itself and has read everything there is.
	waiting atomic.Bool
}

// subKey is the group key of the subscription of rc, that tap recorded.
func (c *wsConn) subKey(rc *graphql.OperationContext, tap *pubsub.Tap, independent bool, op *wsOp) groupKey {
	key := groupKey{log: tap.Log(), kind: tap.Kind(), doc: rc.RawQuery, op: rc.OperationName}
	if vars, err := json.Marshal(rc.Variables); err == nil {
		key.vars = string(vars) // maps marshal with sorted keys
	} else {
		key.vars = fmt.Sprintf("op %p", op) // a group of its own
	}
	if !independent {
		c.mu.Lock()
		key.caller = "anonymous"
		if c.token != nil {
			h := c.token.Hash()
			key.caller = "token " + string(h[:])
		}
		c.mu.Unlock()
	}
	return key
}

// follow runs op, a subscription to the log that tap recorded, without a
// goroutine of its own: it joins its group, and the socket's pump sends
// its events.
func (c *wsConn) follow(ctx context.Context, op *wsOp, key groupKey, x executor, after int64) {
	s := &wsSub{g: c.t.fanout.join(key, x), ctx: ctx, pos: after}
	op.sub = s
	c.mu.Lock()
	c.subs = append(c.subs, op)
	c.mu.Unlock()
	// Its end is news too: whatever cancels ctx (stop, closeWith,
	// finish, a failed write) kicks the pump.
	c.kick()
}

// Pump states.
const (
	pumpIdle    = iota
	pumpRunning // a round runs
	pumpAgain   // a round runs, and another must follow it
)

// kick makes the socket's pump run a round: starts it, or has it run one
// more.
func (c *wsConn) kick() {
	for {
		switch c.pumpState.Load() {
		case pumpIdle:
			if c.pumpState.CompareAndSwap(pumpIdle, pumpRunning) {
				go c.pump()
				return
			}
		case pumpRunning:
			if c.pumpState.CompareAndSwap(pumpRunning, pumpAgain) {
				return
			}
		default:
			return
		}
	}
}

// pump runs rounds until one ends with nothing more to do.
func (c *wsConn) pump() {
	for {
		c.pumpRound()
		if c.pumpState.CompareAndSwap(pumpRunning, pumpIdle) {
			return
		}
		c.pumpState.Store(pumpRunning)
	}
}

// outgoing is an answer for an operation, to frame and send.
type outgoing struct {
	op      *wsOp
	payload []byte
}

// ended is a subscription that a round ended.
type ended struct {
	op       *wsOp
	panicked bool
}

// pumpRound takes what each subscription of the socket has to send,
// writes it, and ends the subscriptions that ended.
func (c *wsConn) pumpRound() {
	c.mu.Lock()
	subs := append(c.roundSubs[:0], c.subs...)
	c.mu.Unlock()
	// The subscriptions that have ended (their client completed them,
	// or the socket closes) end first: they have nothing more to send,
	// and do not wait for room.
	live := subs[:0]
	for _, op := range subs {
		if op.sub.ctx.Err() != nil {
			c.endSub(op, false)
			continue
		}
		live = append(live, op)
	}
	clear(subs[len(live):])
	subs = live
	if c.cork != nil && (len(subs) > 0 || c.keepAliveOwed.Load()) {
		// The round waits for room before it takes anything: a socket
		// whose client reads slowly or not at all waits here, holding
		// neither messages nor answers. A failure closes the
		// connection: the writes below fail, and end the subscriptions.
		_ = c.cork.awaitRoom()
	}
	outp := roundBuffers.Get().(*[]outgoing)
	out := (*outp)[:0]
	var done []ended
	// Rounds start at a different subscription each time, so that those
	// at the end get their turn when rounds end at roundBytes.
	first := 0
	if len(subs) > 0 {
		first = int(c.rounds % uint64(len(subs)))
	}
	c.rounds++
	taken := 0
	for k := range subs {
		op := subs[(first+k)%len(subs)]
		if taken >= roundBytes {
			c.kick() // the rest next round
			break
		}
		var end, panicked, more bool
		out, end, panicked, more = c.serve1(op, out, &taken)
		if end {
			done = append(done, ended{op, panicked})
		}
		if more {
			c.kick()
		}
	}
	if c.readBuf != nil {
		// A round's reading is over: a socket that then waits for its
		// client keeps no buffer of events.
		eventBuffers.Put(c.readBuf)
		c.readBuf = nil
	}
	c.send(out)
	for _, e := range done {
		c.endSub(e.op, e.panicked)
	}
	clear(subs)
	c.roundSubs = subs[:0]
	clear(out)
	*outp = out[:0]
	roundBuffers.Put(outp)
}

// roundBuffers are the buffers of the answers that pumps' rounds take.
var roundBuffers = sync.Pool{New: func() any {
	b := make([]outgoing, 0, 64)
	return &b
}}

// serve1 appends to out what op has to send, up to pumpBudget events or
// until *taken, the bytes of the round's payloads, reaches roundBytes:
// from its group's window, or read from the log and executed. It reports
// whether op has ended (op.setEnd has its reason), panicked, and whether
// it has more to send.
func (c *wsConn) serve1(op *wsOp, out []outgoing, taken *int) (_ []outgoing, end, panicked, more bool) {
	s := op.sub
	if s.ctx.Err() != nil {
		return out, true, false, false
	}
	g := s.g
	budget := pumpBudget
	triedEmpty := false
	for {
		if s.joined || s.join(c) {
			g.mu.Lock()
			if s.pos < g.floor {
				// The window moved past it: read the log by itself.
				s.leaveWindow(c)
				g.mu.Unlock()
				continue
			}
			i := sort.Search(g.n, func(i int) bool { return g.at(i).pos > s.pos })
			for ; i < g.n && budget > 0 && *taken < roundBytes; i++ {
				e := g.at(i)
				out = append(out, outgoing{op, e.payload})
				*taken += len(e.payload)
				s.pos = e.pos
				budget--
			}
			if i < g.n {
				g.mu.Unlock()
				return out, false, false, true
			}
			s.pos = max(s.pos, g.head)
			stopped, err, panicked := g.stopped, g.err, g.panicked
			g.mu.Unlock()
			if stopped {
				op.setEnd(err)
				return out, true, panicked, false
			}
			return out, false, false, false
		}
		if budget <= 0 || *taken >= roundBytes {
			return out, false, false, true
		}
		changed := g.log.Changed()
		if c.readBuf == nil {
			c.readBuf = eventBuffers.Get().(*[]items.Event)
		}
		events, err := g.log.Read(s.ctx, s.pos, (*c.readBuf)[:0:min(budget, pumpBudget)])
		switch {
		case s.ctx.Err() != nil:
			return out, true, false, false
		case err != nil:
			op.setEnd(err)
			return out, true, false, false
		case len(events) == 0 && triedEmpty:
			// Nothing to read yet, and the window is ahead (the store
			// has not caught up with the log): wait for news.
			c.awaitLog(s, changed)
			return out, false, false, false
		case len(events) == 0:
			triedEmpty = true
			continue
		}
		for _, e := range events {
			if !pubsub.Matches(g.kind, e.Kind) {
				s.pos = e.Pos
				continue
			}
			payload, panicked := g.execute(s.ctx, e.Item)
			switch {
			case panicked:
				return out, true, true, false
			case payload == nil:
				return out, true, false, false // ended
			}
			out = append(out, outgoing{op, payload})
			*taken += len(payload)
			s.pos = e.Pos
			budget--
			if *taken >= roundBytes {
				break
			}
		}
		clear(events)
	}
}

// eventBuffers are the buffers that pumps read a log into, for the
// subscriptions that read it by themselves.
var eventBuffers = sync.Pool{New: func() any {
	b := make([]items.Event, 0, pumpBudget)
	return &b
}}

// join puts s in its group's window if its position is there.
func (s *wsSub) join(c *wsConn) bool {
	g := s.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped && g.err == nil || s.pos < g.floor {
		return false
	}
	s.joined = true
	g.sockets[c]++
	return true
}

// leaveWindow takes s out of its group's window. g.mu is held.
func (s *wsSub) leaveWindow(c *wsConn) {
	s.joined = false
	if s.g.sockets[c]--; s.g.sockets[c] <= 0 {
		delete(s.g.sockets, c)
	}
}

// awaitLog kicks the socket once the log changes, for s, which has read
// everything there is.
func (c *wsConn) awaitLog(s *wsSub, changed <-chan struct{}) {
	if s.waiting.Swap(true) {
		return
	}
	go func() {
		select {
		case <-changed:
		case <-s.ctx.Done():
		}
		s.waiting.Store(false)
		c.kick()
	}()
}

// send frames and writes out, in order, in one hold of the socket's
// writer, after the keep-alive that tick left to the pump, if any: an
// answer of an operation silenced meanwhile is dropped. A write that
// fails ends the operations of the rest.
func (c *wsConn) send(out []outgoing) {
	keepAlive := c.keepAliveOwed.Swap(false)
	if len(out) == 0 && !keepAlive {
		return
	}
	typ := c.nextType()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	write := c.writeLocked
	if c.cork != nil {
		// The messages leave together when the last is written, within
		// the write timeout (corkConn's): each goes to memory.
		c.cork.cork()
		defer func() { _ = c.cork.uncork() }() // a failure closes the connection
		write = func(msg []byte) error { return c.conn.Write(context.Background(), coderws.MessageText, msg) }
	}
	if keepAlive {
		if err := write(c.keepAliveMessage()); err != nil {
			for _, o := range out {
				o.op.cancel()
			}
			c.kick() // to end them
			return
		}
	}
	buf := c.frame
	for i, o := range out {
		if o.op.silenced.Load() {
			continue
		}
		buf = appendMessage(buf[:0], typ, o.op.idJSON(), o.payload)
		if err := write(buf); err != nil {
			for _, o := range out[i:] {
				o.op.cancel()
			}
			c.kick() // to end them
			break
		}
	}
	if cap(buf) <= 64<<10 {
		c.frame = buf[:0]
	}
}

// endSub ends op, a subscription that the pump ran: it leaves its group,
// and the operation ends as any does (finishOp).
func (c *wsConn) endSub(op *wsOp, panicked bool) {
	s := op.sub
	c.mu.Lock()
	if i := slices.Index(c.subs, op); i >= 0 {
		c.subs = slices.Delete(c.subs, i, i+1)
	}
	c.mu.Unlock()
	if s.joined {
		s.g.mu.Lock()
		s.leaveWindow(c)
		s.g.mu.Unlock()
	}
	c.t.fanout.leave(s.g)
	c.finishOp(s.ctx, op, panicked)
}
