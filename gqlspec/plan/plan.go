// Package plan answers GraphQL queries with compiled plans: a validated
// query operation is compiled once into a tree of collected fields (its
// fragments expanded, its fields merged and its @skip and @include
// applied, as gqlgen's CollectFields does them), and executing the plan
// walks that tree over the resolvers' results, writing the JSON answer
// straight into a buffer: no field context per field, no goroutine, no
// reflection, no intermediate maps.
//
// gqlgen stays the reference. An operation the compiler does not support
// (subscriptions, a mutation of more than one field, introspection,
// @defer, a field without a writer) is left to gqlgen's executor, and so
// is one whose execution meets any error (a resolver's, a bad argument, a
// null where the schema forbids one): its output is discarded and gqlgen
// answers it, so that every error answer is gqlgen's.
//
// A mutation's field changes the store, and must run once: when a plan
// fails after calling its resolver, gqlgen answers with what that call
// returned (or the panic it raised), recorded in the context it is given,
// rather than calling the resolver again (Replaying).
//
// The code that writes each type (types_gen.go) is generated from
// schema.graphqls and gqlgen.yml by gqlspec/gqlgen; the resolvers of the
// fields that have one are called from resolvers.go.
package plan

import (
	"context"
	"errors"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"itemsapi/graph"
	"itemsapi/internal/cache"
)

// Engine compiles operations into plans, keeps them, and executes them.
type Engine struct {
	r      *graph.Resolver
	schema *ast.Schema
	cfg    Config
	plans  *cache.Cache[*ast.OperationDefinition, *plan]
	// bufs holds the buffers that Execute writes answers into.
	bufs sync.Pool
}

// Config are the settings of an Engine.
type Config struct {
	// MaxBytes bounds the memory of the plans kept.
	MaxBytes int64
	// BytesPerSourceByte is what a parsed and validated document is
	// reckoned to take per byte of its text: a plan keeps its document's
	// tree (it points into it), and weighs it so, as if the query cache
	// had evicted it.
	BytesPerSourceByte int64
	// Observe, when not nil, is told the outcome of each operation the
	// engine is asked to answer.
	Observe func(Outcome)
}

// Outcome is what became of an operation the engine was asked to answer.
type Outcome int

const (
	// Compiled: a plan answered it.
	Compiled Outcome = iota
	// Fallback: a plan met an error; gqlgen's executor answers it.
	Fallback
	// Unsupported: no plan (not a query, or a construct the compiler
	// leaves to gqlgen); gqlgen's executor answers it.
	Unsupported
)

// New returns an engine over the resolvers of r and schema.
func New(r *graph.Resolver, schema *ast.Schema, cfg Config) *Engine {
	e := &Engine{
		r:      r,
		schema: schema,
		cfg:    cfg,
		plans:  cache.New[*ast.OperationDefinition, *plan](cache.Config{MaxBytes: cfg.MaxBytes}),
	}
	e.bufs.New = func() any { b := make([]byte, 0, 4096); return &b }
	return e
}

// observe reports an outcome.
func (e *Engine) observe(o Outcome) {
	if e.cfg.Observe != nil {
		e.cfg.Observe(o)
	}
}

// CacheStats returns what the cache of plans holds.
func (e *Engine) CacheStats() cache.Stats { return e.plans.Stats() }

// maxVariants bounds the plans of one operation: one per combination of
// the values of the variables its @skip and @include read.
const maxVariants = 16

// plan is what the engine keeps of one operation: its compiled variants,
// by the values of the variables that its directives read.
type plan struct {
	// unsupported: the operation is gqlgen's.
	unsupported bool
	// dirVars are the variables that @skip and @include read.
	dirVars []string

	mu       sync.Mutex
	variants map[uint32]*compiled
}

// compiled is an operation compiled for one set of directive values.
type compiled struct {
	root []sel
	// users: the plan selects Item.createdBy, whose users one response
	// loads once.
	users bool
	// object is the root type: Query or Mutation.
	object string
}

// planCost weighs a plan in the cache: the document it keeps, weighed as
// the query cache weighs it (the plan's own tree is smaller than the
// document's), and a fixed part.
func (e *Engine) planCost(op *ast.OperationDefinition) int64 {
	n := int64(512)
	if op.Position != nil && op.Position.Src != nil {
		n += e.cfg.BytesPerSourceByte * int64(len(op.Position.Src.Input))
	}
	return n
}

// errUnsupported marks an operation the compiler leaves to gqlgen.
var errUnsupported = errors.New("plan: unsupported")

// Execute answers the operation of oc with its plan: the JSON of the
// response's data, and true; or false when the operation is gqlgen's, to
// answer, under the context returned, as it would have without the
// engine. ctx must be the operation's context (the caller's token and
// request in it).
func (e *Engine) Execute(ctx context.Context, oc *graphql.OperationContext) ([]byte, context.Context, bool) {
	bp := e.bufs.Get().(*[]byte)
	b, fallback, ok := e.Append(ctx, oc, (*bp)[:0])
	var out []byte
	if ok {
		out = append([]byte(nil), b...)
	}
	if cap(b) <= maxPooled {
		*bp = b
		e.bufs.Put(bp)
	}
	return out, fallback, ok
}

