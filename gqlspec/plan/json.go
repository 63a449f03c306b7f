package plan

import (
	"bytes"

	"github.com/99designs/gqlgen/graphql"

	"strconv"
	"time"
)

// The writers of scalars append what the marshalers that gqlgen.yml binds
// (gqlspec/scalar) write, byte for byte, without their closures and writer
// calls; json_test.go holds them to it.

const hex = "0123456789ABCDEF"

// appendString appends s as graphql.MarshalString writes it: quoted, with
// `"`, `\` and control characters escaped, and every other byte, invalid
// UTF-8 included, as it is. s may be the bytes of the string.
func appendString[S ~string | ~[]byte](b []byte, s S) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '\t':
			b = append(b, `\t`...)
		case '\r':
			b = append(b, `\r`...)
		case '\n':
			b = append(b, `\n`...)
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		default:
			b = append(b, `\u00`...)
			b = append(b, hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendID appends an ID as scalar.MarshalID writes it.
func appendID(b []byte, id int64) []byte {
	b = append(b, '"')
	b = strconv.AppendInt(b, id, 10)
	return append(b, '"')
}

// appendInt appends an Int as scalar.MarshalInt writes it.
func appendInt(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }

// appendBoolean appends a Boolean as scalar.MarshalBoolean writes it.
func appendBoolean(b []byte, v bool) []byte { return strconv.AppendBool(b, v) }

// appendTime appends a Time as scalar.MarshalTime writes it.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendMarshaler appends what m writes: the slow way, for the scalars
// without a writer of their own.
func appendMarshaler(b []byte, m graphql.Marshaler) []byte {
	w := bytes.NewBuffer(b)
	m.MarshalGQL(w)
	return w.Bytes()
}
