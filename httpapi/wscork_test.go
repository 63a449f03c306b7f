package httpapi

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"
)

// countingConn records each Write that reaches the network.
type countingConn struct {
	net.Conn
	writes [][]byte
	fail   error
	closed bool
}

func (c *countingConn) Write(p []byte) (int, error) {
	if c.fail != nil {
		return 0, c.fail
	}
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func (c *countingConn) SetWriteDeadline(time.Time) error { return nil }

func (c *countingConn) Close() error {
	c.closed = true
	return nil
}

// TestCorkConn checks that what is written while corked leaves in one
// write when uncorked, in order; that a corked connection writes once it
// holds corkMax bytes; that uncorked writes go through at once; and that
// a write that fails closes the connection and fails every later one;
// and that once released (the socket closes) nothing is held.
func TestCorkConn(t *testing.T) {
	under := &countingConn{}
	c := &corkConn{Conn: under, timeout: time.Second}
	if _, err := c.Write([]byte("a")); err != nil || len(under.writes) != 1 {
		t.Fatalf("uncorked write: %v, %d writes, want 1", err, len(under.writes))
	}
	c.cork()
	for _, m := range []string{"b", "c", "d"} {
		if _, err := c.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if len(under.writes) != 1 {
		t.Fatalf("%d writes while corked, want none more", len(under.writes)-1)
	}
	if err := c.uncork(); err != nil {
		t.Fatal(err)
	}
	if len(under.writes) != 2 || string(under.writes[1]) != "bcd" {
		t.Fatalf("writes %q, want [a bcd]", under.writes)
	}

	c.cork()
	big := bytes.Repeat([]byte("x"), corkMax/2+1)
	_, _ = c.Write(big)
	_, _ = c.Write(big)
	if len(under.writes) != 3 || len(under.writes[2]) != len(big)*2 {
		t.Fatalf("after %d bytes corked: %d writes, want the held bytes written", 2*len(big), len(under.writes)-2)
	}
	if err := c.uncork(); err != nil || len(under.writes) != 3 {
		t.Fatalf("uncork with nothing held: %v, %d writes", err, len(under.writes))
	}

	under.fail = errors.New("connection reset")
	c.cork()
	_, _ = c.Write([]byte("e"))
	if err := c.uncork(); err == nil || !under.closed {
		t.Fatalf("uncork over a failing connection: %v, closed %v; want the error, and the connection closed", err, under.closed)
	}
	under.fail = nil
	if _, err := c.Write([]byte("f")); err == nil {
		t.Fatal("a write after a failed one succeeded")
	}

	// The socket's close releases the cork: what is held goes first, and
	// nothing is held any more.
	under = &countingConn{}
	c = &corkConn{Conn: under, timeout: time.Second}
	c.cork()
	_, _ = c.Write([]byte("g"))
	c.release()
	if len(under.writes) != 1 || string(under.writes[0]) != "g" {
		t.Fatalf("release: writes %q, want the held g written", under.writes)
	}
	c.cork()
	_, _ = c.Write([]byte("close"))
	if len(under.writes) != 2 || string(under.writes[1]) != "close" {
		t.Fatalf("a write after release was held: writes %q", under.writes)
	}
}
