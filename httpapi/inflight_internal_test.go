package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"itemsapi/metrics"
)

// TestInflightSmallGoesAhead: while a large reservation waits for room, a
// small one that fits in what is free is granted at once.
func TestInflightSmallGoesAhead(t *testing.T) {
	f := newInflight(1000, 1000)
	held := &reservation{in: f}
	if err := held.grow(t.Context(), 900); err != nil {
		t.Fatal(err)
	}
	large := &reservation{in: f}
	largeDone := make(chan error, 1)
	go func() { largeDone <- large.grow(t.Context(), 300) }()
	// Poll until the large one waits, with a deadline.
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		f.mu.Lock()
		waiting := f.waiting
		f.mu.Unlock()
		if waiting == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the large reservation never waited")
		}
		<-tick.C
	}

	small := &reservation{in: f}
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // granted at once, or not at all
	if err := small.grow(ctx, 50); err != nil {
		t.Errorf("a small reservation behind a waiting large one: %v, want it granted", err)
	}
	small.release()
	held.release()
	if err := <-largeDone; err != nil {
		t.Errorf("the large reservation once room was freed: %v", err)
	}
	large.release()
	if f.used != 0 {
		t.Errorf("%d bytes still in use after every release", f.used)
	}
}

// TestHeldDocs: operations of one text share one held document, counted
// once, even when each parsed its own; documents hold at most half the
// budget; releasing the last operation of a document frees its bytes.
func TestHeldDocs(t *testing.T) {
	parse := func(text string) *graphql.OperationContext {
		doc, errs := parser.ParseQuery(&ast.Source{Input: text})
		if errs != nil {
			t.Fatal(errs)
		}
		return &graphql.OperationContext{RawQuery: text, Doc: doc, Operation: doc.Operations[0]}
	}
	const text = "subscription { itemAdded { id } }"
	f := newInflight(1<<20, 1<<20)
	h := newHeldDocs(f, 0.5) // half of half the budget an address: 256 KiB
	a, b, c := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("198.51.100.3")
	first, second := parse(text), parse(strings.Clone(text))
	r1, err := h.hold(first, a)
	if err != nil {
		t.Fatal(err)
	}
	used := f.used
	r2, err := h.hold(second, b)
	if err != nil {
		t.Fatal(err)
	}
	if f.used != used {
		t.Errorf("a second operation of the same text took %d bytes more", f.used-used)
	}
	if second.Doc != first.Doc || second.Operation != first.Operation {
		t.Errorf("the second operation runs its own document, want the held one")
	}
	// A document counts in the share of the address that held it first.
	padded := func(n int) string { return "subscription { itemAdded { id } } #" + strings.Repeat("x", n) }
	r3, err := h.hold(parse(padded(200<<10)), a)
	if err != nil {
		t.Fatalf("200 KiB within the address's share: %v", err)
	}
	if _, err := h.hold(parse(padded(100<<10)), a); !errors.Is(err, errBusyShare) {
		t.Errorf("100 KiB more for the same address: %v, want refused for its share", err)
	}
	r4, err := h.hold(parse(padded(100<<10)), b)
	if err != nil {
		t.Errorf("the same 100 KiB for another address: %v", err)
	}
	// Half the budget, then nothing more.
	if _, err := h.hold(parse(padded(300<<10)), c); !errors.Is(err, errBusy) {
		t.Errorf("a document of 300 KiB held with 1 MiB of budget and 300 KiB held: %v, want refused past half", err)
	}
	heldByA := h.byAddress.of(a)
	r1()
	r1() // idempotent
	if got := h.byAddress.of(a); got != heldByA {
		t.Errorf("a holds %d after its operation of the text b runs too ended, want %d: the document stays held, in a's share", got, heldByA)
	}
	r2()
	r3()
	r4()
	if f.used != 0 || len(h.docs) != 0 || len(h.byAddress.held) != 0 {
		t.Errorf("used %d, %d documents held, %d addresses counted after all released, want none", f.used, len(h.docs), len(h.byAddress.held))
	}
}

