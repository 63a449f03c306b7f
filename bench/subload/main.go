// Command subload measures what subscribers that never read cost the
// writers: it opens sockets with subscriptions on each (graphql-transport-ws)
// and then reads nothing more from them, so that the server's writes to
// them back up, while writers add items as fast as the server acknowledges
// them. It prints addItem's throughput and latency over a window that
// starts once warm items have been added, the server's RSS, and the CPU
// time the server used for each item over the window (with -pid): on a
// machine that other work loads, the CPU per item with and without
// subscribers compares them better than the throughputs do. It prints the
// server's garbage-collection cycles over the window too (from /metrics),
// which other work on the machine does not move at all.
//
//	go run ./bench/subload -url http://127.0.0.1:8080/graphql -token T \
//	    -sockets 1000 -subs 20 -pid $(pgrep itemsapi)
//
// Every socket comes from one client address, which may hold only a
// quarter of --max-websockets by default: start the server with
// --max-share-per-address 1 (no share) for more than 250 sockets.
//
// Run it with -sockets 0 for the figure without subscribers. The server
// closes a socket that answers no ping for 20 s: the sockets must be open
// at the window's start and end, which the output says.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"itemsapi/bench/internal/probe"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080/graphql", "the server's GraphQL endpoint")
	token := flag.String("token", os.Getenv("TOKEN"), "an API token for addItem (env TOKEN)")
	sockets := flag.Int("sockets", 1000, "websockets to open")
	subs := flag.Int("subs", 20, "subscriptions on each socket")
	writers := flag.Int("writers", 32, "concurrent addItem clients")
	warm := flag.Int("warm", 10_000, "items added before the measured window")
	window := flag.Duration("window", 10*time.Second, "the measured window")
	pid := flag.Int("pid", 0, "the server's process ID, to read its RSS")
	variables := flag.Bool("variables", false, "pass each item's name in a variable, one document for every request, as clients do, rather than in the mutation's text (a new document each time, which the server parses and validates: the figures in README)")
	flag.Parse()
	if *token == "" {
		log.Fatal("subload: -token (or TOKEN) is required")
	}
	ctx := context.Background()

	// Open the sockets 50 at a time: the server closes a socket that
	// answers no ping for 20 s, and these never read one, so the window
	// must end within 20 s of the first.
	began := time.Now()
	conns := make([]*websocket.Conn, *sockets)
	var dial sync.WaitGroup
	sem := make(chan struct{}, 50)
	for i := range conns {
		sem <- struct{}{}
		dial.Go(func() {
			defer func() { <-sem }()
			c, err := probe.Subscriber(ctx, *url, *subs, "subscription { itemAdded { id name description createdAt } }")
			if err != nil {
				log.Fatalf("subload: socket %d: %v", i, err)
			}
			conns[i] = c
		})
	}
	dial.Wait()
	fmt.Printf("sockets %d × subscriptions %d open after %v; server RSS %s\n",
		*sockets, *subs, time.Since(began).Round(time.Millisecond), rss(*pid))

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *writers}}
	var added atomic.Int64
	var mu sync.Mutex
	var latencies []time.Duration
	var measuring atomic.Bool
	start := make(chan struct{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range *writers {
		wg.Go(func() {
			<-start
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				if err := addItem(ctx, client, *url, *token, fmt.Sprintf("load %d-%d", w, i), *variables); err != nil {
					log.Fatalf("subload: addItem: %v", err)
				}
				d := time.Since(t0)
				added.Add(1)
				if measuring.Load() {
					mu.Lock()
					latencies = append(latencies, d)
					mu.Unlock()
				}
			}
		})
	}
	close(start)
	for added.Load() < int64(*warm) {
		time.Sleep(10 * time.Millisecond)
	}
	from := added.Load()
	openAtStart := gauge(*url, "itemsapi_websocket_connections")
	cpu0, cpuErr := cpuTime(*pid)
	gc0 := gauge(*url, "go_gc_duration_seconds_count")
	measuring.Store(true)
	t0 := time.Now()
	fmt.Printf("window of %v from %d items\n", *window, from)
	// The least number of sockets open during the window, sampled: the
	// figure is with them open only if none was closed before its end.
	fewest := openAtStart
	for time.Since(t0) < *window {
		time.Sleep(min(250*time.Millisecond, *window-time.Since(t0)))
		if n := gauge(*url, "itemsapi_websocket_connections"); number(n) < number(fewest) {
			fewest = n
		}
	}
	measuring.Store(false)
	n := added.Load() - from
	elapsed := time.Since(t0)
	cpu1, err := cpuTime(*pid)
	cpuErr = errors.Join(cpuErr, err)
	gc1 := gauge(*url, "go_gc_duration_seconds_count")
	fmt.Printf("websockets open at the window's start: %s, fewest during it: %s, at its end: %s (%v after the first was opened); subscriptions at its end: %s\n",
		openAtStart, fewest, gauge(*url, "itemsapi_websocket_connections"), time.Since(began).Round(time.Millisecond),
		gauge(*url, "itemsapi_subscriptions_active"))
	close(stop)
	wg.Wait()

	mu.Lock()
	slices.Sort(latencies)
	p := func(q float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(q*float64(len(latencies))))]
	}
	fmt.Printf("addItem: %.0f/s over %v after %d warm items; p50 %v, p99 %v, max %v; server RSS %s\n",
		float64(n)/elapsed.Seconds(), elapsed.Round(time.Millisecond), from,
		p(0.50).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond), p(1).Round(10*time.Microsecond), rss(*pid))
	mu.Unlock()
	if cpuErr == nil && n > 0 {
		// CPU time per item depends much less than the throughput on
		// what else runs on the server's CPU.
		fmt.Printf("server CPU over the window: %v, %.0f µs per item\n",
			cpu1-cpu0, float64((cpu1-cpu0).Microseconds())/float64(n))
	}
	if c0, c1 := number(gc0), number(gc1); c0 >= 0 && c1 >= c0 && n > 0 {
		// The collector's cycles depend on what the server allocates
		// and keeps, not on what else runs on the machine.
		fmt.Printf("server GC cycles over the window: %.0f, %.1f per 10,000 items\n", c1-c0, (c1-c0)*10_000/float64(n))
	}
	for _, c := range conns {
		c.CloseNow()
	}
}

