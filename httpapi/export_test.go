package httpapi

// RunningOps returns the ids of the websocket operations of h whose
// goroutine runs, on every socket, sorted.
func RunningOps(h *Handler) []string { return h.ws.runningOps() }
