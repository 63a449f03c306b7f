package graph

import "github.com/vektah/gqlparser/v2/ast"

// CallerIndependent reports whether the answer to a validated query
// operation depends on nothing but the items in the store, so that a
// response cache may keep it until the next write. It does not when it
// selects, at any depth and through any fragment:
//   - a field with @auth, whose answer depends on the caller (me);
//   - a User (createdBy): users and their roles change through tokens,
//     which `itemsapi token create` may add from another process.
//
// Introspection fields depend only on the schema.
func CallerIndependent(op *ast.OperationDefinition) bool {
	return op != nil && op.Operation == ast.Query && independent(op.SelectionSet, 0, true)
}

// EventCallerIndependent reports whether the answer to each event of a
// validated subscription depends on nothing but the event and the store
// as the event is executed, so that one execution may serve every
// subscriber of the same document and variables: it selects no field with
// @auth, at any depth and through any fragment. Users (createdBy) are
// read as each event is executed, the same for every caller.
func EventCallerIndependent(op *ast.OperationDefinition) bool {
	return op != nil && op.Operation == ast.Subscription && independent(op.SelectionSet, 0, false)
}

// maxCacheableDepth bounds the walk; the depth limit is far below it.
const maxCacheableDepth = 64

// independent walks set; users says whether selecting a User makes an
// answer depend on more than the items.
func independent(set ast.SelectionSet, depth int, users bool) bool {
	if depth > maxCacheableDepth {
		return false
	}
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			def := sel.Definition
			if def == nil {
				if sel.Name != "__typename" {
					return false // not validated: say no
				}
				continue
			}
			if def.Directives.ForName("auth") != nil || users && def.Type.Name() == "User" {
				return false
			}
			if !independent(sel.SelectionSet, depth+1, users) {
				return false
			}
		case *ast.InlineFragment:
			if !independent(sel.SelectionSet, depth+1, users) {
				return false
			}
		case *ast.FragmentSpread:
			if sel.Definition == nil || !independent(sel.Definition.SelectionSet, depth+1, users) {
				return false
			}
		}
	}
	return true
}
