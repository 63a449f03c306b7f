package main

import (
	"io"
	"sync"
	"time"
)

// logFlushInterval is the longest a log line waits in memory.
const logFlushInterval = 50 * time.Millisecond

// flushingWriter gathers log lines and writes them out together, at most
// interval after the first of them, rather than with a system call each:
// at tens of thousands of requests a second, one write per request line
// costs as much as a cached answer. Lines are written out from a second
// buffer, so that a request logging its line never waits for the write of
// others'. A crash may lose the last interval of lines; run flushes on
// every way out.
type flushingWriter struct {
	out      io.Writer
	interval time.Duration
	timer    *time.Timer

	mu      sync.Mutex // guards buf and pending
	buf     []byte
	pending bool

	outMu sync.Mutex // keeps writes to out in order; guards spare
	spare []byte
}

// maxLogBuffer is how much a flushingWriter gathers before a writer
// flushes it at once rather than waiting for the timer.
const maxLogBuffer = 256 << 10

func newFlushingWriter(w io.Writer, interval time.Duration) *flushingWriter {
	f := &flushingWriter{out: w, interval: interval}
	f.timer = time.AfterFunc(time.Hour, f.Flush)
	f.timer.Stop()
	return f
}

// Write implements io.Writer.
func (f *flushingWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	f.buf = append(f.buf, p...)
	full := len(f.buf) >= maxLogBuffer
	if !f.pending {
		f.pending = true
		f.timer.Reset(f.interval)
	}
	f.mu.Unlock()
	if full {
		f.Flush()
	}
	return len(p), nil
}

// Flush writes out what is buffered.
func (f *flushingWriter) Flush() {
	f.outMu.Lock()
	defer f.outMu.Unlock()
	f.mu.Lock()
	b := f.buf
	f.buf, f.spare = f.spare[:0], nil
	f.pending = false
	f.mu.Unlock()
	if len(b) > 0 {
		_, _ = f.out.Write(b)
	}
	f.spare = b[:0]
}
