package model

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"itemsapi/items"
)

// A cursor in ID order, ascending, is EncodeCursor's "item:ID", as it
// always was. In another order it is "item:FIELD:DIR:ID:VALUE" (FIELD id,
// name or updated; DIR asc or desc; VALUE the name as it is, or the time
// in unix microseconds), base64url without padding: a position (value, ID)
// in that order, which says which order it belongs to.

// maxCursor bounds the length of a cursor: one of a name of
// items.MaxNameLength code points of 4 bytes each, and its prefix.
const maxCursor = (len(cursorPrefix)+len("updated:desc:")+20+1+4*items.MaxNameLength)*4/3 + 4

// minCursorTime and maxCursorTime bound the time of a cursor, in unix
// microseconds: 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z, all
// that the Time scalar (RFC 3339) writes, so that every store compares
// them as times (pgx would wrap the microseconds of an earlier one around
// int64, and answer another page).
const (
	minCursorTime = -62135596800000000
	maxCursorTime = 253402300799999999
)

var fieldNames = [...]string{items.ByID: "id", items.ByName: "name", items.ByUpdatedAt: "updated"}

// EncodePosition returns the cursor of it in o.
func EncodePosition(o items.Order, it items.Item) string {
	return string(AppendPosition(nil, o, &it))
}

// AppendPosition appends the cursor of it in o to dst, as EncodePosition
// returns it, and returns the longer slice.
func AppendPosition(dst []byte, o items.Order, it *items.Item) []byte {
	var buf [64]byte
	b := append(buf[:0], cursorPrefix...)
	if o != (items.Order{}) {
		b = append(b, fieldNames[o.Field]...)
		if o.Desc {
			b = append(b, ":desc:"...)
		} else {
			b = append(b, ":asc:"...)
		}
	}
	b = strconv.AppendInt(b, it.ID, 10)
	switch {
	case o == (items.Order{}):
	case o.Field == items.ByName:
		b = append(b, ':')
		b = append(b, it.Name...)
	case o.Field == items.ByUpdatedAt:
		b = append(b, ':')
		b = strconv.AppendInt(b, it.Changed().UnixMicro(), 10)
	}
	return base64.RawURLEncoding.AppendEncode(dst, b)
}

// DecodePosition returns the position in o that a cursor of
// EncodePosition holds. A malformed cursor, or one of another order,
// fails with code items.Invalid.
func DecodePosition(o items.Order, cursor string) (items.Position, error) {
	bad := items.Errorf(items.Invalid, "malformed cursor: pass a cursor from a previous page's edges or pageInfo")
	if len(cursor) > maxCursor {
		return items.Position{}, bad
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(cursor)
	if err != nil || strings.ContainsAny(cursor, "\r\n") {
		return items.Position{}, bad
	}
	rest, ok := strings.CutPrefix(string(raw), cursorPrefix)
	if !ok {
		return items.Position{}, bad
	}
	var (
		co  items.Order
		pos items.Position
	)
	if id, err := parseID(rest); err == nil {
		pos.ID = id // ID order, ascending
	} else {
		field, rest, _ := strings.Cut(rest, ":")
		dir, rest, _ := strings.Cut(rest, ":")
		idText, value, hasValue := strings.Cut(rest, ":")
		switch field {
		case "id":
			co.Field = items.ByID
		case "name":
			co.Field = items.ByName
		case "updated":
			co.Field = items.ByUpdatedAt
		default:
			return items.Position{}, bad
		}
		switch dir {
		case "asc":
		case "desc":
			co.Desc = true
		default:
			return items.Position{}, bad
		}
		if pos.ID, err = parseID(idText); err != nil || co == (items.Order{}) || hasValue != (co.Field != items.ByID) {
			return items.Position{}, bad
		}
		switch co.Field {
		case items.ByName:
			// No name holds a NUL (and PostgreSQL's text cannot).
			if !utf8.ValidString(value) || strings.IndexByte(value, 0) >= 0 {
				return items.Position{}, bad
			}
			pos.Name = value
		case items.ByUpdatedAt:
			us, err := strconv.ParseInt(value, 10, 64)
			if err != nil || us < minCursorTime || us > maxCursorTime {
				return items.Position{}, bad
			}
			pos.Time = time.UnixMicro(us).UTC()
		}
	}
	if co != o {
		return items.Position{}, items.Errorf(items.Invalid, "the cursor belongs to another order than orderBy: pass cursors of pages in the same order")
	}
	return pos, nil
}

// parseID parses a positive decimal ID without leading zeros.
func parseID(digits string) (int64, error) {
	bad := items.Errorf(items.Invalid, "malformed cursor")
	if digits == "" || digits[0] == '0' || len(digits) > 19 {
		return 0, bad
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, bad
		}
	}
	return strconv.ParseInt(digits, 10, 64)
}
