package httpapi

// RunningOps returns the ids of the websocket operations of h whose
// goroutine runs, on every socket, sorted.
func RunningOps(h *Handler) []string { return h.ws.runningOps() }

// SetFanoutWindow sets how many executed events each new group of
// websocket subscriptions keeps, and returns a function that restores it.
func SetFanoutWindow(h *Handler, n int) func() {
	f := h.ws.fanout
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.window
	f.window = n
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.window = old
	}
}

// FanoutGroups returns how many groups of websocket subscriptions run.
func FanoutGroups(h *Handler) int { return h.ws.fanout.count() }

// CorkedSockets returns how many websockets h has open, and how many of
// them write through a corkConn.
func CorkedSockets(h *Handler) (open, corked int) {
	t := h.ws
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.sockets {
		open++
		if c.cork != nil {
			corked++
		}
	}
	return open, corked
}

// BlockedSockets returns how many of h's websockets are in a write of
// what their connection holds, or in their pump's wait for room.
func BlockedSockets(h *Handler) int {
	return countSockets(h, func(c *wsConn) bool { return c.cork != nil && c.cork.writing.Load() })
}

// KeepAlivesOwed returns how many of h's websockets have a keep-alive
// waiting for their pump's next round.
func KeepAlivesOwed(h *Handler) int {
	return countSockets(h, func(c *wsConn) bool { return c.keepAliveOwed.Load() })
}

// countSockets returns how many of h's websockets are as is says.
func countSockets(h *Handler, is func(*wsConn) bool) int {
	t := h.ws
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for c := range t.sockets {
		if is(c) {
			n++
		}
	}
	return n
}

// InflightBytes returns the bytes that requests in flight hold of the
// budget (inflight.go).
func InflightBytes(h *Handler) int64 {
	f := h.ws.inflight
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.used
}
