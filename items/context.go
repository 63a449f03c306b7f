package items

import (
	"context"
	"sync"
)

// Caller is who makes a request: the token's user and the role that token
// grants, the role the request acts with.
type Caller struct {
	// User is the token's user. Its Role is not kept: it may change with
	// any token of the user; read it from the store (Store.Users).
	User User
	Role Role
	// Token is the token of the request (its LastUsedAt as of when it was
	// looked up).
	Token Token
}

type ctxKey struct{ name string }

func (k *ctxKey) String() string { return "items context value " + k.name }

var callerKey = &ctxKey{"caller"}

// errNoToken is what CallerFrom says of a request that carries no token.
var errNoToken = Errorf(Unauthenticated, "this field needs an API token: send it as `Authorization: Bearer <token>`")

// WithAuthenticator returns a copy of ctx whose caller is found by
// authenticate, called at most once and only if something asks with
// CallerFrom: a request that reads only public fields costs no token
// look-up.
func WithAuthenticator(ctx context.Context, authenticate func() (Caller, error)) context.Context {
	return context.WithValue(ctx, callerKey, sync.OnceValues(authenticate))
}

// WithCaller returns a copy of ctx whose caller is c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return WithAuthenticator(ctx, func() (Caller, error) { return c, nil })
}

// CallerFrom returns the caller of the request that ctx belongs to. It
// fails with code Unauthenticated when the request has no token or an
// unknown one, and with an internal error when the token could not be
// checked.
func CallerFrom(ctx context.Context) (Caller, error) {
	authenticate, ok := ctx.Value(callerKey).(func() (Caller, error))
	if !ok {
		return Caller{}, errNoToken
	}
	return authenticate()
}

var requestIDKey = &ctxKey{"request id"}

// WithRequestID returns a copy of ctx that carries the ID under which the
// request is logged.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the ID of the request that ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}
