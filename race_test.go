//go:build race

package main

// abuseScale divides the floods of TestAbuseMemory under the race
// detector.
const abuseScale = 10

// abuseSlowdown multiplies the time bounds of the abuse tests under the
// race detector, which makes parsing a large document about ten times
// slower: CI runs them so, beside every other package's tests.
const abuseSlowdown = 5

// raceDetector is whether the race detector runs: the memory bounds of
// TestAbuseLargeSubscriptionDocuments are measured without it (.ci/run).
const raceDetector = true
