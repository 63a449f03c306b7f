// Package e2e runs real GraphQL clients against the real server: the
// graphql-http audit suite, Apollo Client (over JSON, multipart
// subscriptions, @defer and trusted documents), the graphql-ws client and
// raw websockets, the graphql-sse client, GraphiQL and EventSource in
// headless Chromium, and graphql-js introspection.
// Each client is a Node script here; each test starts a fresh server from
// the binary that TestMain built, runs one script and checks the JSON
// summary that the script prints last.
//
// The scripts need node and `npm ci --prefix e2e`; the browser test needs
// /usr/bin/chromium. Without them the tests skip, except under CI=true,
// where a skip is a failure.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// adminToken is the BOOTSTRAP_ADMIN_TOKEN of every server the tests start.
const adminToken = "e2e-admin-token-0123456789abcdef"

// chromium is the browser that the GraphiQL test drives.
const chromium = "/usr/bin/chromium"

// binary is the server that TestMain built.
var binary string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "itemsapi-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "itemsapi")
		build := exec.Command("go", "build", "-o", binary, ".")
		build.Dir = ".."
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}())
}

// skip skips the test for reason, or fails it under CI=true, where every
// client must run.
func skip(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and %s", reason)
	}
	t.Skip(reason)
}

// requireNode skips the test without node or e2e/node_modules.
func requireNode(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		skip(t, "node is not installed")
	}
	if _, err := os.Stat("node_modules"); err != nil {
		skip(t, "e2e/node_modules is missing: run npm ci --prefix e2e")
	}
}

// server is one run of the real program.
type server struct {
	url  string
	logs *logBuffer
}

var listeningLine = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startServer runs the binary on a free port with a memory store, waits
// until /healthz answers, and stops it at the end of the test, which fails
// if the server does not shut down cleanly.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--addr", "127.0.0.1:0", "--db", "memory"}, args...)...)
	cmd.Env = append(os.Environ(), "BOOTSTRAP_ADMIN_TOKEN="+adminToken)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	addr := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			logs.add(line)
			if m := listeningLine.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	exited := make(chan error, 1)
	go func() {
		<-copied // Wait must not close the pipe before the log is read
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("the server did not shut down cleanly: %v\n%s", err, logs)
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("the server did not stop within 15 s of SIGINT\n%s", logs)
		}
	})

	s := &server{logs: logs}
	select {
	case a := <-addr:
		s.url = "http://" + a
	case err := <-exited:
		t.Fatalf("the server exited before listening: %v\n%s", err, logs)
	case <-time.After(10 * time.Second):
		t.Fatalf("the server did not listen within 10 s\n%s", logs)
	}
	waitHealthy(t, s.url)
	return s
}

func waitHealthy(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/healthz did not answer 200 within 10 s: %v", url, err)
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// logBuffer keeps the server's log for failure messages.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBuffer) add(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, line)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}

// summary is the last line that a client script prints.
type summary struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Results []struct {
		Name  string `json:"name"`
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	} `json:"results"`
	Extra map[string]json.RawMessage `json:"-"`
}

// runScript runs a client script against a fresh server, logs each of its
// checks, fails the test for each failed one, and returns its summary.
func runScript(t *testing.T, script string, env ...string) summary {
	t.Helper()
	return runScriptWith(t, script, nil, env...)
}

