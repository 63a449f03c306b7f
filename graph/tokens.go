package graph

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"itemsapi/graph/model"
	"itemsapi/items"
)

// usersByID returns the users with those IDs, in that order, through the
// response's user cache, so that every User of a response (me, createdBy,
// a token's user) is read once and shows one role. A user that does not
// exist is an internal error: tokens and callers always have one.
func usersByID(ctx context.Context, store items.Store, ids []int64) ([]items.User, error) {
	c := userCacheOf(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.loadIDs(ctx, store, ids); err != nil {
		return nil, err
	}
	out := make([]items.User, len(ids))
	for i, id := range ids {
		u := c.users[id]
		if u == nil {
			return nil, errMissingUser
		}
		out[i] = *u
	}
	return out, nil
}

var errMissingUser = &missingUser{}

type missingUser struct{}

func (*missingUser) Error() string {
	return "graph: a token's or caller's user is missing from the store"
}

// tokenUsers returns the user of each token, in one store call.
func tokenUsers(ctx context.Context, store items.Store, objs []*items.Token) ([]items.User, error) {
	ids := make([]int64, len(objs))
	for i, t := range objs {
		ids[i] = t.UserID
	}
	return usersByID(ctx, store, ids)
}

// me returns the caller's user. Its role is read from the store, now,
// when the query selects it (and only then: `me { id name }` costs no
// read beyond the token's, which is usually cached).
func (r *Resolver) me(ctx context.Context) (items.User, error) {
	caller, err := items.CallerFrom(ctx)
	if err != nil {
		return items.User{}, err
	}
	if !selects(ctx, "User", "role") {
		return caller.User, nil
	}
	users, err := usersByID(ctx, r.Store, []int64{caller.User.ID})
	if err != nil {
		return items.User{}, err
	}
	return users[0], nil
}

// createToken checks the arguments of createToken and makes the token.
func (r *Resolver) createToken(ctx context.Context, user string, role *items.Role, expiresAt *time.Time) (string, error) {
	name, err := items.ValidateUserName(user)
	if err != nil {
		return "", err
	}
	grant := items.RoleUser
	if role != nil {
		grant = *role
	}
	if err := items.ValidateExpiry(expiresAt, items.Clock(r.Clock).Now()); err != nil {
		return "", err
	}
	_, token, err := r.Store.CreateToken(ctx, items.NewTokenRequest{UserName: name, Role: grant, ExpiresAt: expiresAt})
	return token, err
}

// revokeToken applies the rules of revokeToken, in the contract's order:
// an unknown id, then who may, then the last ADMIN token.
func (r *Resolver) revokeToken(ctx context.Context, id int64) (items.Token, error) {
	caller, err := items.CallerFrom(ctx)
	if err != nil {
		return items.Token{}, err
	}
	tok, err := r.Store.Token(ctx, id)
	if items.ErrorCode(err) == items.NotFound {
		return items.Token{}, items.Errorf(items.Invalid, "no token with id %d", id)
	}
	if err != nil {
		return items.Token{}, err
	}
	if caller.Role != items.RoleAdmin && tok.UserID != caller.User.ID {
		return items.Token{}, items.Errorf(items.Forbidden, "a USER token may revoke only its own user's tokens")
	}
	return r.Store.RevokeToken(ctx, id, true)
}

// tokens returns the page of tokens that the arguments select, for the
// caller: an ADMIN any user's, a USER its own user's only. A USER naming
// another user, known or not, is items.Forbidden (an empty answer for unknown
// names only would tell a USER which names exist).
func (r *Resolver) tokens(ctx context.Context, first *int, after *string, user *string) (model.TokenConnection, error) {
	caller, err := items.CallerFrom(ctx)
	if err != nil {
		return model.TokenConnection{}, err
	}
	n := items.DefaultPageSize
	if first != nil {
		n = *first
	}
	if n < 0 || n > items.MaxPageSize {
		return model.TokenConnection{}, items.Errorf(items.Invalid, "first must be between 0 and %d, got %d", items.MaxPageSize, n)
	}
	var afterID int64
	if after != nil && *after != "" {
		if afterID, err = model.DecodeTokenCursor(*after); err != nil {
			return model.TokenConnection{}, err
		}
	}
	admin := caller.Role == items.RoleAdmin
	var userID int64 // 0: every user's
	if !admin {
		userID = caller.User.ID
	}
	if user != nil {
		name, err := items.ValidateUserName(*user)
		if err != nil {
			return model.TokenConnection{}, err
		}
		u, err := r.Store.UserByName(ctx, name)
		switch {
		case items.ErrorCode(err) == items.NotFound && admin:
			return model.TokenConnection{Count: func(context.Context) (int, error) { return 0, nil }}, nil
		case items.ErrorCode(err) == items.NotFound || err == nil && !admin && u.ID != caller.User.ID:
			return model.TokenConnection{}, items.Errorf(items.Forbidden, "a USER token may list only its own user's tokens")
		case err != nil:
			return model.TokenConnection{}, err
		}
		userID = u.ID
	}
	page, err := r.Store.Tokens(ctx, items.TokenQuery{UserID: userID, After: afterID, Limit: n + 1})
	if err != nil {
		return model.TokenConnection{}, err
	}
	hasNext := len(page) > n
	if hasNext {
		page = page[:n]
	}
	return model.TokenConnection{
		Page:        page,
		HasNext:     hasNext,
		HasPrevious: afterID > 0,
		Count: func(ctx context.Context) (int, error) {
			return r.Store.CountTokens(ctx, userID)
		},
	}, nil
}

// selects reports whether the selection of the field being resolved, of
// type typeName, holds the field name, directly or through fragments.
func selects(ctx context.Context, typeName, name string) bool {
	for _, f := range graphql.CollectFieldsCtx(ctx, []string{typeName}) {
		if f.Name == name {
			return true
		}
	}
	return false
}
