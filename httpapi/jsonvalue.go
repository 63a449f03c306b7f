package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// numberObject is a member of a request that must be a JSON object, or
// null: decoded as a json.Decoder with UseNumber decodes it into a
// map[string]any (numbers as json.Number, so that no integer loses
// precision), without a Decoder of its own. set says whether it was
// there, and notObject whether it was something else than an object.
type numberObject struct {
	m         map[string]any
	notObject bool
}

// UnmarshalJSON implements json.Unmarshaler. json.Unmarshal has checked
// the syntax of the whole body before it calls it.
func (o *numberObject) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		o.m, o.notObject = nil, false
	case b[0] != '{':
		o.m, o.notObject = nil, true
	default:
		v, _, err := decodeJSON(b)
		if err != nil {
			return err
		}
		o.m, o.notObject = v.(map[string]any), false
	}
	return nil
}

// decodeJSON decodes the JSON value at the start of b, whose syntax is
// valid, as json.Decoder with UseNumber decodes it into an any, and returns
// the bytes that follow it.
func decodeJSON(b []byte) (any, []byte, error) {
	b = skipSpace(b)
	switch b[0] {
	case '{':
		m := map[string]any{}
		rest, err := decodeElements(b, '}', func(b []byte) ([]byte, error) {
			k, rest, err := decodeString(b)
			if err != nil {
				return nil, err
			}
			v, rest, err := decodeJSON(skipSpace(rest)[1:]) // after the colon
			m[k] = v
			return rest, err
		})
		if err != nil {
			return nil, nil, err
		}
		return m, rest, nil
	case '[':
		list := []any{}
		rest, err := decodeElements(b, ']', func(b []byte) ([]byte, error) {
			v, rest, err := decodeJSON(b)
			list = append(list, v)
			return rest, err
		})
		if err != nil {
			return nil, nil, err
		}
		return list, rest, nil
	case '"':
		return decodeString(b)
	case 't':
		return true, b[4:], nil
	case 'f':
		return false, b[5:], nil
	case 'n':
		return nil, b[4:], nil
	default:
		i := 1
		for i < len(b) && (b[i] >= '0' && b[i] <= '9' || b[i] == '.' || b[i] == 'e' || b[i] == 'E' || b[i] == '+' || b[i] == '-') {
			i++
		}
		return json.Number(b[:i]), b[i:], nil
	}
}

// decodeElements calls each on every element of the object or array at the
// start of b, whose closing bracket is end, and returns the bytes that
// follow it. each decodes an element (a member, for an object) and returns
// the bytes that follow it.
func decodeElements(b []byte, end byte, each func([]byte) ([]byte, error)) ([]byte, error) {
	b = skipSpace(b[1:])
	if b[0] == end {
		return b[1:], nil
	}
	for {
		rest, err := each(b)
		if err != nil {
			return nil, err
		}
		b = skipSpace(rest)
		if b[0] == end {
			return b[1:], nil
		}
		b = skipSpace(b[1:]) // the comma
	}
}

// decodeString decodes the JSON string at the start of b: directly when
// it has no escape and is valid UTF-8, else by encoding/json.
func decodeString(b []byte) (string, []byte, error) {
	escaped := false
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			if !escaped && utf8.Valid(b[1:i]) {
				return string(b[1:i]), b[i+1:], nil
			}
			var s string
			err := json.Unmarshal(b[:i+1], &s)
			return s, b[i+1:], err
		}
	}
	return "", nil, errBadJSON
}

// skipSpace skips JSON white space.
func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// errBadJSON is a string without its end: json.Unmarshal has refused the
// body before.
var errBadJSON = errors.New("unterminated JSON string")
