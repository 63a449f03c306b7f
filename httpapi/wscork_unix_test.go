//go:build unix

package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns the two ends of a TCP connection on 127.0.0.1, with
// small buffers, so that the first fills soon when the second reads
// nothing.
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	b, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a := (<-accepted).(*net.TCPConn)
	t.Cleanup(func() { a.Close(); b.Close() })
	_ = a.SetWriteBuffer(8 << 10)
	_ = b.(*net.TCPConn).SetReadBuffer(8 << 10)
	return a, b.(*net.TCPConn)
}

// fill writes to c until its socket is full, and returns what it wrote.
func fill(t *testing.T, c net.Conn) []byte {
	t.Helper()
	var sent []byte
	chunk := bytes.Repeat([]byte("f"), 1<<10)
	for {
		_ = c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		n, err := c.Write(chunk)
		sent = append(sent, chunk[:n]...)
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			_ = c.SetWriteDeadline(time.Time{})
			return sent
		case err != nil:
			t.Fatal(err)
		}
	}
}

// TestCorkConnFullSocket checks the writes of a corkConn to a socket that
// its peer does not read: a pump's wait for room (awaitRoom) ends when the
// peer reads, or, once the write timeout has passed, with an error that
// closes the connection; and what a corked write holds when it finds the
// socket full (it keeps only what it has not sent) all arrives, in order,
// once the peer reads.
func TestCorkConnFullSocket(t *testing.T) {
	t.Run("no room within the timeout", func(t *testing.T) {
		a, _ := tcpPair(t)
		fill(t, a)
		c := newCorkConn(a, 100*time.Millisecond)
		if c.raw == nil {
			t.Fatal("a TCP connection's corkConn does not write to its socket itself")
		}
		start := time.Now()
		if err := c.awaitRoom(); err == nil {
			t.Fatal("awaitRoom on a full socket whose peer reads nothing returned no error")
		}
		if d := time.Since(start); d < 100*time.Millisecond {
			t.Errorf("awaitRoom gave up after %v, before the write timeout", d)
		}
		if _, err := c.Write([]byte("x")); err == nil {
			t.Error("a write after awaitRoom timed out succeeded: the connection should be closed")
		}
	})
	t.Run("room and held bytes once the peer reads", func(t *testing.T) {
		a, b := tcpPair(t)
		filler := fill(t, a)
		c := newCorkConn(a, 10*time.Second)
		want := make([]byte, 3*corkMax)
		for i := range want {
			want[i] = byte('a' + i%26)
		}
		done := make(chan error, 1)
		go func() {
			if err := c.awaitRoom(); err != nil {
				done <- err
				return
			}
			c.cork()
			for p := want; len(p) > 0; p = p[min(len(p), 1000):] {
				if _, err := c.Write(p[:min(len(p), 1000)]); err != nil {
					done <- err
					return
				}
			}
			done <- c.uncork()
		}()
		got := make([]byte, len(filler)+len(want))
		if _, err := io.ReadFull(b, got); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[:len(filler)], filler) || !bytes.Equal(got[len(filler):], want) {
			t.Error("the bytes read are not the bytes written, in order")
		}
		if c.held != nil {
			t.Errorf("an uncorked connection holds a buffer of %d bytes", cap(c.held))
		}
	})
}
