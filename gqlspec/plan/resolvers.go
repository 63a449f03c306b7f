package plan

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"itemsapi/gqlspec/scalar"
	"itemsapi/graph"
	"itemsapi/graph/model"
	"itemsapi/items"
)

// The fields that have a resolver are resolved here, through the same
// resolvers as gqlgen's generated code calls, with their arguments
// unmarshalled as it unmarshals them. types_gen.go calls these methods;
// a resolver field the schema adds needs one (the build fails without
// it), which may answer errUnsupported until it is written.

// needsUsers are the fields whose resolvers load users: a plan that
// selects one gives its response a cache of users (graph.WithUserCache).
var needsUsers = map[fieldID]bool{fieldItem_createdBy: true, fieldToken_user: true}

// arg returns the value of the i-th argument of s, as gqlparser's
// ArgumentMap gives it: false when it has none (absent, without a
// default).
func (x *exec) arg(s *sel, i int) (any, bool) {
	a := &s.args[i]
	switch a.kind {
	case argConst:
		return a.value, true
	case argVariable:
		if v, ok := x.oc.Variables[a.name]; ok {
			return v, true
		}
	case argDynamic:
		v, err := a.raw.Value(x.oc.Variables)
		if err != nil {
			panic(err) // as gqlparser's ArgumentMap: run recovers it
		}
		return v, true
	}
	return a.def, a.hasDef
}

// frame holds what a root field's resolver is given by pointer: its field
// context and its arguments, in one allocation.
type frame struct {
	fc      graphql.FieldContext
	ints    [2]int
	strs    [3]string
	order   model.ItemOrder
	nInts   int
	nStrs   int
	ordered bool
}

// optInt unmarshals an optional Int argument as gqlgen does: nil when it
// is absent or null.
func (f *frame) optInt(v any, ok bool) (*int, error) {
	if !ok || v == nil {
		return nil, nil //nolint:nilnil // an absent argument, as gqlgen passes it
	}
	n, err := scalar.UnmarshalInt(v)
	p := &f.ints[f.nInts]
	f.nInts++
	*p = n
	return p, err
}

// optString unmarshals an optional String argument as gqlgen does: nil
// when it is absent or null.
func (f *frame) optString(v any, ok bool) (*string, error) {
	if !ok || v == nil {
		return nil, nil //nolint:nilnil // an absent argument, as gqlgen passes it
	}
	s, err := scalar.UnmarshalString(v)
	p := &f.strs[f.nStrs]
	f.nStrs++
	*p = s
	return p, err
}

// reqID unmarshals a required ID argument as gqlgen does.
func reqID(v any, ok bool) (int64, error) {
	if !ok {
		return 0, nil
	}
	return scalar.UnmarshalID(v)
}

