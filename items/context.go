package items

import "context"

// Caller is who makes a request: the token's user and the role the token
// grants.
type Caller struct {
	User User
	Role Role
}

type ctxKey struct{ name string }

func (k *ctxKey) String() string { return "items context value " + k.name }

var callerKey = &ctxKey{"caller"}

// WithCaller returns a copy of ctx that carries c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey, c)
}

// CallerFrom returns the caller that ctx carries, and false for an
// anonymous request.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey).(Caller)
	return c, ok
}
