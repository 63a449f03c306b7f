//go:build !unix

package httpapi

// rawWrites: corkConn writes with Conn.Write.
const rawWrites = false

// writeHeld is never called where rawWrites is false.
func (c *corkConn) writeHeld() error {
	_, err := c.Conn.Write(c.held)
	return err
}

// awaitRoom returns at once: a write waits for room by itself.
func (c *corkConn) awaitRoom() error { return nil }
