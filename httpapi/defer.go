package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// inlineDeferred returns first with the results of its deferred fragments
// (@defer) merged in, for a client that takes JSON alone and so cannot
// receive them apart: gqlgen's executor sends them as later responses,
// which an answer of one JSON document would drop. The fields of the
// merged data keep their order.
func inlineDeferred(ctx context.Context, first *graphql.Response, next graphql.ResponseHandler) *graphql.Response {
	if first == nil || first.HasNext == nil {
		return first
	}
	more := *first.HasNext
	first.HasNext = nil
	if !more {
		return first
	}
	data, err := decodeOrdered(first.Data)
	for more {
		r := next(ctx)
		if r == nil {
			break
		}
		first.Errors = append(first.Errors, r.Errors...)
		if err == nil {
			data = mergeAt(data, r.Path, r.Data)
		}
		more = r.HasNext != nil && *r.HasNext
	}
	if err != nil {
		return first // not an object: nothing to merge into
	}
	var buf bytes.Buffer
	encodeOrdered(&buf, data)
	first.Data = buf.Bytes()
	return first
}

// object is a JSON object that keeps the order of its members.
type object struct {
	keys []string
	vals map[string]any
}

func (o *object) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

// mergeAt merges the deferred data into root at path, and returns root.
// A null payload (a non-null field failed in it) nulls the object at
// path, as the error would have in a response of one piece.
func mergeAt(root any, path ast.Path, raw json.RawMessage) any {
	data, err := decodeOrdered(raw)
	if err != nil {
		return root
	}
	if len(path) == 0 {
		return mergeValue(root, data)
	}
	parent, last := root, path[len(path)-1]
	for _, el := range path[:len(path)-1] {
		parent = child(parent, el)
	}
	switch p := parent.(type) {
	case *object:
		if name, ok := last.(ast.PathName); ok {
			if _, exists := p.vals[string(name)]; exists {
				p.vals[string(name)] = mergeValue(p.vals[string(name)], data)
			}
		}
	case []any:
		if i, ok := last.(ast.PathIndex); ok && int(i) >= 0 && int(i) < len(p) {
			p[i] = mergeValue(p[i], data)
		}
	}
	return root
}

// child returns the member of v that el names, or nil.
func child(v any, el ast.PathElement) any {
	switch v := v.(type) {
	case *object:
		if name, ok := el.(ast.PathName); ok {
			return v.vals[string(name)]
		}
	case []any:
		if i, ok := el.(ast.PathIndex); ok && int(i) >= 0 && int(i) < len(v) {
			return v[i]
		}
	}
	return nil
}

// mergeValue merges b into a: the members of two objects merge, member
// by member; anything else is replaced by b.
func mergeValue(a, b any) any {
	ao, aok := a.(*object)
	bo, bok := b.(*object)
	if !aok || !bok {
		return b
	}
	for _, k := range bo.keys {
		if old, ok := ao.vals[k]; ok {
			ao.vals[k] = mergeValue(old, bo.vals[k])
		} else {
			ao.set(k, bo.vals[k])
		}
	}
	return ao
}

// decodeOrdered decodes JSON, keeping the order of object members and
// numbers as they were written.
func decodeOrdered(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		o := &object{vals: map[string]any{}}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			o.set(k.(string), v)
		}
		_, err := dec.Token() // }
		return o, err
	case json.Delim('['):
		a := []any{}
		for dec.More() {
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := dec.Token() // ]
		return a, err
	}
	return tok, nil
}

// encodeOrdered writes v as JSON.
func encodeOrdered(buf *bytes.Buffer, v any) {
	switch v := v.(type) {
	case *object:
		buf.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			b, _ := json.Marshal(k)
			buf.Write(b)
			buf.WriteByte(':')
			encodeOrdered(buf, v.vals[k])
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			encodeOrdered(buf, e)
		}
		buf.WriteByte(']')
	default:
		b, _ := json.Marshal(v)
		buf.Write(b)
	}
}
