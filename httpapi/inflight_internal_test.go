package httpapi

import (
	"context"
	"testing"
	"time"
)

// TestInflightSmallGoesAhead: while a large reservation waits for room, a
// small one that fits in what is free is granted at once.
func TestInflightSmallGoesAhead(t *testing.T) {
	f := newInflight(1000, 1000)
	held := &reservation{in: f}
	if err := held.grow(t.Context(), 900); err != nil {
		t.Fatal(err)
	}
	large := &reservation{in: f}
	largeDone := make(chan error, 1)
	go func() { largeDone <- large.grow(t.Context(), 300) }()
	// Poll until the large one waits, with a deadline.
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		f.mu.Lock()
		waiting := f.waiting
		f.mu.Unlock()
		if waiting == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the large reservation never waited")
		}
		<-tick.C
	}

	small := &reservation{in: f}
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // granted at once, or not at all
	if err := small.grow(ctx, 50); err != nil {
		t.Errorf("a small reservation behind a waiting large one: %v, want it granted", err)
	}
	small.release()
	held.release()
	if err := <-largeDone; err != nil {
		t.Errorf("the large reservation once room was freed: %v", err)
	}
	large.release()
	if f.used != 0 {
		t.Errorf("%d bytes still in use after every release", f.used)
	}
}
