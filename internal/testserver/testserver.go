// Package testserver is the one harness the tests share: it runs the
// server on a free port, in this process through its run function or as
// a built binary, and waits until it is healthy (on the readiness signal
// of run, or by polling /healthz with a deadline, never by sleeping); it
// speaks graphql-transport-ws over a websocket (ws.go); it wraps a store
// to count its reads or to inject faults (stores.go); and it says on go
// test's output which groups of tests a machine skipped, and why
// (groups.go, stderr_linux.go).
package testserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Run is the server's run function: the whole program, which calls ready
// with the address it listens on once it serves.
type Run func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready func(addr string)) error

// startTimeout bounds the start of a server, to healthy; stopTimeout its
// shutdown.
const (
	startTimeout = 15 * time.Second
	stopTimeout  = 15 * time.Second
)

// Server is one run of the program, as a test drives it.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:PORT.
	URL string
	// Logs is what the server has logged so far.
	Logs *Log

	begin func()       // begins the shutdown, as SIGTERM would
	wait  func() error // waits for the server to end
	kill  func()       // ends it with SIGKILL and waits, for a binary
	once  sync.Once
	err   error
}

// Start runs the program in this process with args and env (nothing else
// of the process's environment, but GOGC and GOMEMLIMIT: see below) on a
// free port of 127.0.0.1, waits until it serves and /healthz answers 200,
// and stops it at the end of the test, which fails if run returns an
// error.
//
// Unless env sets them, GOGC is 100 and GOMEMLIMIT off, the runtime's
// defaults, so that run leaves the collector of the test process as it
// is: the tests' memory bounds are measured against it.
func Start(t testing.TB, run Run, env map[string]string, args ...string) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	logs := &Log{}
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return map[string]string{"GOGC": "100", "GOMEMLIMIT": "off"}[k]
	}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	args = append([]string{"--addr", "127.0.0.1:0"}, args...)
	go func() { done <- run(ctx, args, getenv, io.Discard, logs, func(addr string) { ready <- addr }) }()
	s := &Server{Logs: logs, begin: cancel, wait: func() error {
		select {
		case err := <-done:
			return err
		case <-time.After(stopTimeout):
			return fmt.Errorf("run did not return within %v of shutdown", stopTimeout)
		}
	}}
	select {
	case addr := <-ready:
		s.URL = "http://" + addr
	case err := <-done:
		cancel()
		t.Fatalf("run ended before serving: %v\n%s", err, logs)
	case <-time.After(startTimeout):
		cancel()
		t.Fatalf("run did not serve within %v\n%s", startTimeout, logs)
	}
	t.Cleanup(func() { s.Stop(t) })
	WaitHealthy(t, s.URL)
	return s
}

// Stop ends the server as SIGTERM would, waits for it to return, and
// fails the test if it does not return within 15 s or returns an error.
// It does so once; later calls do nothing.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.once.Do(func() {
		s.begin()
		s.err = s.wait()
	})
	if s.err != nil {
		t.Errorf("the server did not stop cleanly: %v\n%s", s.err, s.Logs)
		s.err = nil
	}
}

// Shutdown begins the shutdown of the server, as SIGTERM would, and
// returns at once; Stop, or the end of the test, waits for it to end.
func (s *Server) Shutdown() { s.begin() }

// Kill ends a server started by Exec with SIGKILL and waits for the
// process to end.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	if s.kill == nil {
		t.Fatal("Kill: the server runs in this process")
	}
	s.once.Do(s.kill)
}

// WaitHealthy polls url/healthz until it answers 200, and fails the test
// if it does not within 15 s.
func WaitHealthy(t testing.TB, url string) {
	t.Helper()
	if err := pollHealthy(t.Context(), url, nil); err != nil {
		t.Fatal(err)
	}
}

// pollHealthy polls url/healthz every 20 ms until it answers 200, the
// deadline passes, ctx is done, or exited yields.
func pollHealthy(ctx context.Context, url string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/healthz", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s/healthz did not answer 200 within %v: %v", url, startTimeout, err)
		case <-exited:
			return errExited
		case <-tick.C:
		}
	}
}

var errExited = errors.New("the server exited")

// Build builds the main package in dir into a temporary directory and
// returns the binary's path.
func Build(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "itemsapi")
	if err := BuildTo(dir, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// BuildTo builds the main package in dir as the binary bin; for TestMain,
// which has no testing.TB.
func BuildTo(dir, bin string) error {
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	return nil
}

// Exec runs the binary bin with args, on a free port of 127.0.0.1, with
// env added to the process's environment, and waits until /healthz
// answers 200. At the end of the test it stops the process with SIGINT,
// unless Kill or Stop did, and fails the test unless it exits cleanly
// within 15 s.
func Exec(t testing.TB, bin string, env []string, args ...string) *Server {
	t.Helper()
	for attempt := 1; ; attempt++ {
		s, err := execOnce(t, bin, env, args)
		if err == nil {
			return s
		}
		// The free port was taken between the probe and the bind: again.
		if attempt < 3 && strings.Contains(s.Logs.String(), "address already in use") {
			continue
		}
		t.Fatalf("%v\n%s", err, s.Logs)
	}
}

func execOnce(t testing.TB, bin string, env, args []string) (*Server, error) {
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"--addr", addr}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := &Log{}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			logs.Write(append(sc.Bytes(), '\n'))
		}
		// Wait closes the pipe: only once the log is read.
		waitErr = cmd.Wait()
		close(exited)
	}()
	wait := func() error {
		select {
		case <-exited:
			return waitErr
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("the server did not stop within %v of SIGINT", stopTimeout)
		}
	}
	s := &Server{URL: "http://" + addr, Logs: logs,
		begin: func() { _ = cmd.Process.Signal(os.Interrupt) },
		wait:  wait,
		kill:  func() { _ = cmd.Process.Signal(syscall.SIGKILL); _ = wait() },
	}
	if err := pollHealthy(t.Context(), s.URL, exited); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		return s, err
	}
	t.Cleanup(func() { s.Stop(t) })
	return s, nil
}

// freeAddr returns an address of 127.0.0.1 on a port that was free a
// moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Log is a server's log, safe to read while it is written.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns what was written.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Eventually reports whether cond holds within d, polling it from every
// millisecond up to every 20 ms: how a test waits for a state that no
// signal announces.
func Eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for wait := time.Millisecond; ; wait = min(2*wait, 20*time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(wait)
	}
}

// Ticks calls f every d until stop is closed or f returns false: the loop
// of a goroutine that samples, trickles or injects faults while a test
// runs.
func Ticks(stop <-chan struct{}, d time.Duration, f func() bool) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		if !f() {
			return
		}
	}
}