// addItem adds an item named name (which needs no JSON escaping): with
// the name in the document, a new document each time, which the server
// parses and validates (and its query cache keeps); with variables, in a
// variable of one document for every request, as clients send it.
func addItem(ctx context.Context, client *http.Client, url, token, name string, variables bool) error {
	body := fmt.Sprintf(`{"query":"mutation { addItem(input: {name: \"%s\"}) { id } }"}`, name)
	if variables {
		body = fmt.Sprintf(`{"query":"mutation Add($name: String!) { addItem(input: {name: $name}) { id } }","variables":{"name":"%s"}}`, name)
	}
	return probe.Post(ctx, client, url, token, body)
}

// number is a gauge's value as a number; -1 when it is not one.
func number(v string) float64 {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return -1
	}
	return f
}

// gauge returns the value of a metric without labels that the server at
// url (its /graphql) serves on /metrics.
func gauge(url, name string) string {
	m, err := probe.Metrics(strings.TrimSuffix(url, "/graphql"))
	if err != nil {
		return err.Error()
	}
	if v, ok := m[name]; ok {
		return v
	}
	return "?"
}

// cpuTime returns the CPU time that process pid has used; an error
// without -pid.
func cpuTime(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, errors.New("no -pid")
	}
	return probe.CPUTime(pid)
}

// rss returns the resident set size of process pid, from /proc.
func rss(pid int) string {
	if pid == 0 {
		return "(no -pid)"
	}
	st, err := probe.Status(pid)
	if err != nil {
		return err.Error()
	}
	if v, ok := st["VmRSS"]; ok {
		return v
	}
	return "?"
}