// Append is Execute appending the data to dst: it returns the longer
// slice and true, or dst, the context gqlgen's executor must answer
// under (Tried, and with the outcome of a mutation's resolver when the
// plan called it) and false.
func (e *Engine) Append(ctx context.Context, oc *graphql.OperationContext, dst []byte) ([]byte, context.Context, bool) {
	op := oc.Operation
	if op == nil || op.Operation != ast.Query && op.Operation != ast.Mutation {
		e.observe(Unsupported)
		return dst, Tried(ctx), false
	}
	p, ok := e.plans.Get(op)
	if !ok {
		p = e.prepare(oc)
		e.plans.Set(op, p, e.planCost(op))
	}
	if p.unsupported {
		e.observe(Unsupported)
		return dst, Tried(ctx), false
	}
	c, ok := p.variant(e, oc)
	if !ok {
		e.observe(Unsupported)
		return dst, Tried(ctx), false
	}
	var o *outcome
	if op.Operation == ast.Mutation {
		o = &outcome{}
	}
	b, ok := e.run(ctx, oc, c, o, dst)
	if ok {
		e.observe(Compiled)
		return b, ctx, true
	}
	e.observe(Fallback)
	fallback := Tried(ctx)
	if o != nil && o.called {
		fallback = context.WithValue(fallback, outcomeKey{}, o)
	}
	return b, fallback, false
}

// prepare finds what a plan of oc's operation needs: whether it is
// supported at all, and which variables its directives read.
func (e *Engine) prepare(oc *graphql.OperationContext) *plan {
	p := &plan{variants: make(map[uint32]*compiled)}
	vars, err := directiveVariables(oc.Doc, oc.Operation)
	if err != nil || len(vars) > 8 {
		p.unsupported = true
		return p
	}
	p.dirVars = vars
	return p
}

// variant returns the plan compiled for the values oc gives the
// directives' variables, compiling it on first use.
func (p *plan) variant(e *Engine, oc *graphql.OperationContext) (*compiled, bool) {
	var key uint32
	for i, name := range p.dirVars {
		v, ok := variableValue(oc, name)
		b, isBool := v.(bool)
		switch {
		case !ok || !isBool:
			return nil, false // gqlgen panics on it: let it answer
		case b:
			key |= 1 << (2 * i)
		default:
			key |= 2 << (2 * i)
		}
	}
	p.mu.Lock()
	c, ok := p.variants[key]
	p.mu.Unlock()
	if ok {
		return c, c != nil
	}
	c, err := compile(e.schema, oc)
	if err != nil {
		c = nil
	}
	p.mu.Lock()
	if len(p.variants) < maxVariants {
		p.variants[key] = c
	}
	p.mu.Unlock()
	return c, c != nil
}

// variableValue is the value of a variable as gqlparser's Value gives
// it: the one sent, else the default of its definition.
func variableValue(oc *graphql.OperationContext, name string) (any, bool) {
	if v, ok := oc.Variables[name]; ok {
		return v, true
	}
	def := oc.Operation.VariableDefinitions.ForName(name)
	if def == nil || def.DefaultValue == nil {
		return nil, false
	}
	v, err := def.DefaultValue.Value(oc.Variables)
	return v, err == nil
}

// maxPooled is the largest buffer put back in the pool.
const maxPooled = 1 << 20

// run executes c, appending to dst; o, for a mutation, records the
// call of its field's resolver. A panic, like an error, leaves the
// operation to gqlgen.
func (e *Engine) run(ctx context.Context, oc *graphql.OperationContext, c *compiled, o *outcome, dst []byte) (out []byte, ok bool) {
	x := exec{ctx: ctx, oc: oc, r: e.r, users: c.users, object: c.object, outcome: o}
	if c.users {
		x.ctx = graph.WithUserCache(ctx)
	}
	n := len(dst)
	defer func() {
		if recover() != nil {
			out, ok = dst[:n], false
		}
	}()
	var (
		b   []byte
		err error
	)
	if o != nil {
		b, err = x.writeMutation(dst, c.root)
	} else {
		b, err = x.writeQuery(dst, c.root)
	}
	if err != nil {
		return b[:n], false
	}
	return b, true
}

// exec is one execution of a plan.
type exec struct {
	ctx context.Context
	oc  *graphql.OperationContext
	r   *graph.Resolver
	// users: the response has a cache of users to load pages' into.
	users bool
	// object is the root type: Query or Mutation.
	object string
	// outcome records the call of a mutation's resolver (nil for a
	// query).
	outcome *outcome
}

// errNull is a null where the schema forbids one: gqlgen answers it.
var errNull = errors.New("plan: null in a non-null position")
