//go:build unix

package httpapi

import (
	"errors"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// rawWrites: corkConn writes to its socket itself.
const rawWrites = true

// writeHeld writes what is held to the socket, waiting while the socket
// is full (within the write deadline that flushLocked has set), as
// Conn.Write does. A socket found full is one whose client reads slowly
// or not at all, and the write may wait for up to the write timeout: what
// is left to write moves, then, to a buffer of its own size, and the
// pool's buffer goes back, so that a socket that waits holds what it has
// not sent and no more. c.mu is held.
func (c *corkConn) writeHeld() error {
	p := c.held
	var werr error
	err := c.raw.Write(func(fd uintptr) bool {
		for len(p) > 0 {
			n, err := syscall.Write(int(fd), p)
			if n > 0 {
				p = p[n:]
			}
			switch {
			case errors.Is(err, syscall.EINTR):
			case errors.Is(err, syscall.EAGAIN):
				if c.pooled {
					left := append([]byte(nil), p...)
					c.putHeld()
					c.held, p = left, left
				}
				return false // wait until the socket can take more
			case err != nil:
				werr = err
				return true
			case n <= 0:
				werr = syscall.EIO // a write of nothing, which cannot be
				return true
			}
		}
		return true
	})
	if err == nil {
		err = werr
	}
	return err
}

// awaitRoom waits until the socket can take more (poll's POLLOUT: its
// send buffer has room for a good part of what it holds), within the
// write timeout; a socket that has none by then is closed, as one whose
// write times out. A pump calls it before it writes a round, so that it
// waits for a client that reads slowly or not at all with nothing held:
// the round's messages go to memory only once they can mostly go on to
// the socket.
func (c *corkConn) awaitRoom() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil || c.raw == nil {
		return c.err
	}
	if c.timeout > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	}
	c.writing.Store(true)
	err := c.raw.Write(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(fds, 0)
		if err != nil {
			// EINTR: poll again. Another error is the write's to
			// find out.
			return !errors.Is(err, unix.EINTR)
		}
		return n > 0
	})
	c.writing.Store(false)
	if c.timeout > 0 {
		_ = c.Conn.SetWriteDeadline(time.Time{})
	}
	if err != nil {
		c.err = err
		c.Conn.Close()
	}
	return err
}
