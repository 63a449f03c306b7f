package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"

	"itemsapi/internal/testserver"
)

// start runs the program in this process (see testserver.Start).
func start(t *testing.T, env map[string]string, args ...string) *testserver.Server {
	t.Helper()
	return testserver.Start(t, run, env, args...)
}

const adminToken = "test-admin-token-0123456789"

func TestRestartKeepsItems(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "items.db")
	env := map[string]string{"BOOTSTRAP_ADMIN_TOKEN": adminToken}

	s := start(t, env, "--db", db)
	var added []string
	for i := range 5 {
		var got struct{ AddItem struct{ ID string } }
		s.GraphQL(t, adminToken, fmt.Sprintf(`mutation { addItem(input: {name: "item %d"}) { id } }`, i), &got)
		added = append(added, got.AddItem.ID)
	}
	s.Stop(t)

	s = start(t, env, "--db", db)
	var list struct {
		Items struct{ Nodes []struct{ ID, Name string } }
	}
	s.GraphQL(t, "", `{ items(first: 100) { nodes { id name } } }`, &list)
	var names []string
	for _, n := range list.Items.Nodes {
		names = append(names, n.Name)
	}
	want := "Apple,Banana,item 0,item 1,item 2,item 3,item 4"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("after restart, items = %s, want %s", got, want)
	}
	var next struct{ AddItem struct{ ID string } }
	s.GraphQL(t, adminToken, `mutation { addItem(input: {name: "after restart"}) { id } }`, &next)
	if last := added[len(added)-1]; !idAbove(next.AddItem.ID, last) {
		t.Errorf("new id after restart = %s, want above %s", next.AddItem.ID, last)
	}
}

func idAbove(a, b string) bool {
	return len(a) > len(b) || (len(a) == len(b) && a > b)
}

func TestMetricsEndpoint(t *testing.T) {
	s := start(t, nil, "--db", "memory")
	var got struct{ Items struct{ TotalCount int } }
	s.GraphQL(t, "", `query CountThem { items { totalCount } }`, &got)
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`itemsapi_graphql_requests_total{operation="CountThem",type="query"} 1`,
		"itemsapi_store_call_duration_seconds",
		"go_goroutines",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestTokenCommand(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "items.db")
	var out bytes.Buffer
	err := run(t.Context(), []string{"token", "create", "--user", "carol", "--role", "ADMIN", "--db", db},
		func(string) string { return "" }, &out, io.Discard, nil)
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	token := strings.TrimSpace(out.String())
	if len(token) < 32 {
		t.Fatalf("token create printed %q, want a token", token)
	}

	s := start(t, nil, "--db", db)
	var me struct{ Me struct{ Name, Role string } }
	s.GraphQL(t, token, `{ me { name role } }`, &me)
	if me.Me.Name != "carol" || me.Me.Role != "ADMIN" {
		t.Errorf("me = %+v, want carol ADMIN", me.Me)
	}
}

