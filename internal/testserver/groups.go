package testserver

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
)

// skipped counts, by group and reason, the tests that Require and Skip
// skipped in this test binary, for Main to report.
var skipped = struct {
	sync.Mutex
	n map[[2]string]int
}{n: map[[2]string]int{}}

// Require skips t, a test of group, when reason is not empty (what the
// machine lacks), or fails it under CI=true, where every group must run.
func Require(t testing.TB, group, reason string) {
	t.Helper()
	if reason == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and %s", reason)
	}
	Skip(t, group, reason)
}

// Skip skips t, a test of group, for reason, even under CI=true: for
// groups that run only when asked.
func Skip(t testing.TB, group, reason string) {
	t.Helper()
	skipped.Lock()
	skipped.n[[2]string{group, reason}]++
	skipped.Unlock()
	t.Skip(reason)
}

// PostgresURL returns TEST_DATABASE_URL; without it the test skips, or
// fails under CI=true.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_DATABASE_URL")
	if u == "" {
		Require(t, "PostgreSQL", "TEST_DATABASE_URL is not set")
	}
	return u
}

// Main runs the tests of m and returns their exit code, after saying
// which groups of tests skipped, how many, and why, one line a group.
// go test shows a passing package's output only with -v, so the lines go
// to go test's own standard error when the test binary runs under it
// (goTestStderr), and to standard output otherwise.
func Main(m *testing.M) int {
	code := m.Run()
	skipped.Lock()
	defer skipped.Unlock()
	if len(skipped.n) == 0 {
		return code
	}
	keys := make([][2]string, 0, len(skipped.n))
	for k := range skipped.n {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+a[1], b[0]+b[1]) })
	var b strings.Builder
	pkg := filepath.Base(strings.TrimSuffix(os.Args[0], ".test"))
	if info, ok := debug.ReadBuildInfo(); ok {
		pkg = strings.TrimSuffix(info.Path, ".test") // the import path
	}
	for _, k := range keys {
		tests := "tests"
		if skipped.n[k] == 1 {
			tests = "test"
		}
		fmt.Fprintf(&b, "%s: skipped %s (%d %s): %s\n", pkg, k[0], skipped.n[k], tests, k[1])
	}
	w, closeW := goTestStderr()
	defer closeW()
	_, _ = io.WriteString(w, b.String())
	return code
}
