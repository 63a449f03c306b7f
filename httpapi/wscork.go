package httpapi

import (
	"net"
	"sync"
	"time"
)

// The websocket library writes each message with a system call of its
// own (it flushes after each frame). A socket's pump has often many
// messages to send at once, one per subscription and event: it corks the
// connection while it writes them, so that they leave in one write, or in
// a few of corkMax bytes.

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

	mu       sync.Mutex
	corked   bool
	released bool // corks no more: the socket closes
	held     []byte
	err      error
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if c.corked {
		if c.held == nil {
			c.held = *heldBuffers.Get().(*[]byte)
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
	if c.held != nil && cap(c.held) <= corkMax*2 {
		held := c.held[:0]
		heldBuffers.Put(&held)
	}
	c.held = nil
	return err
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
	_, err := c.Conn.Write(c.held)
	if c.timeout > 0 {
		_ = c.Conn.SetWriteDeadline(time.Time{})
	}
	c.held = c.held[:0]
	if err != nil {
		c.err = err
		c.Conn.Close()
	}
	return err
}