// optItemOrder unmarshals an optional ItemOrder argument as gqlgen does:
// nil when it is absent or null.
func (fr *frame) optItemOrder(v any, ok bool) (*model.ItemOrder, error) {
	if !ok || v == nil {
		return nil, nil //nolint:nilnil // an absent argument, as gqlgen passes it
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		return nil, errUnsupported
	}
	o := &fr.order
	if f, ok := m["field"]; ok {
		if err := o.Field.UnmarshalGQL(f); err != nil {
			return nil, err
		}
	}
	if d, ok := m["direction"]; ok {
		if err := o.Direction.UnmarshalGQL(d); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// fieldContext returns the context of a root field's resolver, with the
// field context that resolvers read (graph's given and selects) and the
// answer of @auth, when the field has it, as the directive gives it.
func (x *exec) fieldContext(s *sel, f *frame) (context.Context, error) {
	f.fc = graphql.FieldContext{Object: x.object, Field: *s.field, IsMethod: true, IsResolver: true}
	ctx := graphql.WithFieldContext(x.ctx, &f.fc)
	if s.auth != nil {
		if _, err := graph.Auth(ctx, nil, allowed, s.auth); err != nil {
			return nil, err
		}
	}
	return ctx, nil
}

// allowed is what @auth calls when the caller may use the field.
func allowed(context.Context) (any, error) { return true, nil }

// loadUsers loads the users who added the items of page into the
// response's cache, in one call: the items' createdBy then find them.
func (x *exec) loadUsers(ctx context.Context, page []items.Item) error {
	if !x.users || len(page) == 0 {
		return nil
	}
	_, err := x.r.Item().CreatedBy(ctx, pointers(page))
	return err
}

// pointers returns pointers to the elements of page, as batch resolvers
// take them.
func pointers[T any](page []T) []*T {
	ps := make([]*T, len(page))
	for i := range page {
		ps[i] = &page[i]
	}
	return ps
}

// Query_items resolves Query.items and writes its connection.
func (x *exec) Query_items(b []byte, s *sel) ([]byte, error) {
	f := &frame{}
	p, err := x.pageArgs(f, s, 0)
	if err != nil {
		return b, err
	}
	orderBy, err := f.optItemOrder(x.arg(s, 4))
	if err != nil {
		return b, err
	}
	ctx, err := x.fieldContext(s, f)
	if err != nil {
		return b, err
	}
	conn, err := x.r.Query().Items(ctx, p.first, p.after, p.last, p.before, orderBy)
	return x.writeItemPage(ctx, b, s, &conn, err)
}

// pageArgs are the arguments that page a connection both ways.
type pageArgs struct {
	first, last   *int
	after, before *string
}

// pageArgs reads first, after, last and before: the arguments of s from
// the i-th on.
func (x *exec) pageArgs(f *frame, s *sel, i int) (p pageArgs, err error) {
	if p.first, err = f.optInt(x.arg(s, i)); err != nil {
		return p, err
	}
	if p.after, err = f.optString(x.arg(s, i+1)); err != nil {
		return p, err
	}
	if p.last, err = f.optInt(x.arg(s, i+2)); err != nil {
		return p, err
	}
	p.before, err = f.optString(x.arg(s, i+3))
	return p, err
}

// writeItemPage writes conn, which a field of s resolved (or failed to,
// with err), once the users of its page are loaded.
func (x *exec) writeItemPage(ctx context.Context, b []byte, s *sel, conn *model.ItemConnection, err error) ([]byte, error) {
	if err != nil {
		return b, err
	}
	if err := x.loadUsers(ctx, conn.Page); err != nil {
		return b, err
	}
	return x.writeItemConnection(b, s.sub, conn)
}

// Query_item resolves Query.item and writes the item, or null.
func (x *exec) Query_item(b []byte, s *sel) ([]byte, error) {
	f := &frame{}
	id, err := reqID(x.arg(s, 0))
	if err != nil {
		return b, err
	}
	ctx, err := x.fieldContext(s, f)
	if err != nil {
		return b, err
	}
	it, err := x.r.Query().Item(ctx, id)
	if err != nil {
		return b, err
	}
	if it == nil {
		return append(b, "null"...), nil
	}
	return x.writeItem(b, s.sub, it)
}

// Query_search resolves Query.search and writes its connection.
func (x *exec) Query_search(b []byte, s *sel) ([]byte, error) {
	f := &frame{}
	query, err := f.optString(x.arg(s, 0))
	if err != nil {
		return b, err
	}
	p, err := x.pageArgs(f, s, 1)
	if err != nil {
		return b, err
	}
	ctx, err := x.fieldContext(s, f)
	if err != nil {
		return b, err
	}
	conn, err := x.r.Query().Search(ctx, query, p.first, p.after, p.last, p.before)
	return x.writeItemPage(ctx, b, s, &conn, err)
}

// Query_me resolves Query.me (@auth) and writes the user.
func (x *exec) Query_me(b []byte, s *sel) ([]byte, error) {
	f := &frame{}
	ctx, err := x.fieldContext(s, f)
	if err != nil {
		return b, err
	}
	u, err := x.r.Query().Me(ctx)
	if err != nil {
		return b, err
	}
	return x.writeUser(b, s.sub, &u)
}

// Query_tokens resolves Query.tokens (@auth) and writes its connection.
func (x *exec) Query_tokens(b []byte, s *sel) ([]byte, error) {
	f := &frame{}
	first, err := f.optInt(x.arg(s, 0))
	if err != nil {
		return b, err
	}
	after, err := f.optString(x.arg(s, 1))
	if err != nil {
		return b, err
	}
	user, err := f.optString(x.arg(s, 2))
	if err != nil {
		return b, err
	}
	ctx, err := x.fieldContext(s, f)
	if err != nil {
		return b, err
	}
	conn, err := x.r.Query().Tokens(ctx, first, after, user)
	if err != nil {
		return b, err
	}
	if x.users && len(conn.Page) > 0 {
		// The page's users in one call, into the response's cache, where
		// each token's user then finds its own.
		if _, err := x.r.Token().User(ctx, pointers(conn.Page)); err != nil {
			return b, err
		}
	}
	return x.writeTokenConnection(b, s.sub, &conn)
}

// Query_currentToken resolves Query.currentToken (@auth) and writes the token.
func (x *exec) Query_currentToken(b []byte, s *sel) ([]byte, error) {
	f := &frame{}
	ctx, err := x.fieldContext(s, f)
	if err != nil {
		return b, err
	}
	t, err := x.r.Query().CurrentToken(ctx)
	if err != nil {
		return b, err
	}
	return x.writeToken(b, s.sub, &t)
}

// Mutation_addItem resolves Mutation.addItem (@auth) and writes the item
// added.
func (x *exec) Mutation_addItem(b []byte, s *sel) ([]byte, error) {
	input, err := addItemInput(x.arg(s, 0))
	if err != nil {
		return b, err
	}
	return x.writeChanged(b, s, func(ctx context.Context) (items.Item, error) {
		return x.r.Mutation().AddItem(ctx, input)
	})
}

// Mutation_updateItem resolves Mutation.updateItem (@auth) and writes the
// item as the update left it.
func (x *exec) Mutation_updateItem(b []byte, s *sel) ([]byte, error) {
	id, err := reqID(x.arg(s, 0))
	if err != nil {
		return b, err
	}
	input, err := updateItemInput(x.arg(s, 1))
	if err != nil {
		return b, err
	}
	return x.writeChanged(b, s, func(ctx context.Context) (items.Item, error) {
		return x.r.Mutation().UpdateItem(ctx, id, input)
	})
}

// writeChanged checks @auth, calls a mutation's resolver (once) with the
// field's context, and writes the item it returns.
func (x *exec) writeChanged(b []byte, s *sel, resolve func(context.Context) (items.Item, error)) ([]byte, error) {
	ctx, err := x.fieldContext(s, &frame{})
	if err != nil {
		return b, err
	}
	it, err := once(x, func() (items.Item, error) { return resolve(ctx) })
	if err != nil {
		return b, err
	}
	return x.writeItem(b, s.sub, &it)
}

// Mutation_deleteItem resolves Mutation.deleteItem (@auth) and writes the
// ID deleted.
func (x *exec) Mutation_deleteItem(b []byte, s *sel) ([]byte, error) {
	f := &frame{}
	id, err := reqID(x.arg(s, 0))
	if err != nil {
		return b, err
	}
	expected, err := f.optInt(x.arg(s, 1))
	if err != nil {
		return b, err
	}
	ctx, err := x.fieldContext(s, f)
	if err != nil {
		return b, err
	}
	deleted, err := once(x, func() (int64, error) { return x.r.Mutation().DeleteItem(ctx, id, expected) })
	if err != nil {
		return b, err
	}
	return appendID(b, deleted), nil
}

// Mutation_createToken is left to gqlgen: it is rare, and its answer is a
// secret that no plan needs to write faster.
func (x *exec) Mutation_createToken(b []byte, s *sel) ([]byte, error) {
	return b, errUnsupported
}

// Mutation_revokeToken is left to gqlgen, as createToken is.
func (x *exec) Mutation_revokeToken(b []byte, s *sel) ([]byte, error) {
	return b, errUnsupported
}

// inputObject returns the fields of an input object argument; a value
// that validation would not have let through is gqlgen's to answer.
func inputObject(v any, ok bool) (map[string]any, error) {
	if m, isMap := v.(map[string]any); ok && isMap {
		return m, nil
	}
	return nil, errUnsupported
}

// addItemInput unmarshals an AddItemInput argument as gqlgen does.
func addItemInput(v any, ok bool) (n items.NewItem, err error) {
	m, err := inputObject(v, ok)
	if err != nil {
		return n, err
	}
	if name, ok := m["name"]; ok {
		if n.Name, err = scalar.UnmarshalString(name); err != nil {
			return n, err
		}
	}
	if d, ok := m["description"]; ok {
		n.Description, err = newString(d)
	}
	return n, err
}

// updateItemInput unmarshals an UpdateItemInput argument as gqlgen does.
func updateItemInput(v any, ok bool) (in model.UpdateItemInput, err error) {
	m, err := inputObject(v, ok)
	if err != nil {
		return in, err
	}
	if name, ok := m["name"]; ok {
		if in.Name, err = newString(name); err != nil {
			return in, err
		}
	}
	if d, ok := m["description"]; ok {
		var p *string
		if p, err = newString(d); err != nil {
			return in, err
		}
		in.Description = graphql.OmittableOf(p)
	}
	if e, ok := m["expectedVersion"]; ok && e != nil {
		n, err := scalar.UnmarshalInt(e)
		if err != nil {
			return in, err
		}
		in.ExpectedVersion = &n
	}
	return in, nil
}

// newString unmarshals an optional String as gqlgen does: nil for null.
func newString(v any) (*string, error) {
	if v == nil {
		return nil, nil //nolint:nilnil // null, as gqlgen passes it
	}
	s, err := scalar.UnmarshalString(v)
	return &s, err
}

// outcome is what the resolver of a mutation's field returned when a plan
// called it: its value and error, or the panic it raised. gqlgen, should
// it answer the operation after all, gets it from the context (Replaying)
// instead of calling the resolver again.
type outcome struct {
	called   bool
	value    any
	err      error
	panicked any
}

type outcomeKey struct{}

// replay returns what the resolver returned, or raises its panic again.
func (o *outcome) replay() (any, error) {
	if o.panicked != nil {
		panic(o.panicked)
	}
	return o.value, o.err
}

// once calls a mutation's resolver, recording the call in x.outcome: from
// then on, whatever becomes of the plan, the resolver is not called again.
func once[T any](x *exec, call func() (T, error)) (v T, err error) {
	o := x.outcome
	if o == nil || o.called {
		return v, errUnsupported // not a mutation, or a second field
	}
	o.called = true
	defer func() {
		if p := recover(); p != nil {
			o.panicked = p
			panic(p)
		}
	}()
	v, err = call()
	o.value, o.err = v, err
	return v, err
}

// Token_user resolves Token.user through its batch resolver and writes the user.
func (x *exec) Token_user(b []byte, s *sel, obj *items.Token) ([]byte, error) {
	users, err := x.r.Token().User(x.ctx, []*items.Token{obj})
	if err != nil {
		return b, err
	}
	if len(users) != 1 {
		return b, errNull
	}
	return x.writeUser(b, s.sub, &users[0])
}

// Item_createdBy resolves Item.createdBy through its batch resolver (the response's user cache holds the page's users) and writes the user, or null.
func (x *exec) Item_createdBy(b []byte, s *sel, obj *items.Item) ([]byte, error) {
	users, err := x.r.Item().CreatedBy(x.ctx, []*items.Item{obj})
	if err != nil {
		return b, err
	}
	if len(users) != 1 || users[0] == nil {
		return append(b, "null"...), nil
	}
	return x.writeUser(b, s.sub, users[0])
}
