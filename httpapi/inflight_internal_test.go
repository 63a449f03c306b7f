package httpapi

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
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
	h := newHeldDocs(f)
	first, second := parse(text), parse(strings.Clone(text))
	r1, err := h.hold(first)
	if err != nil {
		t.Fatal(err)
	}
	used := f.used
	r2, err := h.hold(second)
	if err != nil {
		t.Fatal(err)
	}
	if f.used != used {
		t.Errorf("a second operation of the same text took %d bytes more", f.used-used)
	}
	if second.Doc != first.Doc || second.Operation != first.Operation {
		t.Errorf("the second operation runs its own document, want the held one")
	}
	// Half the budget, then nothing more.
	big := parse("subscription { itemAdded { id } } #" + strings.Repeat("x", 600<<10))
	if _, err := h.hold(big); err == nil {
		t.Errorf("a document of 600 KiB was held with 1 MiB of budget, want refused past half")
	}
	r1()
	r1() // idempotent
	if f.used != used {
		t.Errorf("used %d after one of two released, want %d", f.used, used)
	}
	r2()
	if f.used != 0 || len(h.docs) != 0 {
		t.Errorf("used %d, %d documents held after all released, want none", f.used, len(h.docs))
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
