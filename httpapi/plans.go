package httpapi

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"itemsapi/gqlspec/plan"
	"itemsapi/metrics"
)

// plans answers the queries and mutations of GraphQL over HTTP with compiled plans
// (gqlspec/plan) in the transport itself, before gqlgen's dispatch: the
// operation has been parsed, validated, limited and its variables checked
// by gqlgen's CreateOperationContext, as every operation is, and what
// gqlgen's operation interceptors do for an operation is done here too
// (metrics, the operation's name in the access log); the tracing
// extension, the one other interceptor, turns plans off. A query the plan
// does not answer goes on to gqlgen's executor, untouched. The other
// transports (websockets, event streams) answer queries through
// the engine's extension (plan.Engine.Extension).
type plans struct {
	engine  *plan.Engine
	metrics *metrics.Metrics
	// bodies holds the buffers that plans write answers into.
	bodies sync.Pool
}

// newPlans returns the plans of engine, counted in m when not nil.
func newPlans(engine *plan.Engine, m *metrics.Metrics) *plans {
	p := &plans{engine: engine, metrics: m}
	p.bodies.New = func() any { b := make([]byte, 0, 4096); return &b }
	return p
}

// maxPooledBody is the largest buffer put back in the pool.
const maxPooledBody = 1 << 20

// answer returns the body of the answer to rc, `{"data":…}`, as gqlgen's
// executor and the transport would write it, and the pooled buffer that
// holds it; or a nil buffer and the context that gqlgen must answer
// under (see plan.Engine.Append).
func (p *plans) answer(ctx context.Context, rc *graphql.OperationContext) ([]byte, *[]byte, context.Context) {
	bp := p.bodies.Get().(*[]byte)
	b := append((*bp)[:0], `{"data":`...)
	b, fallback, ok := p.engine.Append(graphql.WithOperationContext(ctx, rc), rc, b)
	if !ok {
		p.put(bp, b)
		return nil, nil, fallback
	}
	setOperation(ctx, rc.OperationName)
	if p.metrics != nil {
		p.metrics.OperationAnswered(rc)
	}
	return append(b, '}'), bp, ctx
}

// put puts back the buffer bp, whose bytes are now b: a nil bp is no
// pooled buffer. p may be nil (plans off), with bp.
func (p *plans) put(bp *[]byte, b []byte) {
	if p == nil || bp == nil || cap(b) > maxPooledBody {
		return
	}
	*bp = b[:0]
	p.bodies.Put(bp)
}
