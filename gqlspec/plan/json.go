package plan

import (
	"bytes"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// The writers of scalars append what the marshalers that gqlgen.yml binds
// (gqlspec/scalar) write, byte for byte once encoding/json has compacted
// the response as every transport does, without their closures and writer
// calls; json_test.go holds them to it.

// hex are gqlgen's digits, lowerHex encoding/json's.
const (
	hex      = "0123456789ABCDEF"
	lowerHex = "0123456789abcdef"
)

// appendString appends s as graphql.MarshalString writes it, then
// encoding/json compacts it when the response is marshalled: quoted, with
// `"`, `\` and control characters escaped as gqlgen escapes them, `<`, `>`,
// `&`, U+2028 and U+2029 as encoding/json escapes them, and every other
// byte, invalid UTF-8 included, as it is. s may be the bytes of the
// string. What it writes is its own compaction, so that it may be sent as
// it is, or marshalled again to the same bytes.
func appendString[S ~string | ~[]byte](b []byte, s S) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plainByte[c] || c == 0xE2 && (i+2 >= len(s) || s[i+1] != 0x80 || s[i+2]&^1 != 0xA8) {
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
		case '<', '>', '&':
			b = append(b, `\u00`...)
			b = append(b, lowerHex[c>>4], lowerHex[c&0xf])
		case 0xE2: // U+2028 or U+2029
			b = append(b, `\u202`...)
			b = append(b, lowerHex[s[i+2]&0xf])
			i += 2
		default:
			b = append(b, `\u00`...)
			b = append(b, hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plainByte[c] tells whether appendString copies the byte c as it is,
// without a look at the bytes after it: every byte but control
// characters, `"`, `\`, `<`, `>`, `&`, and 0xE2, which may begin U+2028 or
// U+2029.
var plainByte = func() (plain [256]bool) {
	for c := 0x20; c < len(plain); c++ {
		plain[c] = true
	}
	for _, c := range []byte{'"', '\\', '<', '>', '&', 0xE2} {
		plain[c] = false
	}
	return plain
}()

// quoteTail turns b[start:], the bytes of a string, into the string as
// appendString writes it: in place, without a copy, when none of its bytes
// needs escaping (a cursor).
func quoteTail(b []byte, start int) []byte {
	tail := b[start:]
	for _, c := range tail {
		if c < 0x20 || c == '\\' || c == '"' || c == '<' || c == '>' || c == '&' || c == 0xE2 {
			return appendString(b[:start], string(tail))
		}
	}
	b = append(b, 0)
	copy(b[start+1:], b[start:len(b)-1])
	b[start] = '"'
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
	sec := t.Unix()
	if sec < year0 || sec >= year10000 {
		b = append(b, '"')
		b = t.UTC().AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	}
	// What AppendFormat writes in UTC for a year of four digits, written
	// here without its reading of the layout, and with the date and the
	// time of day found in one pass (t.Date and t.Clock each start over):
	// the civil date of a day count (Howard Hinnant's days-to-civil), in
	// eras of 400 years counted from the first before year 0.
	s := uint64(sec - year0) // seconds since 0000-01-01T00:00:00Z
	days, rem := s/86400, s%86400
	z := days - 60 + 146097 // days since -0400-03-01, an era before 0000-03-01 (0000 is a leap year: 60 days before)
	era := z / 146097
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365], from March 1st
	mp := (5*doy + 2) / 153                                // [0, 11], from March
	day := doy - (153*mp+2)/5 + 1
	month := mp + 3
	year := yoe + era*400 - 400
	if mp >= 10 {
		month -= 12
		year++
	}
	b = append(b, '"', digits2[2*(year/100)], digits2[2*(year/100)+1], digits2[2*(year%100)], digits2[2*(year%100)+1],
		'-', digits2[2*month], digits2[2*month+1], '-', digits2[2*day], digits2[2*day+1],
		'T', digits2[2*(rem/3600)], digits2[2*(rem/3600)+1], ':', digits2[2*(rem/60%60)], digits2[2*(rem/60%60)+1],
		':', digits2[2*(rem%60)], digits2[2*(rem%60)+1])
	if ns := t.Nanosecond(); ns != 0 {
		digits := 9
		for ns%10 == 0 {
			ns /= 10
			digits--
		}
		b = append(b, '.')
		b = appendDigits(b, ns, digits)
	}
	return append(b, 'Z', '"')
}

// The Unix times of 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z: the
// years that appendTime writes itself.
const (
	year0     = -62167219200
	year10000 = 253402300800
)

// digits2 holds the two decimal digits of each number from 0 to 99.
const digits2 = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// appendDigits appends the n decimal digits of v, 0 <= v < 10^n, n <= 9,
// with leading zeros.
func appendDigits(b []byte, v, n int) []byte {
	b = append(b, "000000000"[:n]...)
	for i := len(b) - 1; v > 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

// appendMarshaler appends what m writes: the slow way, for the scalars
// without a writer of their own.
func appendMarshaler(b []byte, m graphql.Marshaler) []byte {
	w := bytes.NewBuffer(b)
	m.MarshalGQL(w)
	return w.Bytes()
}
