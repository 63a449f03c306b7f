package gqlspec

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"itemsapi/items"
)

// AutomaticPersistedQueries returns gqlgen's extension for automatic
// persisted queries, keeping documents in cache, with its refusals coded.
// gqlgen refuses a hash that does not match the document sent with it, a
// version other than 1 and extension data that is not an object with
// errors that carry no code: a client would see INTERNAL_SERVER_ERROR,
// and the server would log its own fault. Here they are BAD_REQUEST: the
// request's persistedQuery extension is at fault.
func AutomaticPersistedQueries(cache graphql.Cache[string]) graphql.HandlerExtension {
	return apq{extension.AutomaticPersistedQuery{Cache: cache}}
}

type apq struct {
	extension.AutomaticPersistedQuery
}

var _ graphql.OperationParameterMutator = apq{}

// MutateOperationParameters implements graphql.OperationParameterMutator.
func (a apq) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	err := a.AutomaticPersistedQuery.MutateOperationParameters(ctx, p)
	if err != nil && err.Extensions["code"] == nil {
		err.Extensions = items.BadRequest.Extensions()
	}
	return err
}