// runScriptWith is runScript against a server started with serverArgs.
func runScriptWith(t *testing.T, script string, serverArgs []string, env ...string) summary {
	t.Helper()
	s := startServer(t, serverArgs...)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Env = append(os.Environ(), append([]string{"SERVER_URL=" + s.url, "ADMIN_TOKEN=" + adminToken}, env...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()

	var sum summary
	out := bytes.TrimSpace(stdout.Bytes())
	last := out[bytes.LastIndexByte(out, '\n')+1:]
	if err := json.Unmarshal(last, &sum); err != nil {
		t.Fatalf("node %s: %v; no JSON summary (%v)\nstdout:\n%s\nstderr:\n%s\nserver log:\n%s",
			script, runErr, err, stdout.Bytes(), stderr.Bytes(), s.logs)
	}
	_ = json.Unmarshal(last, &sum.Extra)
	for _, r := range sum.Results {
		if r.OK {
			t.Logf("pass: %s", r.Name)
		} else {
			t.Errorf("FAIL: %s\n%s", r.Name, r.Error)
		}
	}
	t.Logf("%s: %d passed, %d failed", script, sum.Passed, sum.Failed)
	if runErr != nil && sum.Failed == 0 {
		t.Errorf("node %s: %v\nstderr:\n%s", script, runErr, stderr.Bytes())
	}
	if sum.Passed == 0 {
		t.Errorf("node %s ran no check", script)
	}
	if t.Failed() {
		t.Logf("stderr of node %s:\n%s\nserver log:\n%s", script, stderr.Bytes(), s.logs)
	}
	return sum
}

func TestGraphQLOverHTTPAudit(t *testing.T) {
	requireNode(t)
	sum := runScript(t, "audit.mjs")
	var levels map[string]struct{ Pass, Fail int }
	if err := json.Unmarshal(sum.Extra["levels"], &levels); err != nil {
		t.Fatalf("levels: %v", err)
	}
	for _, level := range []string{"MUST", "SHOULD", "MAY"} {
		l := levels[level]
		t.Logf("%s: %d passed, %d failed", level, l.Pass, l.Fail)
		if l.Pass == 0 || l.Fail > 0 {
			t.Errorf("%s audits: %d passed, %d failed; want all to pass", level, l.Pass, l.Fail)
		}
	}
}

func TestApolloClient(t *testing.T) {
	requireNode(t)
	runScript(t, "apollo.mjs")
}

// TestApolloClientUserRoles: a user with an ADMIN and a USER token is one
// User in Apollo's normalised cache, with one role, whichever token asks.
func TestApolloClientUserRoles(t *testing.T) {
	requireNode(t)
	runScript(t, "apollo-roles.mjs")
}

func TestSubscriptions(t *testing.T) {
	requireNode(t)
	runScript(t, "subscriptions.mjs")
}

func TestIntrospection(t *testing.T) {
	requireNode(t)
	runScript(t, "introspection.mjs")
}

func TestGraphiQLInBrowser(t *testing.T) {
	requireNode(t)
	if _, err := os.Stat(chromium); err != nil {
		skip(t, chromium+" is not installed: apt-get install chromium")
	}
	sum := runScript(t, "browser.mjs", "CHROMIUM="+chromium)
	var shot string
	_ = json.Unmarshal(sum.Extra["screenshot"], &shot)
	if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
		t.Errorf("no screenshot at %q: %v", shot, err)
	} else {
		t.Logf("screenshot: %s", shot)
	}
}

// Transports of the second version: graphql-sse in both modes, a
// browser's EventSource, Apollo Client's multipart subscriptions and
// @defer, and trusted documents from a manifest made by the real tool.

func TestGraphQLSSE(t *testing.T) {
	requireNode(t)
	runScript(t, "sse.mjs")
}

func TestEventSourceInBrowser(t *testing.T) {
	requireNode(t)
	if _, err := os.Stat(chromium); err != nil {
		skip(t, chromium+" is not installed: apt-get install chromium")
	}
	runScript(t, "eventsource.mjs", "CHROMIUM="+chromium)
}

func TestApolloClientStreams(t *testing.T) {
	requireNode(t)
	runScript(t, "apollo-streams.mjs")
}

// TestTrustedDocuments makes the manifest as a client's build would, with
// Apollo's generate-persisted-query-manifest over the operations of
// trusted.mjs, then serves only the documents it lists.
func TestTrustedDocuments(t *testing.T) {
	requireNode(t)
	dir := t.TempDir()
	source, err := filepath.Abs("trusted.mjs")
	if err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(dir, "manifest.json")
	config, _ := json.Marshal(map[string]any{"documents": []string{source}, "output": manifest})
	if err := os.WriteFile(filepath.Join(dir, "persisted-query-manifest.config.json"), config, 0o600); err != nil {
		t.Fatal(err)
	}
	tool, err := filepath.Abs("node_modules/.bin/generate-persisted-query-manifest")
	if err != nil {
		t.Fatal(err)
	}
	gen := exec.CommandContext(t.Context(), tool)
	gen.Dir = dir
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("generate-persisted-query-manifest: %v\n%s", err, out)
	}
	runScriptWith(t, "trusted.mjs", []string{"--trusted-documents", manifest, "--only-trusted-documents"}, "MANIFEST="+manifest)
}
