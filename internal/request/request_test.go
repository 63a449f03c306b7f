package request_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"itemsapi/internal/request"
	"itemsapi/items"
)

// serve runs h behind Start on a real server, so that the writer below
// the record's is net/http's own.
func serve(t testing.TB, h func(rec *request.Record, w http.ResponseWriter, r *http.Request)) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, w, r := request.Start(w, r, "req-1")
		h(rec, w, r)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestFlush(t *testing.T) {
	release := make(chan struct{})
	ts := serve(t, func(_ *request.Record, w http.ResponseWriter, _ *http.Request) {
		if _, ok := w.(http.Flusher); !ok {
			t.Error("the record's writer is not an http.Flusher")
		}
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release // the client reads the first line before the handler ends
		_, _ = io.WriteString(w, "second\n")
	})
	resp, err := http.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	close(release)
	if err != nil || line != "first\n" {
		t.Fatalf("first line = %q, %v; want it flushed before the handler returns", line, err)
	}
	if rest, _ := io.ReadAll(br); string(rest) != "second\n" {
		t.Errorf("rest = %q, want %q", rest, "second\n")
	}
}

func TestHijack(t *testing.T) {
	ts := serve(t, func(rec *request.Record, w http.ResponseWriter, _ *http.Request) {
		upgraded := 0
		rec.OnUpgrade(func() { upgraded++ })
		hj, ok := w.(http.Hijacker)
		if !ok {
			t.Error("the record's writer is not an http.Hijacker")
			return
		}
		w.WriteHeader(http.StatusSwitchingProtocols)
		if upgraded != 1 || rec.Status() != http.StatusSwitchingProtocols {
			t.Errorf("after 101: OnUpgrade called %d times, Status() = %d; want 1, 101", upgraded, rec.Status())
		}
		conn, buf, err := hj.Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("raw bytes")
		_ = buf.Flush()
	})
	got := upgrade(t, ts)
	if !strings.Contains(got, "101 Switching Protocols") || !strings.HasSuffix(got, "raw bytes") {
		t.Errorf("answer = %q, want a 101 and then the hijacked connection's bytes", got)
	}
}

// upgrade sends ts a request to upgrade its connection, and returns all
// that comes back until the server closes the connection.
func upgrade(t *testing.T, ts *httptest.Server) string {
	t.Helper()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
	got, _ := io.ReadAll(conn)
	return string(got)
}

func TestResponseController(t *testing.T) {
	ts := serve(t, func(_ *request.Record, w http.ResponseWriter, _ *http.Request) {
		// Deadlines need the net/http writer itself, reached through Unwrap.
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline through the record's writer: %v", err)
		}
	})
	resp, err := http.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestRecord(t *testing.T) {
	var got struct {
		id, reqID, token, route, op string
		hash                        items.TokenHash
		same                        bool
		status                      int
		bytes                       int64
	}
	r := chi.NewRouter()
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec, w, r := request.Start(w, r, "req-7")
			next.ServeHTTP(w, r)
			got.status, got.bytes, got.route, got.op = rec.Status(), rec.Bytes(), rec.Route(), rec.Operation()
		})
	})
	r.Get("/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		rec := request.From(r.Context())
		// A reader finds the record, and keeps the writer it is given.
		again, w2, _ := request.Of(w, r)
		got.same = again == rec && w2 == w
		got.id, got.reqID = rec.ID(), items.RequestID(r.Context())
		if tok := rec.Token(); tok != nil {
			got.token, got.hash = tok.Value, tok.Hash()
		}
		rec.SetOperation("ListItems")
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, "12345")
	})
	req := httptest.NewRequest(http.MethodGet, "/items/3?x=1", nil)
	req.Header.Set("Authorization", "bearer  tok-1 ")
	r.ServeHTTP(httptest.NewRecorder(), req)

	if !got.same {
		t.Error("Of made a second record or writer under the first")
	}
	if got.id != "req-7" || got.reqID != "req-7" {
		t.Errorf("ID() = %q, items.RequestID = %q; want req-7", got.id, got.reqID)
	}
	if got.token != "tok-1" || got.hash != items.HashToken("tok-1") {
		t.Errorf("token %q with hash %x; want tok-1 and its hash", got.token, got.hash)
	}
	if got.status != http.StatusTeapot || got.bytes != 5 {
		t.Errorf("Status(), Bytes() = %d, %d; want 418, 5", got.status, got.bytes)
	}
	if got.route != "/items/{id}" || got.op != "ListItems" {
		t.Errorf("Route(), Operation() = %q, %q; want /items/{id}, ListItems", got.route, got.op)
	}
}

func TestTokenFromHeader(t *testing.T) {
	tests := []struct {
		header, value string
		want          string
		wantOK        bool
	}{
		{"Authorization", "Bearer abc", "abc", true},
		{"Authorization", "BEARER  abc ", "abc", true},
		{"Authorization", "Basic abc", "Basic abc", true}, // refused as invalid, not as absent
		{"Token", " abc ", "abc", true},
		{"X-Other", "abc", "", false},
	}
	for _, tt := range tests {
		h := http.Header{}
		h.Set(tt.header, tt.value)
		if got, ok := request.TokenFromHeader(h); got != tt.want || ok != tt.wantOK {
			t.Errorf("TokenFromHeader(%s: %q) = %q, %v; want %q, %v", tt.header, tt.value, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestNoToken(t *testing.T) {
	rec, _, _ := request.Of(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if tok := rec.Token(); tok != nil {
		t.Errorf("Token() = %+v for a request without one, want nil", tok)
	}
	if rec.Status() != 0 {
		t.Errorf("Status() = %d before an answer, want 0", rec.Status())
	}
}

// wrappedConn is the net.Conn an OnHijack function returns in TestOnHijack.
type wrappedConn struct {
	net.Conn
	writes int
}

func (c *wrappedConn) Write(p []byte) (int, error) {
	c.writes++
	return c.Conn.Write(p)
}

// TestOnHijack checks that the connection a hijack hands over is the one
// the record's OnHijack function makes of net/http's, and that the
// hijack's buffered writer writes through it too.
func TestOnHijack(t *testing.T) {
	ts := serve(t, func(rec *request.Record, w http.ResponseWriter, _ *http.Request) {
		var wrapped *wrappedConn
		rec.OnHijack(func(c net.Conn) net.Conn {
			wrapped = &wrappedConn{Conn: c}
			return wrapped
		})
		w.WriteHeader(http.StatusSwitchingProtocols)
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		if wrapped == nil || conn != net.Conn(wrapped) {
			t.Errorf("Hijack returned %T, want the OnHijack function's connection", conn)
			return
		}
		_, _ = buf.WriteString("buffered, ")
		_ = buf.Flush()
		_, _ = io.WriteString(conn, "direct")
		if wrapped.writes != 2 {
			t.Errorf("%d writes through the wrapped connection, want 2", wrapped.writes)
		}
	})
	got := upgrade(t, ts)
	if !strings.Contains(got, "101 Switching Protocols") || !strings.HasSuffix(got, "buffered, direct") {
		t.Errorf("answer = %q, want a 101 and then the bytes written through the wrapped connection", got)
	}
}
