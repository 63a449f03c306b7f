package scalar

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"itemsapi/items"
)

func TestUnmarshalStrict(t *testing.T) {
	tests := []struct {
		name string
		fn   func(any) error
		in   any
		ok   bool
	}{
		{"String string", func(v any) error { _, err := UnmarshalString(v); return err }, "x", true},
		{"String number", func(v any) error { _, err := UnmarshalString(v); return err }, json.Number("12345"), false},
		{"String bool", func(v any) error { _, err := UnmarshalString(v); return err }, true, false},
		{"String invalid UTF-8", func(v any) error { _, err := UnmarshalString(v); return err }, "a\xffb", false},
		{"Int number", func(v any) error { _, err := UnmarshalInt(v); return err }, json.Number("5"), true},
		{"Int string", func(v any) error { _, err := UnmarshalInt(v); return err }, "5", false},
		{"Int fraction", func(v any) error { _, err := UnmarshalInt(v); return err }, json.Number("5.5"), false},
		{"Int over 32 bits", func(v any) error { _, err := UnmarshalInt(v); return err }, int64(1 << 31), false},
		{"Boolean string", func(v any) error { _, err := UnmarshalBoolean(v); return err }, "true", false},
		{"ID string", func(v any) error { _, err := UnmarshalID(v); return err }, "42", true},
		{"ID integer", func(v any) error { _, err := UnmarshalID(v); return err }, json.Number("42"), true},
		{"ID letters", func(v any) error { _, err := UnmarshalID(v); return err }, "abc", false},
		{"ID zero", func(v any) error { _, err := UnmarshalID(v); return err }, "0", false},
	}
	for _, tt := range tests {
		err := tt.fn(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && items.ErrorCode(err) != items.Invalid {
			t.Errorf("%s: code = %q, want %q", tt.name, items.ErrorCode(err), items.Invalid)
		}
	}
}

// FuzzParseID checks that ParseID accepts exactly the canonical decimal
// form of positive int64s.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1", "42", "0", "-1", "01", "9223372036854775807", "9223372036854775808", "1e3", " 1", "１"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			if items.ErrorCode(err) != items.Invalid {
				t.Fatalf("ParseID(%q) code = %q", s, items.ErrorCode(err))
			}
			return
		}
		if id <= 0 || strconv.FormatInt(id, 10) != s {
			t.Fatalf("ParseID(%q) = %d", s, id)
		}
	})
}

func TestUnmarshalIntNamesTheValue(t *testing.T) {
	tests := []struct {
		in      any
		want    int
		wantMsg string // when refused
	}{
		{json.Number("5"), 5, ""},
		{json.Number("-2147483648"), -2147483648, ""},
		{json.Number("2147483647"), 2147483647, ""},
		{int64(7), 7, ""},
		{float64(7), 7, ""},
		{json.Number("5.0"), 0, "Int cannot represent non-integer value: 5.0"},
		{json.Number("5.5"), 0, "Int cannot represent non-integer value: 5.5"},
		{json.Number("1e2"), 0, "Int cannot represent non-integer value: 1e2"},
		{json.Number("1e400"), 0, "Int cannot represent non-integer value: 1e400"},
		{json.Number("-0.0"), 0, "Int cannot represent non-integer value: -0.0"},
		{json.Number("2147483648"), 0, "Int cannot represent non 32-bit signed integer value: 2147483648"},
		{json.Number("-2147483649"), 0, "Int cannot represent non 32-bit signed integer value: -2147483649"},
		{json.Number("99999999999999999999"), 0, "Int cannot represent non 32-bit signed integer value: 99999999999999999999"},
		{json.Number("1" + strings.Repeat("0", 100)), 0, "Int cannot represent non 32-bit signed integer value: 1" + strings.Repeat("0", 39) + "… (a number of 101 characters)"},
		{int64(1 << 31), 0, "Int cannot represent non 32-bit signed integer value: 2147483648"},
		{float64(5.5), 0, "Int cannot represent non-integer value: 5.5"},
		{float64(1e20), 0, "Int cannot represent non 32-bit signed integer value: 1e+20"},
		{"5", 0, `Int cannot represent non-integer value: "5"`},
		{true, 0, "Int cannot represent non-integer value: true"},
	}
	for _, tt := range tests {
		got, err := UnmarshalInt(tt.in)
		if tt.wantMsg == "" {
			if err != nil || got != tt.want {
				t.Errorf("UnmarshalInt(%#v) = %d, %v; want %d, nil", tt.in, got, err, tt.want)
			}
			continue
		}
		if err == nil || err.Error() != tt.wantMsg {
			t.Errorf("UnmarshalInt(%#v) = %d, %v; want the error %q", tt.in, got, err, tt.wantMsg)
		}
	}
}
