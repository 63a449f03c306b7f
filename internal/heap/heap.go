// Package heap measures the Go heap, for the tests that bound memory. It
// imports nothing of the module, so that any package's tests, internal
// ones included, can use it.
package heap

import "runtime"

// Live returns the bytes of the heap in use after two full collections
// (the second frees what the finalizers of the first released), and the
// bytes the heap has taken from the system.
func Live() (inUse, sys uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, m.HeapSys
}

// InUse is Live's first result, as a signed number, so that tests can
// subtract one measure from another.
func InUse() int64 {
	inUse, _ := Live()
	return int64(inUse)
}
