//go:build race

package main

// abuseScale divides the floods of TestAbuseMemory under the race
// detector.
const abuseScale = 10
