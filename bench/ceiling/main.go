// Command ceiling is the fastest server that still answers the benchmark's
// requests correctly: it looks each request body up, byte for byte, among
// answers the real server gave (and the checker verified), and writes the
// stored response with the headers the real server sends. No parsing, no
// validation, no store, no logging.
//
// Nothing GraphQL-shaped can beat it on the same machine, so the real
// server's throughput divided by the ceiling's is its distance from this
// machine's limit: what net/http, the kernel's loopback and the load
// generator leave over for everything the server does.
//
//	ceiling -addr 127.0.0.1:0 DIR/list.jsonl DIR/get.jsonl …
//
// Each file holds workload.Answer lines, written by bench/check. A body
// that no line has gets the one "any" answer if some file gives one (add,
// whose bodies differ), else a 400.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"itemsapi/bench/workload"
	"itemsapi/items"
)

// maxBody is the real server's default request body limit.
const maxBody = 2 << 20

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: ceiling [-addr HOST:PORT] ANSWERS.jsonl …")
		flag.PrintDefaults()
	}
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, flag.Args(), log); err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr string, files []string, log *slog.Logger) error {
	if len(files) == 0 {
		return errors.New("no answer files")
	}
	h := &handler{answers: make(map[string][]byte)}
	for _, f := range files {
		if err := h.load(f); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	// The real server's settings, though none of them costs anything here.
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	// The run script waits for this line, as it does for the server's.
	log.Info("listening", "addr", ln.Addr().String(), "answers", len(h.answers), "any", h.any != nil)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// handler answers from memory.
type handler struct {
	answers map[string][]byte // request body → response body
	any     []byte            // the answer to any other body, or nil
}

func (h *handler) load(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20) // a response of 100 items is far larger than a default line
	for line := 1; sc.Scan(); line++ {
		var a workload.Answer
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			return fmt.Errorf("%s:%d: %v", path, line, err)
		}
		switch {
		case a.Any && h.any != nil:
			return fmt.Errorf("%s:%d: a second answer to any body", path, line)
		case a.Any:
			h.any = []byte(a.Response)
		default:
			h.answers[a.Body] = []byte(a.Response)
		}
	}
	return sc.Err()
}

// The headers of the real server's answer to a GraphQL POST. The real
// server makes a random 16-hex-digit request ID for each request; a fixed
// one of the same length puts the same bytes on the wire for less work.
// The slices are shared by every response: net/http only reads them.
var (
	contentType  = []string{"application/json; charset=utf-8"}
	cacheControl = []string{"no-store"}
	requestID    = []string{"0123456789ab-1a2b3"} // the shape of the server's: a prefix and a counter
)

// bufs recycles request body buffers: reading a body is work any server
// must do, allocating for it is not.
var bufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/graphql" {
		http.NotFound(w, r)
		return
	}
	buf := bufs.Get().(*bytes.Buffer)
	defer bufs.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxBody)); err != nil {
		http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	// Indexing with string(bytes) does not allocate.
	resp, ok := h.answers[string(buf.Bytes())]
	if !ok {
		resp = h.any
	}
	hdr := w.Header()
	hdr["Content-Type"] = contentType
	hdr["Cache-Control"] = cacheControl
	hdr["X-Request-Id"] = requestID
	if resp == nil {
		// A body the checker never sent: fail loudly, as a non-2xx that
		// the load run counts, rather than answer something.
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"errors":[{"message":"the ceiling has no answer to this body","extensions":{"code":"`+items.BadRequest.Public()+`"}}]}`)
		return
	}
	_, _ = w.Write(resp)
}
