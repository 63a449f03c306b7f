package model

import (
	"strings"
	"testing"
	"time"

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

func TestPositionRoundTrip(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	its := []items.Item{
		{ID: 1, Name: "Apple", CreatedAt: now},
		{ID: 1 << 40, Name: "a:b:c 😀 \u00e9", CreatedAt: now, UpdatedAt: &now},
		{ID: 7, Name: strings.Repeat("😀", items.MaxNameLength), CreatedAt: now},
	}
	orders := []items.Order{{}, {Desc: true}, {Field: items.ByName}, {Field: items.ByName, Desc: true}, {Field: items.ByUpdatedAt}, {Field: items.ByUpdatedAt, Desc: true}}
	for _, o := range orders {
		for _, it := range its {
			c := EncodePosition(o, it)
			got, err := DecodePosition(o, c)
			if want := o.PositionOf(it); err != nil || o.Compare(got, want) != 0 || got.Name != want.Name || !got.Time.Equal(want.Time) {
				t.Errorf("DecodePosition(%v, EncodePosition(%v, %d)) = %+v, %v; want %+v", o, o, it.ID, got, err, want)
			}
			for _, other := range orders {
				if other == o {
					continue
				}
				if _, err := DecodePosition(other, c); items.ErrorCode(err) != items.Invalid {
					t.Errorf("DecodePosition(%v) of a cursor of %v = %v, want code BAD_USER_INPUT", other, o, err)
				}
			}
		}
	}
	if c := EncodePosition(items.Order{}, its[0]); c != EncodeCursor(1) {
		t.Errorf("the cursor of ID order, ascending, is %q, want the old %q", c, EncodeCursor(1))
	}
}

// FuzzDecodePosition checks that any string decodes or fails with
// BAD_USER_INPUT in every order; never a panic.
func FuzzDecodePosition(f *testing.F) {
	f.Add(EncodePosition(items.Order{Field: items.ByName}, items.Item{ID: 3, Name: "x:y"}))
	f.Add(EncodeCursor(5))
	f.Add("aXRlbTp1cGRhdGVkOmRlc2M6MTotOTIyMzM3MjAzNjg1NDc3NTgwOA") // item:updated:desc:1:-9223372036854775808
	f.Fuzz(func(t *testing.T, s string) {
		for _, o := range []items.Order{{}, {Desc: true}, {Field: items.ByName}, {Field: items.ByUpdatedAt, Desc: true}} {
			p, err := DecodePosition(o, s)
			if err != nil && items.ErrorCode(err) != items.Invalid {
				t.Fatalf("DecodePosition(%q) error code = %q", s, items.ErrorCode(err))
			}
			// What every store compares: no NUL (PostgreSQL's text has
			// none), the years 1 to 9999.
			if strings.IndexByte(p.Name, 0) >= 0 || !p.Time.IsZero() && (p.Time.Year() < 1 || p.Time.Year() > 9999) {
				t.Fatalf("DecodePosition(%q) = %+v", s, p)
			}
		}
	})
}
