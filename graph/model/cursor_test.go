package model

import (
	"testing"

	"itemsapi/items"
)

func TestCursorRoundTrip(t *testing.T) {
	for _, id := range []int64{1, 2, 99, 1 << 40, 1<<63 - 1} {
		got, err := DecodeCursor(EncodeCursor(id))
		if err != nil || got != id {
			t.Errorf("DecodeCursor(EncodeCursor(%d)) = %d, %v; want %d", id, got, err, id)
		}
	}
}

func TestDecodeCursorRefuses(t *testing.T) {
	for _, c := range []string{"", "garbage!", "aXRlbTow", "aXRlbTotMQ", "aXRlbTo", "MQ", "aXRlbToxYQ", "aXRlbTowMQ"} {
		if _, err := DecodeCursor(c); items.ErrorCode(err) != items.Invalid {
			t.Errorf("DecodeCursor(%q) error code = %q, want %q", c, items.ErrorCode(err), items.Invalid)
		}
	}
}

// FuzzDecodeCursor checks that any string either decodes to a positive ID
// whose cursor is the input, or fails with BAD_USER_INPUT; never a panic.
func FuzzDecodeCursor(f *testing.F) {
	for _, s := range []string{EncodeCursor(1), EncodeCursor(123456), "", "garbage", "aXRlbTow", "////"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := DecodeCursor(s)
		if err != nil {
			if items.ErrorCode(err) != items.Invalid {
				t.Fatalf("DecodeCursor(%q) error code = %q", s, items.ErrorCode(err))
			}
			return
		}
		if id <= 0 || EncodeCursor(id) != s {
			t.Fatalf("DecodeCursor(%q) = %d, whose cursor is %q", s, id, EncodeCursor(id))
		}
	})
}
