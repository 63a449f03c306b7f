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
// context and its arguments, in one allocation; and the first error met
// unmarshalling them. A resolver unmarshals all its arguments, then
// fieldContext answers that error, as gqlgen fails the field before its
// directive runs.
type frame struct {
	fc    graphql.FieldContext
	ints  [2]int
	strs  [3]string
	order model.ItemOrder
	nInts int
	nStrs int
	err   error
}

// failed keeps err when it is the first error of the frame's arguments,
// and says whether there is one.
func (f *frame) failed(err error) bool {
	if f.err == nil {
		f.err = err
	}
	return f.err != nil
}

// optInt unmarshals an optional Int argument as gqlgen does: nil when it
// is absent or null.
func (f *frame) optInt(v any, ok bool) *int {
	return opt(f, v, ok, scalar.UnmarshalInt, f.ints[:], &f.nInts)
}

// optString unmarshals an optional String argument as gqlgen does: nil
// when it is absent or null.
func (f *frame) optString(v any, ok bool) *string {
	return opt(f, v, ok, scalar.UnmarshalString, f.strs[:], &f.nStrs)
}

// opt unmarshals an optional argument into the next of the frame's slots
// for its type, of which *used are taken: nil when it is absent or null.
func opt[T any](f *frame, v any, ok bool, unmarshal func(any) (T, error), slots []T, used *int) *T {
	if !ok || v == nil {
		return nil
	}
	u, err := unmarshal(v)
	if f.failed(err) {
		return nil
	}
	p := &slots[*used]
	*used++
	*p = u
	return p
}

// id unmarshals a required ID argument as gqlgen does.
func (f *frame) id(v any, ok bool) int64 {
	if !ok {
		return 0
	}
	id, err := scalar.UnmarshalID(v)
	f.failed(err)
	return id
}

// optItemOrder unmarshals an optional ItemOrder argument as gqlgen does:
// nil when it is absent or null.
func (f *frame) optItemOrder(v any, ok bool) *model.ItemOrder {
	if !ok || v == nil {
		return nil
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		f.failed(errUnsupported)
		return nil
	}
	o := &f.order
	if v, ok := m["field"]; ok && f.failed(o.Field.UnmarshalGQL(v)) {
		return nil
	}
	if v, ok := m["direction"]; ok && f.failed(o.Direction.UnmarshalGQL(v)) {
		return nil
	}
	return o
}

// fieldContext returns the context of a root field's resolver, with the
// field context that resolvers read (graph's given and selects) and the
// answer of @auth, when the field has it, as the directive gives it; or
// the first error of the field's arguments.
func (x *exec) fieldContext(s *sel, f *frame) (context.Context, error) {
	if f.err != nil {
		return nil, f.err
	}
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
	p := x.pageArgs(f, s, 0)
	orderBy := f.optItemOrder(x.arg(s, 4))
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
func (x *exec) pageArgs(f *frame, s *sel, i int) pageArgs {
	return pageArgs{
		first:  f.optInt(x.arg(s, i)),
		after:  f.optString(x.arg(s, i+1)),
		last:   f.optInt(x.arg(s, i+2)),
		before: f.optString(x.arg(s, i+3)),
	}
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
	id := f.id(x.arg(s, 0))
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
	query := f.optString(x.arg(s, 0))
	p := x.pageArgs(f, s, 1)
	ctx, err := x.fieldContext(s, f)
	if err != nil {
		return b, err
	}
	conn, err := x.r.Query().Search(ctx, query, p.first, p.after, p.last, p.before)
	return x.writeItemPage(ctx, b, s, &conn, err)
}

// Query_me resolves Query.me (@auth) and writes the user.
func (x *exec) Query_me(b []byte, s *sel) ([]byte, error) {
	return call(x, b, s, &frame{}, x.r.Query().Me, x.writeUser)
}

// Query_tokens resolves Query.tokens (@auth) and writes its connection.
func (x *exec) Query_tokens(b []byte, s *sel) ([]byte, error) {
	f := &frame{}
	first := f.optInt(x.arg(s, 0))
	after := f.optString(x.arg(s, 1))
	user := f.optString(x.arg(s, 2))
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
	return call(x, b, s, &frame{}, x.r.Query().CurrentToken, x.writeToken)
}

// call checks the arguments of f and @auth, calls the resolver of s with
// the field's context, and writes what it returns.
func call[T any](x *exec, b []byte, s *sel, f *frame, resolve func(context.Context) (T, error),
	write func([]byte, []sel, *T) ([]byte, error),
) ([]byte, error) {
	ctx, err := x.fieldContext(s, f)
	if err != nil {
		return b, err
	}
	v, err := resolve(ctx)
	if err != nil {
		return b, err
	}
	return write(b, s.sub, &v)
}

// Mutation_addItem resolves Mutation.addItem (@auth) and writes the item
// added.
func (x *exec) Mutation_addItem(b []byte, s *sel) ([]byte, error) {
	f := &frame{}
	input := f.addItemInput(x.arg(s, 0))
	return x.writeChanged(b, s, f, func(ctx context.Context) (items.Item, error) {
		return x.r.Mutation().AddItem(ctx, input)
	})
}

// Mutation_updateItem resolves Mutation.updateItem (@auth) and writes the
// item as the update left it.
func (x *exec) Mutation_updateItem(b []byte, s *sel) ([]byte, error) {
	f := &frame{}
	id := f.id(x.arg(s, 0))
	input := f.updateItemInput(x.arg(s, 1))
	return x.writeChanged(b, s, f, func(ctx context.Context) (items.Item, error) {
		return x.r.Mutation().UpdateItem(ctx, id, input)
	})
}

// writeChanged checks the arguments of f and @auth, calls a mutation's
// resolver (once) with the field's context, and writes the item it
// returns.
func (x *exec) writeChanged(b []byte, s *sel, f *frame, resolve func(context.Context) (items.Item, error)) ([]byte, error) {
	return call(x, b, s, f, func(ctx context.Context) (items.Item, error) {
		return once(x, func() (items.Item, error) { return resolve(ctx) })
	}, x.writeItem)
}

// Mutation_deleteItem resolves Mutation.deleteItem (@auth) and writes the
// ID deleted.
func (x *exec) Mutation_deleteItem(b []byte, s *sel) ([]byte, error) {
	f := &frame{}
	id := f.id(x.arg(s, 0))
	expected := f.optInt(x.arg(s, 1))
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
func (f *frame) inputObject(v any, ok bool) map[string]any {
	m, isMap := v.(map[string]any)
	if !ok || !isMap {
		f.failed(errUnsupported)
	}
	return m
}

// addItemInput unmarshals an AddItemInput argument as gqlgen does.
func (f *frame) addItemInput(v any, ok bool) (n items.NewItem) {
	m := f.inputObject(v, ok)
	if name, ok := m["name"]; ok {
		var err error
		n.Name, err = scalar.UnmarshalString(name)
		f.failed(err)
	}
	n.Description = f.optString(m["description"], true)
	return n
}

// updateItemInput unmarshals an UpdateItemInput argument as gqlgen does:
// a description absent is left as it is, a null one removed.
func (f *frame) updateItemInput(v any, ok bool) (in model.UpdateItemInput) {
	m := f.inputObject(v, ok)
	in.Name = f.optString(m["name"], true)
	if d, ok := m["description"]; ok {
		in.Description = graphql.OmittableOf(f.optString(d, true))
	}
	in.ExpectedVersion = f.optInt(m["expectedVersion"], true)
	return in
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
