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
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"itemsapi/internal/testserver"
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
		if err := testserver.BuildTo("..", binary); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return testserver.Main(m)
	}())
}

// requireNode skips the test without node or e2e/node_modules, but under
// CI=true, where every client must run.
func requireNode(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		testserver.Require(t, "Node client", "node is not installed")
	}
	if _, err := os.Stat("node_modules"); err != nil {
		testserver.Require(t, "Node client", "e2e/node_modules is missing: run npm ci --prefix e2e")
	}
}

// requireChromium skips the test without the browser, but under CI=true.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		testserver.Require(t, "browser", chromium+" is not installed: apt-get install chromium")
	}
}

// startServer runs the binary on a free port with a memory store, waits
// until /healthz answers, and stops it at the end of the test, which fails
// if the server does not shut down cleanly.
func startServer(t *testing.T, args ...string) *testserver.Server {
	t.Helper()
	return testserver.Exec(t, binary, []string{"BOOTSTRAP_ADMIN_TOKEN=" + adminToken}, append([]string{"--db", "memory"}, args...)...)
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
	cmd.Env = append(os.Environ(), append([]string{"SERVER_URL=" + s.URL, "ADMIN_TOKEN=" + adminToken}, env...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()

	var sum summary
	out := bytes.TrimSpace(stdout.Bytes())
	last := out[bytes.LastIndexByte(out, '\n')+1:]
	if err := json.Unmarshal(last, &sum); err != nil {
		t.Fatalf("node %s: %v; no JSON summary (%v)\nstdout:\n%s\nstderr:\n%s\nserver log:\n%s",
			script, runErr, err, stdout.Bytes(), stderr.Bytes(), s.Logs)
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
		t.Logf("stderr of node %s:\n%s\nserver log:\n%s", script, stderr.Bytes(), s.Logs)
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

// TestClients runs the client scripts that need a fresh server and node,
// nothing else, each as a subtest named after it.
func TestClients(t *testing.T) {
	for _, script := range []string{
		"apollo.mjs",
		// A user with an ADMIN and a USER token is one User in Apollo's
		// normalised cache, with one role, whichever token asks.
		"apollo-roles.mjs",
		"subscriptions.mjs",
		"introspection.mjs",
		"sse.mjs",            // graphql-sse, in both modes
		"apollo-streams.mjs", // Apollo Client's multipart subscriptions and @defer
	} {
		t.Run(strings.TrimSuffix(script, ".mjs"), func(t *testing.T) {
			requireNode(t)
			runScript(t, script)
		})
	}
}

func TestGraphiQLInBrowser(t *testing.T) {
	requireNode(t)
	requireChromium(t)
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

func TestEventSourceInBrowser(t *testing.T) {
	requireNode(t)
	requireChromium(t)
	runScript(t, "eventsource.mjs", "CHROMIUM="+chromium)
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
