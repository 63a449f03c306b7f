package testserver_test

import (
	"testing"
	"time"

	"itemsapi/internal/testserver"
)

func TestWatched(t *testing.T) {
	var w testserver.Watched
	n := 0
	go func() {
		for range 3 {
			w.Lock()
			n++
			w.Unlock()
			w.Changed()
		}
	}()
	if !w.Wait(10*time.Second, func() bool { return n == 3 }) {
		t.Fatalf("Wait(n == 3) = false after three changes")
	}
	start := time.Now()
	if w.Wait(10*time.Millisecond, func() bool { return n > 3 }) {
		t.Fatalf("Wait(n > 3) = true, with n = %d", n)
	}
	if d := time.Since(start); d < 10*time.Millisecond {
		t.Errorf("Wait(10ms) of a condition that never holds returned after %v", d)
	}
}