func TestBootstrapTokenEveryStart(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "items.db")
	env := map[string]string{"BOOTSTRAP_ADMIN_TOKEN": adminToken}
	for range 2 {
		s := start(t, env, "--db", db)
		var me struct{ Me struct{ Name, Role string } }
		s.GraphQL(t, adminToken, `{ me { name role } }`, &me)
		if me.Me.Name != "admin" || me.Me.Role != "ADMIN" {
			t.Errorf("me = %+v, want admin ADMIN", me.Me)
		}
		s.Stop(t)
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantAddr string
		wantDB   string
	}{
		{"defaults", nil, nil, ":8080", "sqlite:items.db"},
		{"PORT", nil, map[string]string{"PORT": "9000"}, ":9000", "sqlite:items.db"},
		{"ADDR", nil, map[string]string{"ADDR": "127.0.0.1:9001"}, "127.0.0.1:9001", "sqlite:items.db"},
		{"flag over env", []string{"--addr", ":7000", "--db", "memory"}, map[string]string{"PORT": "9000", "DATABASE_URL": "sqlite:x.db"}, ":7000", "memory"},
		{"DATABASE_URL", nil, map[string]string{"DATABASE_URL": "memory"}, ":8080", "memory"},
	}
	t.Run("MAX_COST", func(t *testing.T) {
		cfg, err := parseConfig(newFlagSet(io.Discard), nil, func(k string) string {
			return map[string]string{"MAX_COST": "500", "INTROSPECTION": "false"}[k]
		})
		if err != nil || cfg.HTTP.MaxCost != 500 || cfg.HTTP.Introspection {
			t.Errorf("MAX_COST=500 INTROSPECTION=false gave cost %d, introspection %v, err %v", cfg.HTTP.MaxCost, cfg.HTTP.Introspection, err)
		}
	})
	t.Run("lists and hardening", func(t *testing.T) {
		env := map[string]string{"CORS_ORIGINS": "https://a.example, https://*.b.example", "RATE_LIMIT": "60"}
		cfg, err := parseConfig(newFlagSet(io.Discard), []string{"--trusted-proxies", "10.0.0.0/8,192.0.2.1", "--read-timeout", "5s"},
			func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		h := cfg.HTTP
		if !slices.Equal(h.CORSOrigins, []string{"https://a.example", "https://*.b.example"}) ||
			!slices.Equal(h.RateLimit.TrustedProxies, []string{"10.0.0.0/8", "192.0.2.1"}) ||
			h.RateLimit.Requests != 60 || h.RateLimit.Window != time.Minute || h.ReadTimeout != 5*time.Second {
			t.Errorf("config = %+v", h)
		}
	})
	t.Run("cache budgets", func(t *testing.T) {
		cfg, err := parseConfig(newFlagSet(io.Discard), nil, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		h := cfg.HTTP
		total := h.QueryCacheBytes + h.LimitsCacheBytes + h.APQCacheBytes + h.TokenCacheBytes +
			h.ResponseCacheBytes + cfg.ReadCacheBytes
		if total != 60<<20 {
			t.Errorf("the caches' default budgets total %d bytes, want the 60 MiB the README states", total)
		}
		env := map[string]string{"QUERY_CACHE_BYTES": "1000000", "MAX_INFLIGHT_BYTES": "8000000"}
		cfg, err = parseConfig(newFlagSet(io.Discard), []string{"--read-cache-bytes", "0", "--query-cache", "50"},
			func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		if cfg.HTTP.QueryCacheBytes != 1_000_000 || cfg.HTTP.MaxInflightBytes != 8_000_000 ||
			cfg.ReadCacheBytes != 0 || cfg.HTTP.QueryCacheSize != 50 ||
			cfg.HTTP.MaxSharePerAddress != 0.25 || cfg.HTTP.ReplayRate != 10_000 {
			t.Errorf("config = %+v, read cache %d", cfg.HTTP, cfg.ReadCacheBytes)
		}
	})
	for _, bad := range [][]string{{"--trusted-proxies", "10.0.0.0/33"}, {"--rate-limit", "-1"}, {"--max-websockets", "0"},
		{"--query-cache-bytes", "-1"}, {"--max-inflight-bytes", "0"},
		{"--max-share-per-address", "1.5"}, {"--max-share-per-address", "-0.1"}, {"--max-share-per-address", "NaN"}, {"--replay-rate", "-1"}} {
		if _, err := parseConfig(newFlagSet(io.Discard), bad, func(string) string { return "" }); err == nil {
			t.Errorf("parseConfig(%q) accepted it", bad)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFlagSet(io.Discard)
			cfg, err := parseConfig(fs, tt.args, func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Addr != tt.wantAddr || cfg.DB != tt.wantDB {
				t.Errorf("addr, db = %q, %q; want %q, %q", cfg.Addr, cfg.DB, tt.wantAddr, tt.wantDB)
			}
		})
	}
}

// TestBackends: --db picks a row of the backends table, whose flags are
// the server's. (Whether others write to a backend, which turns the
// caches of this process off, the store itself says: Writes().Shared().)
func TestBackends(t *testing.T) {
	for _, db := range []string{"memory", "sqlite:items.db", "postgres://u@db/items", "postgresql://u@db/items"} {
		if _, err := parseConfig(newFlagSet(io.Discard), []string{"--db", db, "--pg-max-conns", "4"}, func(string) string { return "" }); err != nil {
			t.Fatalf("--db %s: %v", db, err)
		}
	}
	for _, bad := range []string{"mysql://db", "memoryx", "sqlite", "postgres:db"} {
		if _, err := parseConfig(newFlagSet(io.Discard), []string{"--db", bad}, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "want sqlite:PATH, memory or postgres://") {
			t.Errorf("--db %s: %v, want an error naming the backends", bad, err)
		}
	}
}

// TestTuneGC: run sets the collector for a server unless GOGC or
// GOMEMLIMIT say otherwise, and the soft limit grows with the open
// websockets, up to its bound.
func TestTuneGC(t *testing.T) {
	percent, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(percent); debug.SetMemoryLimit(limit) })
	if changed := tuneGC(func(k string) string { return map[string]string{"GOMEMLIMIT": "off"}[k] }); changed != nil {
		t.Error("GOMEMLIMIT set: tuneGC returned a function for the websockets; the limit is the operator's")
	}
	if got := debug.SetGCPercent(100); got != 400 {
		t.Errorf("GOGC unset: GC percent %d, want 400", got)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("GOMEMLIMIT set: memory limit %d, want it left alone", got)
	}
	changed := tuneGC(func(k string) string { return map[string]string{"GOGC": "100"}[k] })
	if got := debug.SetGCPercent(-1); got != 100 {
		t.Errorf("GOGC set: GC percent %d, want it left alone", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 192<<20 {
		t.Errorf("GOMEMLIMIT unset: memory limit %d, want 192 MiB", got)
	}
	if changed == nil {
		t.Fatal("GOMEMLIMIT unset: no function for the websockets")
	}
	for _, c := range []struct {
		open int
		want int64
	}{
		{1, 192<<20 + 96<<10},
		{1000, 192<<20 + 1000*96<<10}, // 285.75 MiB
		{100_000, 288 << 20},          // at most 96 MiB more
		{0, 192 << 20},
	} {
		changed(c.open)
		if got := debug.SetMemoryLimit(-1); got != c.want {
			t.Errorf("%d websockets open: memory limit %.2f MiB, want %.2f MiB", c.open, float64(got)/(1<<20), float64(c.want)/(1<<20))
		}
	}
}

func TestRedactDSN(t *testing.T) {
	got := redactDSN("postgres://app:s3cret@db:5432/items")
	if strings.Contains(got, "s3cret") {
		t.Errorf("redactDSN kept the password: %s", got)
	}
}

func TestShutdownEndsSubscriptions(t *testing.T) {
	s := start(t, map[string]string{"BOOTSTRAP_ADMIN_TOKEN": adminToken}, "--db", "memory")
	names := subscribe(t, s.URL, adminToken)
	s.Stop(t) // fails the test if run does not return within 15 s
	for {
		select {
		case _, ok := <-names:
			if !ok {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the subscription was still open 5 s after shutdown")
		}
	}
}

// TestShutdownClosesWebsocketsGoingAway: at shutdown an idle websocket
// closes with 1001 at once, and one with a subscription once the broker
// has ended it (or when --shutdown-grace runs out).
func TestShutdownClosesWebsocketsGoingAway(t *testing.T) {
	s := start(t, map[string]string{"BOOTSTRAP_ADMIN_TOKEN": adminToken}, "--db", "memory", "--shutdown-grace", "500ms")
	dial := func() *websocket.Conn { return testserver.DialWS(t, s.URL, nil, nil).Conn }
	closed := func(conn *websocket.Conn) <-chan websocket.StatusCode {
		c := make(chan websocket.StatusCode, 1)
		go func() {
			for {
				if _, _, err := conn.Read(context.Background()); err != nil {
					c <- websocket.CloseStatus(err)
					return
				}
			}
		}()
		return c
	}
	idle := closed(dial())
	busy := dial()
	for _, m := range []string{`{"type":"subscribe","id":"1","payload":{"query":"subscription { itemAdded { id } }"}}`, `{"type":"ping"}`} {
		if err := busy.Write(t.Context(), websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	// The pong comes once the server has read the subscribe.
	for {
		_, data, err := busy.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), `"pong"`) {
			break
		}
	}
	busyClosed := closed(busy)
	s.Stop(t)
	for name, c := range map[string]<-chan websocket.StatusCode{"idle": idle, "busy": busyClosed} {
		select {
		case code := <-c:
			if code != websocket.StatusGoingAway {
				t.Errorf("%s socket: close code %d, want 1001", name, code)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s socket still open 5 s after shutdown", name)
		}
	}
}

// TestFlushingWriter runs in a synctest bubble, whose clock moves only
// when every goroutine of the bubble is blocked: the interval passes
// exactly, and at once.
func TestFlushingWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &testserver.Log{} // a buffer safe to read while written
		f := newFlushingWriter(out, 20*time.Millisecond)
		fmt.Fprintln(f, "one")
		time.Sleep(19 * time.Millisecond) // the bubble's clock: no real wait
		fmt.Fprintln(f, "two")
		synctest.Wait()
		if got := out.String(); got != "" {
			t.Errorf("written within the interval: %q, want the lines gathered", got)
		}
		time.Sleep(time.Millisecond) // the interval since the first line ends
		synctest.Wait()
		if got := out.String(); got != "one\ntwo\n" {
			t.Errorf("after the interval: %q, want both lines", got)
		}
		fmt.Fprintln(f, "three")
		f.Flush()
		if got := out.String(); got != "one\ntwo\nthree\n" {
			t.Errorf("after Flush: %q", got)
		}
	})
}

func TestHelpAndVersion(t *testing.T) {
	var stdout, stderr strings.Builder
	err := run(t.Context(), []string{"--help"}, func(string) string { return "" }, &stdout, &stderr, nil)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run(--help) = %v, want flag.ErrHelp (exit 0 without serving)", err)
	}
	help := stdout.String()
	fs := newFlagSet(io.Discard)
	if _, err := parseConfig(fs, nil, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "h" {
			return
		}
		if !strings.Contains(help, "--"+f.Name+"\n") {
			t.Errorf("--help does not list --%s", f.Name)
		}
		if env := envName(f.Name); env != "" && !strings.Contains(help, "env "+env) {
			t.Errorf("--help does not name the environment variable %s of --%s", env, f.Name)
		}
	})
	for _, want := range []string{"token create --user NAME", "BOOTSTRAP_ADMIN_TOKEN", "default :8080", "DATABASE_URL; default sqlite:items.db"} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	if stderr.Len() != 0 {
		t.Errorf("--help wrote to standard error: %q", stderr.String())
	}

	stdout.Reset()
	err = run(t.Context(), []string{"--version"}, func(string) string { return "" }, &stdout, &stderr, nil)
	if !errors.Is(err, flag.ErrHelp) || !strings.HasPrefix(stdout.String(), "itemsapi ") || !strings.Contains(stdout.String(), "revision ") {
		t.Errorf("run(--version) = %v, printed %q; want the version and revision", err, stdout.String())
	}

	err = run(t.Context(), []string{"--no-such-flag"}, func(string) string { return "" }, &stdout, &stderr, nil)
	if err == nil || !strings.Contains(err.Error(), "--help") {
		t.Errorf("run(--no-such-flag) = %v, want an error that points to --help", err)
	}
}
