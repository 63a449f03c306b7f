// Command wsload measures the server's memory under two websocket
// attacks, on a server binary it starts itself over --db memory:
//
//	go build -o /tmp/itemsapi . && go run ./bench/wsload -server /tmp/itemsapi -scenario legacy-starts
//	go run ./bench/wsload -server /tmp/itemsapi -scenario non-reading
//
// legacy-starts sends -starts legacy graphql-ws starts with one id on one
// socket (reading every answer); non-reading opens -sockets
// graphql-transport-ws sockets with -subs subscriptions each that never
// read, then adds -items items. Each prints the server's peak and final
// RSS (VmHWM, VmRSS of /proc/PID/status), goroutines and
// itemsapi_subscriptions_active.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"itemsapi/bench/internal/probe"
)

const token = "wsload-admin-token-0123456789"

// debugAddr, when set, is where the server serves pprof; non-reading
// saves its heap and goroutine profiles under /tmp.
var debugAddr string

// save writes what url answers to file.
func save(url, file string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	return errors.Join(err, f.Close())
}

func main() {
	server := flag.String("server", "", "the server binary to start")
	scenario := flag.String("scenario", "legacy-starts", "legacy-starts or non-reading")
	starts := flag.Int("starts", 50_000, "legacy-starts: starts with one id")
	sockets := flag.Int("sockets", 1000, "non-reading: sockets")
	subs := flag.Int("subs", 20, "non-reading: subscriptions per socket")
	nItems := flag.Int("items", 300, "non-reading: items added once every subscription runs")
	flag.StringVar(&debugAddr, "debug-addr", "", "serve the server's pprof there and save profiles")
	flag.Parse()
	if err := run(*server, *scenario, *starts, *sockets, *subs, *nItems); err != nil {
		fmt.Fprintln(os.Stderr, "wsload:", err)
		os.Exit(1)
	}
}

func run(server, scenario string, starts, sockets, subs, nItems int) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	// Every socket comes from 127.0.0.1: no share per address, so that
	// one client may open all --max-websockets.
	args := []string{"--addr", addr, "--db", "memory", "--max-share-per-address", "1"}
	if debugAddr != "" {
		args = append(args, "--debug-addr", debugAddr)
	}
	cmd := exec.Command(server, args...)
	cmd.Env = append(os.Environ(), "BOOTSTRAP_ADMIN_TOKEN="+token)
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base := "http://" + addr
	for deadline := time.Now().Add(10 * time.Second); ; {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s := &target{pid: cmd.Process.Pid, base: base}
	s.report("idle")
	ctx := context.Background()
	switch scenario {
	case "legacy-starts":
		return legacyStarts(ctx, s, starts)
	case "non-reading":
		return nonReading(ctx, s, sockets, subs, nItems)
	}
	return fmt.Errorf("unknown scenario %q", scenario)
}

func legacyStarts(ctx context.Context, s *target, n int) error {
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.base, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-ws"}})
	if err != nil {
		return err
	}
	conn.SetReadLimit(-1)
	defer conn.CloseNow()
	var got sync.Map // type -> *atomic.Int64
	count := func(typ string) *atomic.Int64 {
		v, _ := got.LoadOrStore(typ, new(atomic.Int64))
		return v.(*atomic.Int64)
	}
	go func() {
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			var m struct{ Type string }
			_ = json.Unmarshal(data, &m)
			count(m.Type).Add(1)
		}
	}()
	write := func(s string) error { return conn.Write(ctx, websocket.MessageText, []byte(s)) }
	if err := write(`{"type":"connection_init","payload":{"token":"` + token + `"}}`); err != nil {
		return err
	}
	start := `{"type":"start","id":"1","payload":{"query":"subscription { itemAdded { id name } }"}}`
	t0 := time.Now()
	for i := range n {
		if err := write(start); err != nil {
			return fmt.Errorf("start %d: %w", i, err)
		}
	}
	fmt.Printf("sent %d starts with id 1 in %v\n", n, time.Since(t0).Round(time.Millisecond))
	s.settle()
	s.report("after the starts")
	if err := s.addItem("probe"); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for count("data").Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	s.settle()
	fmt.Printf("messages received: error %d, data %d (one item added)\n", count("error").Load(), count("data").Load())
	s.report("after one item")
	return nil
}

