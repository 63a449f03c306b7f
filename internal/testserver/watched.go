package testserver

import (
	"sync"
	"time"
)

// Watched is a mutex over a test's state that other goroutines change,
// with the way to wait, without polling, until that state meets a
// condition: a goroutine calls Changed after each change it made under
// the lock, and Wait tries its condition again at each. One goroutine
// waits at a time. The zero value is ready to use.
type Watched struct {
	sync.Mutex
	once sync.Once
	news chan struct{} // one slot: a change since the last try
}

func (w *Watched) changes() chan struct{} {
	w.once.Do(func() { w.news = make(chan struct{}, 1) })
	return w.news
}

// Changed tells the waiting goroutine, if any, that the state changed.
// It never blocks.
func (w *Watched) Changed() {
	select {
	case w.changes() <- struct{}{}:
	default:
	}
}

// Wait reports whether cond, called with w locked, holds within d: it is
// tried at once and after each change.
func (w *Watched) Wait(d time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		w.Lock()
		ok := cond()
		w.Unlock()
		if ok {
			return true
		}
		select {
		case <-w.changes():
		case <-deadline.C:
			return false
		}
	}
}