// TestReservationTrim: trim gives back what is held beyond n, and nothing
// when less is held.
func TestReservationTrim(t *testing.T) {
	f := newInflight(1000, 1000)
	res := &reservation{in: f}
	if err := res.grow(t.Context(), 300); err != nil {
		t.Fatal(err)
	}
	res.trim(60)
	if f.used != 60 || res.held != 60 {
		t.Errorf("after trim(60): used %d, held %d; want 60, 60", f.used, res.held)
	}
	res.trim(100)
	if f.used != 60 {
		t.Errorf("after trim(100): used %d, want 60", f.used)
	}
	res.release()
	if f.used != 0 {
		t.Errorf("after release: used %d, want 0", f.used)
	}
}

// TestInflightSharePerAddress: an address holds at most its share of the
// bytes in flight: past it, it is refused (with the share's message, and
// counted as the address's) while another address is still granted what
// the budget has; a request larger than the share is granted the share;
// the budget itself refuses as before, counted as the server's.
func TestInflightSharePerAddress(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs strings.Builder
	f := newInflight(1000, 1000).share(0.25, metrics.New(reg), slog.New(slog.NewTextHandler(&logs, nil)))
	a, b, c := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("198.51.100.3")
	now, cancel := context.WithCancel(t.Context())
	cancel() // granted at once, or refused at once
	held := &reservation{in: f, addr: a}
	if err := held.grow(now, 250); err != nil {
		t.Fatalf("the address's share: %v", err)
	}
	more := &reservation{in: f, addr: a}
	if err := more.grow(now, 1); err == nil || more.message() != busyShareMessage {
		t.Errorf("a byte past the address's share: %v, %q; want refused, naming the share", err, more.message())
	}
	again := &reservation{in: f, addr: a}
	if err := again.grow(now, 1); err == nil {
		t.Errorf("a byte past the address's share, again: granted")
	}
	if n := strings.Count(logs.String(), "limit=inflight_bytes"); n != 1 || !strings.Contains(logs.String(), "addr=198.51.100.1") {
		t.Errorf("logged %d warnings for 2 refusals of one address, want 1 naming it:\n%s", n, logs.String())
	}
	other := &reservation{in: f, addr: b}
	if err := other.grow(now, 250); err != nil {
		t.Errorf("another address, with the budget free: %v", err)
	}
	third := &reservation{in: f, addr: c}
	if err := third.grow(now, 250); err != nil {
		t.Errorf("a third address: %v", err)
	}
	// 750 held: a fourth address's share does not fit in the budget's
	// 250 left once 1 more is held.
	fourth := &reservation{in: f, addr: netip.MustParseAddr("198.51.100.4")}
	if err := fourth.grow(now, 1); err != nil {
		t.Fatal(err)
	}
	full := &reservation{in: f, addr: netip.MustParseAddr("198.51.100.5")}
	if err := full.grow(now, 250); err == nil || full.message() != busyMessage {
		t.Errorf("past the budget: %v, %q; want refused, naming the server", err, full.message())
	}
	held.release()
	large := &reservation{in: f, addr: a}
	if err := large.grow(now, 5000); err != nil || large.held != 250 {
		t.Errorf("a request larger than the share: %v, %d held; want the share, 250", err, large.held)
	}
	for _, r := range []*reservation{more, other, third, fourth, full, large} {
		r.release()
	}
	if f.used != 0 || len(f.byAddress.held) != 0 {
		t.Errorf("%d bytes still in use, %d addresses counted, after every release", f.used, len(f.byAddress.held))
	}
	for scope, want := range map[string]float64{"address": 2, "server": 1} {
		if got := refusedCount(t, reg, "inflight_bytes", scope); got != want {
			t.Errorf("itemsapi_admission_refused_total{limit=inflight_bytes,scope=%s} = %v, want %v", scope, got, want)
		}
	}
}

// refusedCount reads itemsapi_admission_refused_total{limit, scope}.
func refusedCount(t *testing.T, reg *prometheus.Registry, limit, scope string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "itemsapi_admission_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["limit"] == limit && labels["scope"] == scope {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no itemsapi_admission_refused_total{limit=%q,scope=%q}", limit, scope)
	return 0
}