func nonReading(ctx context.Context, s *target, sockets, subs, nItems int) error {
	conns := make([]*websocket.Conn, 0, sockets)
	defer func() {
		for _, c := range conns {
			c.CloseNow()
		}
	}()
	for i := range sockets {
		c, err := probe.Subscriber(ctx, s.base+"/graphql", subs, "subscription { itemAdded { id name createdAt } }")
		if err != nil {
			return fmt.Errorf("socket %d: %w", i, err)
		}
		conns = append(conns, c)
	}
	want := strconv.Itoa(sockets * subs)
	for deadline := time.Now().Add(2 * time.Minute); s.metrics()["itemsapi_subscriptions_active"] != want && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	s.report(fmt.Sprintf("%d sockets x %d subscriptions, not reading", sockets, subs))
	if debugAddr != "" {
		// A heap profile with gc=1 runs a collection, which shrinks
		// the stacks of parked goroutines that use under a quarter.
		_ = save("http://"+debugAddr+"/debug/pprof/heap?gc=1", os.DevNull)
		s.report("after a GC")
		for _, p := range []string{"heap", "goroutine"} {
			if err := save("http://"+debugAddr+"/debug/pprof/"+p, "/tmp/wsload."+p); err == nil {
				fmt.Println("saved /tmp/wsload." + p)
			}
		}
	}
	t0 := time.Now()
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		profiled := false
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				s.report(fmt.Sprintf("  while adding (%v)", time.Since(t0).Round(time.Second)))
				if debugAddr != "" && !profiled && time.Since(t0) > 2*time.Second {
					profiled = true
					_ = save("http://"+debugAddr+"/debug/pprof/goroutine", "/tmp/wsload.adding.goroutine")
					_ = save("http://"+debugAddr+"/debug/pprof/heap", "/tmp/wsload.adding.heap")
				}
			}
		}
	}()
	var wg sync.WaitGroup
	var next atomic.Int64
	var failed atomic.Int64
	for range 4 {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(nItems); i = next.Add(1) {
				if s.addItem(fmt.Sprintf("item %d %s", i, strings.Repeat("x", 100))) != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(stopSampling)
	<-sampled
	fmt.Printf("added %d items in %v (%d failed)\n", nItems, time.Since(t0).Round(time.Millisecond), failed.Load())
	s.report("right after the items")
	s.settle()
	s.report("settled")
	return nil
}

// target reads the figures of the server under test.
type target struct {
	pid  int
	base string
}

func (s *target) report(when string) {
	status, _ := probe.Status(s.pid)
	field := func(name string) string {
		if v, ok := status[name]; ok {
			return v
		}
		return "?"
	}
	m := s.metrics()
	stacks, _ := strconv.ParseFloat(m["go_memstats_stack_inuse_bytes"], 64)
	heap, _ := strconv.ParseFloat(m["go_memstats_heap_inuse_bytes"], 64)
	fmt.Printf("%-45s VmRSS %10s  VmHWM %10s  heap %4.0f MB  stacks %4.0f MB  goroutines %6s  subscriptions_active %6s  websockets %5s\n",
		when+":", field("VmRSS"), field("VmHWM"), heap/(1<<20), stacks/(1<<20), m["go_goroutines"], m["itemsapi_subscriptions_active"], m["itemsapi_websocket_connections"])
}

// metrics returns the server's samples by series; none when it does not
// answer.
func (s *target) metrics() map[string]string {
	m, _ := probe.Metrics(s.base)
	return m
}

// settle waits until the goroutine count has not changed for 2 s (at
// most 60 s).
func (s *target) settle() {
	last, since := "", time.Now()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		g := s.metrics()["go_goroutines"] + "/" + s.metrics()["itemsapi_subscriptions_active"]
		if g != last {
			last, since = g, time.Now()
		} else if time.Since(since) > 2*time.Second {
			return
		}
	}
}

func (s *target) addItem(name string) error {
	body, _ := json.Marshal(map[string]any{"query": `mutation($n: String!) { addItem(input: {name: $n}) { id } }`, "variables": map[string]any{"n": name}})
	return probe.Post(context.Background(), http.DefaultClient, s.base+"/graphql", token, string(body))
}
