package metrics_test

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"

	"itemsapi/graph"
	"itemsapi/metrics"
	"itemsapi/store/memory"
)

// subscriptionExec returns an executor over a memory store with m's
// extension, and the context of an operation on it, with its cancel (also
// called when the test ends).
func subscriptionExec(t *testing.T, m *metrics.Metrics) (*executor.Executor, context.Context, context.CancelFunc) {
	t.Helper()
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	exec := executor.New(graph.NewSchema(&graph.Resolver{Store: st, Broker: st}))
	exec.Use(m.Extension())
	ctx, cancel := context.WithCancel(graphql.StartOperationTrace(t.Context()))
	t.Cleanup(cancel)
	return exec, ctx, cancel
}

// TestOperationStarted: an operation that its transport counts with
// OperationStarted is counted once, until the function it returned is
// called, however many times that is, and Extension does not count it
// again, while still counting its request.
func TestOperationStarted(t *testing.T) {
	reg, m := newMetrics()
	exec, ctx, cancel := subscriptionExec(t, m)
	ctx, ended := m.OperationStarted(ctx)
	if got := value(t, reg, "itemsapi_subscriptions_active"); got != 1 {
		t.Fatalf("itemsapi_subscriptions_active = %v once started, want 1", got)
	}
	rc, errs := exec.CreateOperationContext(ctx, &graphql.RawParams{Query: `subscription S { itemAdded { id } }`})
	if errs != nil {
		t.Fatal(errs)
	}
	responses, ctx := exec.DispatchOperation(graphql.WithOperationContext(ctx, rc), rc)
	if got := value(t, reg, "itemsapi_subscriptions_active"); got != 1 {
		t.Errorf("itemsapi_subscriptions_active = %v with the subscription dispatched, want 1", got)
	}
	if got := snapshot(t, reg, "itemsapi_graphql_requests_total")["operation=S,type=subscription"]; got != 1 {
		t.Errorf("itemsapi_graphql_requests_total of S = %v, want 1", got)
	}
	cancel()
	if resp := responses(ctx); resp != nil {
		t.Errorf("a response after the cancel: %+v", resp)
	}
	if got := value(t, reg, "itemsapi_subscriptions_active"); got != 1 {
		t.Errorf("itemsapi_subscriptions_active = %v once the stream ended, before its transport says so, want 1", got)
	}
	ended()
	ended()
	if got := value(t, reg, "itemsapi_subscriptions_active"); got != 0 {
		t.Errorf("itemsapi_subscriptions_active = %v once ended (twice), want 0", got)
	}
}

// TestCountOperation: an operation counted with CountOperation is counted
// once, Extension does not count it again, and OperationEnded uncounts it.
func TestCountOperation(t *testing.T) {
	reg, m := newMetrics()
	exec, ctx, cancel := subscriptionExec(t, m)
	ctx = m.CountOperation(ctx)
	rc, errs := exec.CreateOperationContext(ctx, &graphql.RawParams{Query: `subscription S { itemAdded { id } }`})
	if errs != nil {
		t.Fatal(errs)
	}
	exec.DispatchOperation(graphql.WithOperationContext(ctx, rc), rc)
	if got := value(t, reg, "itemsapi_subscriptions_active"); got != 1 {
		t.Errorf("itemsapi_subscriptions_active = %v with the subscription dispatched, want 1", got)
	}
	cancel()
	m.OperationEnded()
	if got := value(t, reg, "itemsapi_subscriptions_active"); got != 0 {
		t.Errorf("itemsapi_subscriptions_active = %v once ended, want 0", got)
	}
}
