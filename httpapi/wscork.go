package httpapi

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The websocket library writes each message with a system call of its
// own (it flushes after each frame). A socket's pump has often many
// messages to send at once, one per subscription and event: it corks the
// connection while it writes them, so that they leave in one write, or in
// a few of corkMax bytes.
//
// A client that reads slowly or not at all fills the socket's kernel
// buffer, and then a write waits for it, up to the write timeout. What a
// socket holds while it waits costs the whole server: the collector
// scans what holds pointers at every cycle, and buffers of bytes take the
// room of the heap under the soft memory limit, so that cycles come more
// often (1,000 sockets that each held a round's 16 KiB and its answers
// made addItem a fifth slower). So, where the socket is one of this
// process (wscork_unix.go), a pump waits for room before it takes a
// round (awaitRoom), holding nothing, and a write that finds the socket
// full keeps only what it has not sent, in a buffer of its size.

// corkMax is how many bytes a corked connection holds before it writes
// them: half of a socket's kernel send buffer (32 KiB), enough for one
// system call to carry many messages, and little to hold for a client
// that reads nothing.
const corkMax = 16 << 10

// corkConn is a websocket's connection, which holds what is written while
// it is corked and writes it when uncorked (or when corkMax bytes are
// held), within its write timeout: a write that fails or times out closes
// the connection, as one of the library's does.
type corkConn struct {
	net.Conn
	timeout time.Duration
	// raw is the socket below Conn, which flushLocked writes to itself
	// (wscork_unix.go), so that it learns when the socket is full; nil:
	// it writes with Conn.Write.
	raw syscall.RawConn

	mu       sync.Mutex
	corked   bool
	released bool // corks no more: the socket closes
	held     []byte
	pooled   bool // held is from heldBuffers
	err      error

	// writing: a write of what is held, or a wait for room, is under
	// way (waiting).
	writing atomic.Bool
}

// waiting reports whether a write of what is held, or a pump's wait for
// room, is under way: whether a write now would wait behind it.
func (c *corkConn) waiting() bool { return c.writing.Load() }

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if c.corked {
		if c.held == nil {
			c.held, c.pooled = *heldBuffers.Get().(*[]byte), true
		}
		c.held = append(c.held, p...)
		if len(c.held) >= corkMax {
			if err := c.flushLocked(); err != nil {
				return 0, err
			}
		}
		return len(p), nil
	}
	if err := c.flushLocked(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// cork holds writes from now on, unless released.
func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = !c.released
	c.mu.Unlock()
}

// release writes what is held, and writes through from now on, corked or
// not: the socket's close calls it before writing its close frame, which
// must not wait behind a pump's round, nor be cut with what is held.
func (c *corkConn) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.released, c.corked = true, false
	_ = c.flushLocked()
}

// uncork writes what is held, and writes through from now on. The
// buffer goes back to the pool: a socket that idles holds none.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	err := c.flushLocked()
	c.putHeld()
	return err
}

// putHeld gives the buffer of what is held back to the pool, if it came
// from there and has not grown much. c.mu is held.
func (c *corkConn) putHeld() {
	if c.pooled && cap(c.held) <= corkMax*2 {
		held := c.held[:0]
		heldBuffers.Put(&held)
	}
	c.held, c.pooled = nil, false
}

// newCorkConn returns conn corked by the pump of a websocket, whose
// writes time out after timeout (none if 0).
func newCorkConn(conn net.Conn, timeout time.Duration) *corkConn {
	c := &corkConn{Conn: conn, timeout: timeout}
	if sc, ok := conn.(syscall.Conn); ok && rawWrites {
		c.raw, _ = sc.SyscallConn() // nil on error: Conn.Write
	}
	return c
}

// heldBuffers are the buffers of corked connections.
var heldBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 4<<10)
	return &b
}}

// flushLocked writes what is held. c.mu is held.
func (c *corkConn) flushLocked() error {
	if c.err != nil || len(c.held) == 0 {
		return c.err
	}
	if c.timeout > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	}
	c.writing.Store(true)
	var err error
	if c.raw != nil {
		err = c.writeHeld()
	} else {
		_, err = c.Conn.Write(c.held)
	}
	c.writing.Store(false)
	if c.timeout > 0 {
		_ = c.Conn.SetWriteDeadline(time.Time{})
	}
	c.held = c.held[:0]
	if !c.pooled {
		c.held = nil // what was left of a wait: the next holds take the pool's
	}
	if err != nil {
		c.err = err
		c.Conn.Close()
	}
	return err
}
