//go:build !race

package main

// abuseScale divides the floods of TestAbuseMemory: not at all without
// the race detector.
const abuseScale = 1
