//go:build !race

package main

// abuseScale divides the floods of TestAbuseMemory: not at all without
// the race detector.
const abuseScale = 1

// abuseSlowdown multiplies the time bounds of the abuse tests: not at all
// without the race detector.
const abuseSlowdown = 1

// raceDetector is whether the race detector runs.
const raceDetector = false
