// Package scalar holds the GraphQL scalar marshalers the schema binds in
// gqlgen.yml. Input coercion is strict, as the GraphQL specification
// asks and unlike gqlgen's defaults: a number is not a String, a string is
// not an Int, and a string that is not valid UTF-8 is refused.
package scalar

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"

	"itemsapi/items"
)

// MarshalString writes s as a JSON string.
func MarshalString(s string) graphql.Marshaler { return graphql.MarshalString(s) }

// UnmarshalString accepts only a string of valid UTF-8: a number or a
// boolean is not a String. It fails with code items.Invalid.
func UnmarshalString(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", items.Errorf(items.Invalid, "String cannot represent a non-string value: %s", Describe(v))
	}
	if !utf8.ValidString(s) {
		return "", items.Errorf(items.Invalid, "String is not valid UTF-8")
	}
	return s, nil
}

// MarshalInt writes i as a JSON number.
func MarshalInt(i int) graphql.Marshaler { return graphql.MarshalInt(i) }

// UnmarshalInt accepts only a whole number within 32 bits, as the
// specification's Int: a string, even of digits, is not an Int, and
// neither is a number written with a fraction or an exponent (5.0, 1e2),
// as in a GraphQL document, where those are Float literals. It fails with
// code items.Invalid and a message that names the value as sent:
// "Int cannot represent non-integer value: 5.0", "Int cannot represent
// non 32-bit signed integer value: 2147483648".
func UnmarshalInt(v any) (int, error) {
	var n int64
	switch v := v.(type) {
	case int:
		n = int64(v)
	case int32:
		n = int64(v)
	case int64:
		n = v
	case json.Number:
		if strings.ContainsAny(string(v), ".eE") {
			return 0, nonInteger(v)
		}
		i, err := strconv.ParseInt(string(v), 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return 0, outOfRange(v)
		}
		if err != nil {
			return 0, nonInteger(v)
		}
		n = i
	case float64: // from a decoder without UseNumber, which cannot tell 5 from 5.0
		if v != math.Trunc(v) || math.IsInf(v, 0) {
			return 0, nonInteger(v)
		}
		if v < math.MinInt32 || v > math.MaxInt32 {
			return 0, outOfRange(v)
		}
		n = int64(v)
	default:
		return 0, nonInteger(v)
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, outOfRange(v)
	}
	return int(n), nil
}

func nonInteger(v any) error {
	return items.Errorf(items.Invalid, "Int cannot represent non-integer value: %s", Describe(v))
}

func outOfRange(v any) error {
	return items.Errorf(items.Invalid, "Int cannot represent non 32-bit signed integer value: %s", Describe(v))
}

// MarshalBoolean writes b as a JSON boolean.
func MarshalBoolean(b bool) graphql.Marshaler { return graphql.MarshalBoolean(b) }

// UnmarshalBoolean accepts only true and false.
func UnmarshalBoolean(v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, items.Errorf(items.Invalid, "Boolean cannot represent a non-boolean value: %s", Describe(v))
	}
	return b, nil
}

// MarshalID writes a numeric ID as a decimal string.
func MarshalID(id int64) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		var buf [24]byte
		b := append(buf[:0], '"')
		b = strconv.AppendInt(b, id, 10)
		b = append(b, '"')
		_, _ = w.Write(b)
	})
}

// UnmarshalID accepts an ID as a decimal string or an integer, as the
// specification allows, and returns it as a positive int64. Anything else
// fails with code items.Invalid.
func UnmarshalID(v any) (int64, error) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case json.Number:
		s = string(v)
	case int:
		s = strconv.Itoa(v)
	case int64:
		s = strconv.FormatInt(v, 10)
	default:
		return 0, items.Errorf(items.Invalid, "ID cannot represent value: %s", Describe(v))
	}
	id, err := ParseID(s)
	if err != nil {
		return 0, err
	}
	return id, nil
}

// ParseID parses the decimal form of an ID. It fails with code
// items.Invalid for anything but 1 to 19 ASCII digits with no sign and no
// leading zero.
func ParseID(s string) (int64, error) {
	if s == "" || len(s) > 19 || s[0] == '0' {
		return 0, invalidID(s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, invalidID(s)
		}
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, invalidID(s)
	}
	return id, nil
}

// invalidID is the error of ParseID(s). It names a copy of s, as strconv's
// errors do, so that s does not escape: a caller may parse a string that
// views its own bytes (DecodeCursor) without a copy of them on every call.
func invalidID(s string) error {
	if len(s) > 40 || !utf8.ValidString(s) {
		return items.Errorf(items.Invalid, "malformed ID: IDs are decimal strings such as \"1\"")
	}
	return items.Errorf(items.Invalid, "malformed ID %q: IDs are decimal strings such as \"1\"", strings.Clone(s))
}

// MarshalTime writes t in RFC 3339, in UTC, with microseconds when it has
// any.
func MarshalTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		var buf [40]byte
		b := append(buf[:0], '"')
		b = t.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
		_, _ = w.Write(b)
	})
}

// UnmarshalTime accepts an RFC 3339 string.
func UnmarshalTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, items.Errorf(items.Invalid, "Time cannot represent a non-string value: %s", Describe(v))
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, items.Errorf(items.Invalid, "Time must be an RFC 3339 date-time such as 2026-01-02T15:04:05Z")
	}
	return t.UTC(), nil
}

// Describe names a rejected input value as the client wrote it, without
// echoing much of it: a number as sent (its first 40 characters), a short
// string quoted, the kind of anything else.
func Describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		if len(v) > 40 || !utf8.ValidString(v) {
			return "a string"
		}
		return strconv.Quote(v)
	case json.Number:
		if len(v) > 40 {
			return fmt.Sprintf("%s… (a number of %d characters)", v[:40], len(v))
		}
		return string(v)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool, int, int32, int64:
		return fmt.Sprint(v)
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	default:
		return "a value of another type"
	}
}
