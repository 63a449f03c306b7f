package items_test

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"itemsapi/items"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // the stored name, when accepted
		wantErr  string // a part of the message, when refused
	}{
		{"plain", "Apple", "Apple", ""},
		{"trimmed", " \t\u00a0Apple\u3000\n", "Apple", ""},
		{"NFC composes", "Cafe\u0301", "Caf\u00e9", ""},
		{"NFC keeps composed", "Caf\u00e9", "Caf\u00e9", ""},
		{"NFC Hangul", "\u1100\u1161\u11a8", "\uac01", ""},
		{"NFC reorders marks", "a\u0301\u0323", "\u1ea1\u0301", ""},
		{"ZWJ inside an emoji sequence", "\U0001F469\u200D\U0001F4BB", "\U0001F469\u200D\U0001F4BB", ""},
		{"ZWNJ inside a Persian word", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", ""},
		{"zero-width space next to a letter", "a\u200b", "a\u200b", ""},
		{"left-to-right mark allowed", "\u200eabc", "\u200eabc", ""},
		{"digit alone", "7", "7", ""},
		{"punctuation alone", "?", "?", ""},
		{"symbol alone", "\u20ac", "\u20ac", ""},
		{"emoji alone", "\U0001F34E", "\U0001F34E", ""},
		{"CJK", "\u82f9\u679c", "\u82f9\u679c", ""},
		{"200 code points", strings.Repeat("\u00e9", 200), strings.Repeat("\u00e9", 200), ""},
		{"200 after NFC from 400", strings.Repeat("e\u0301", 200), strings.Repeat("\u00e9", 200), ""},
		{"200 after trimming", "  " + strings.Repeat("x", 200) + "  ", strings.Repeat("x", 200), ""},

		{"invalid UTF-8", "a\xffb", "", "UTF-8"},
		{"empty", "", "", "empty"},
		{"white space only", " \u00a0\u2003\t", "", "empty"},
		{"201 code points", strings.Repeat("\u00e9", 201), "", "201 characters"},
		{"201 after NFC", strings.Repeat("e\u0301", 201), "", "201 characters"},
		{"a megabyte", strings.Repeat("x", 1<<20), "", "at most 200"},
		{"newline", "a\nb", "", "control"},
		{"tab inside", "a\tb", "", "control"},
		{"NUL", "a\x00b", "", "control"},
		{"DEL", "a\x7fb", "", "control"},
		{"line separator inside", "a\u2028b", "", "line"},
		{"paragraph separator inside", "a\u2029b", "", "line"},
		{"next line", "a\u0085b", "", "control"},
		{"LRE", "a\u202ab", "", "U+202A"},
		{"RLO", "\u202eelppA", "", "U+202E"},
		{"PDF", "Apple\u202c", "", "U+202C"},
		{"LRI", "\u2066Apple", "", "U+2066"},
		{"PDI", "Apple\u2069", "", "U+2069"},
		{"zero-width space alone", "\u200b", "", "visible"},
		{"zero-width spaces", "\u200b\u200b\u200b", "", "visible"},
		{"ZWNJ and ZWJ", "\u200c\u200d", "", "visible"},
		{"word joiner", "\u2060", "", "visible"},
		{"byte-order mark", "\ufeff", "", "visible"},
		{"soft hyphen", "\u00ad", "", "visible"},
		{"left-to-right mark alone", "\u200e\u200f", "", "visible"},
		{"Mongolian vowel separator", "\u180e", "", "visible"},
		{"combining acute alone", "\u0301", "", "visible"},
		{"variation selector", "\ufe0f", "", "visible"},
		{"combining grapheme joiner", "\u034f", "", "visible"},
		{"Hangul filler", "\u3164", "", "visible"},
		{"halfwidth Hangul filler", "\uffa0", "", "visible"},
		{"Hangul choseong filler", "\u115f\u1160", "", "visible"},
		{"Braille blank", "\u2800", "", "visible"},
		{"tag characters", "\U000E0041\U000E0042", "", "visible"},
		{"private use", "\ue000", "", "visible"},
		{"unassigned", "\U0003FFFD", "", "visible"},
		{"invisibles between spaces", " \u200b \ufeff ", "", "visible"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := items.ValidateName(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ValidateName(%+q) = %+q, nil; want an error naming %q", tt.in, got, tt.wantErr)
				}
				if items.ErrorCode(err) != items.Invalid || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ValidateName(%+q) = %v (code %s); want code %s naming %q", tt.in, err, items.ErrorCode(err), items.Invalid, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ValidateName(%+q) = %+q, %v; want %+q, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestIsVisible(t *testing.T) {
	tests := []struct {
		r    rune
		want bool
	}{
		{'a', true}, {'Z', true}, {'\u00e9', true}, {'\u0430', true}, {'\u4e00', true},
		{'0', true}, {'\u0663', true}, {'.', true}, {'-', true}, {'$', true}, {'\U0001F600', true},
		{' ', false}, {'\u00a0', false}, {'\u3000', false}, {'\t', false}, {0, false},
		{'\u00ad', false}, {'\u200b', false}, {'\u200c', false}, {'\u200d', false}, {'\u2060', false},
		{'\ufeff', false}, {'\u202e', false}, {'\u2066', false}, {'\u200e', false},
		{'\u0301', false}, {'\ufe0f', false}, {'\u034f', false}, {'\u20dd', false},
		{'\u115f', false}, {'\u1160', false}, {'\u3164', false}, {'\uffa0', false}, {'\u2800', false},
		{'\ue000', false}, {'\U000E0001', false}, {'\U0003FFFD', false},
	}
	for _, tt := range tests {
		if got := items.IsVisible(tt.r); got != tt.want {
			t.Errorf("IsVisible(%U) = %v, want %v", tt.r, got, tt.want)
		}
	}
}

func TestNewItemValidate(t *testing.T) {
	d := "fresh"
	got, err := items.NewItem{Name: " Cafe\u0301 ", Description: &d}.Validate()
	if err != nil || got.Name != "Caf\u00e9" || got.Description != &d {
		t.Errorf("Validate() = %+v, %v; want the name normalised and trimmed, the description kept", got, err)
	}
	if _, err := (items.NewItem{Name: "\u200b"}).Validate(); items.ErrorCode(err) != items.Invalid {
		t.Errorf("Validate() of an invisible name = %v, want code %s", err, items.Invalid)
	}
	long := strings.Repeat("x", items.MaxDescriptionLength+1)
	if _, err := (items.NewItem{Name: "ok", Description: &long}).Validate(); items.ErrorCode(err) != items.Invalid {
		t.Errorf("Validate() of a long description = %v, want code %s", err, items.Invalid)
	}
}

func TestValidateNewUserName(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"alice", true},
		{"Alice.Smith_2-b", true},
		{"a", true},
		{strings.Repeat("a", 64), true},
		{"...", true},
		{"", false},
		{strings.Repeat("a", 65), false},
		{"admin\u200b", false},     // zero-width space
		{"\u0430dmin", false},      // Cyrillic а
		{"adm\u0131n", false},      // dotless i
		{"\uff41dmin", false},      // fullwidth a
		{"admin ", false},          // white space is trimmed before, never stored
		{"al ice", false},          //
		{"bob@example.com", false}, //
		{"J\u00fcrgen", false},     // non-ASCII letters are kept for names stored before the rule
		{"root\x00", false},        //
		{"a\u202eb", false},        //
		{"\ufeffadmin", false},     //
		{"admin\u0301", false},     //
		{"\U0001F600", false},      //
		{"a/b", false}, {"a:b", false},
	}
	for _, tt := range tests {
		err := items.ValidateNewUserName(tt.in)
		if got := err == nil; got != tt.want {
			t.Errorf("ValidateNewUserName(%+q) = %v, want ok %v", tt.in, err, tt.want)
		}
		if err != nil && items.ErrorCode(err) != items.Invalid {
			t.Errorf("ValidateNewUserName(%+q) code = %s, want %s", tt.in, items.ErrorCode(err), items.Invalid)
		}
	}
}

func TestFoldUserName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Alice", "alice"},
		{"ADMIN.Root_1-X", "admin.root_1-x"},
		{"J\u00dcRGEN", "j\u00dcrgen"}, // ASCII only, as the stores fold
		{"\u212a", "\u212a"},           // the Kelvin sign is not K
	}
	for _, tt := range tests {
		if got := items.FoldUserName(tt.in); got != tt.want {
			t.Errorf("FoldUserName(%+q) = %+q, want %+q", tt.in, got, tt.want)
		}
	}
}

func TestSearchTooLong(t *testing.T) {
	tests := []struct {
		name string
		q    string
		want bool
	}{
		{"empty", "", false},
		{"200 ASCII", strings.Repeat("a", 200), false},
		{"201 ASCII", strings.Repeat("a", 201), true},
		{"200 of 4 bytes", strings.Repeat("\U0001F34E", 200), false},
		{"201 of 4 bytes", strings.Repeat("\U0001F34E", 201), true},
		{"200 of 2 bytes", strings.Repeat("\u00e9", 200), false},
		{"201 of 2 bytes", strings.Repeat("\u00e9", 201), true},
		{"201 invalid bytes", strings.Repeat("\xff", 201), true},
		{"1.9 MB", strings.Repeat("\u00e9", 950_000), true},
	}
	for _, tt := range tests {
		if got := items.SearchTooLong(tt.q); got != tt.want {
			t.Errorf("SearchTooLong(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestNormalizeSearch(t *testing.T) {
	tests := []struct{ q, want string }{
		{"", ""},
		{"cafe\u0301", "caf\u00e9"},
		{"CAF\u00c9", "CAF\u00c9"},
		{strings.Repeat("e\u0301", 100), strings.Repeat("\u00e9", 100)},
	}
	for _, tt := range tests {
		if got := items.NormalizeSearch(tt.q); got != tt.want {
			t.Errorf("NormalizeSearch(%+q) = %+q, want %+q", tt.q, got, tt.want)
		}
	}
}

// FuzzValidateName checks what ValidateName promises of every name it
// accepts: the stored name is NFC, trimmed, 1 to MaxNameLength code
// points, free of controls and bidirectional controls, holds a visible
// character, and is accepted again unchanged.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"Apple", " Cafe\u0301 ", "\u200b", "\ufeffa", "\u202eabc", "\u3164", "a\u0301\u0323", "\u1100\u1161\u11a8", "\xff", strings.Repeat("e\u0301", 201)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := items.ValidateName(s)
		if err != nil {
			if items.ErrorCode(err) != items.Invalid {
				t.Fatalf("ValidateName(%+q) code = %s, want %s", s, items.ErrorCode(err), items.Invalid)
			}
			return
		}
		if !norm.NFC.IsNormalString(got) {
			t.Errorf("ValidateName(%+q) = %+q, not NFC", s, got)
		}
		if strings.TrimFunc(got, unicode.IsSpace) != got {
			t.Errorf("ValidateName(%+q) = %+q, not trimmed", s, got)
		}
		if n := utf8.RuneCountInString(got); n < 1 || n > items.MaxNameLength {
			t.Errorf("ValidateName(%+q) = %+q, %d code points", s, got, n)
		}
		if strings.IndexFunc(got, unicode.IsControl) >= 0 || strings.IndexFunc(got, items.IsBidiControl) >= 0 {
			t.Errorf("ValidateName(%+q) = %+q, with a control", s, got)
		}
		if strings.IndexFunc(got, items.IsVisible) < 0 {
			t.Errorf("ValidateName(%+q) = %+q, nothing visible", s, got)
		}
		if again, err := items.ValidateName(got); err != nil || again != got {
			t.Errorf("ValidateName(%+q) = %+q, %v; want it unchanged", got, again, err)
		}
	})
}

func TestValidateExpiry(t *testing.T) {
	now := time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		at   *time.Time
		want bool
	}{
		{nil, true},
		{ptr(now.Add(time.Microsecond)), true},
		{ptr(now.AddDate(1, 0, 0)), true},
		{ptr(now), false},
		{ptr(now.Add(-time.Hour)), false},
		{ptr(now.AddDate(1, 0, 0).Add(time.Microsecond)), false},
	} {
		err := items.ValidateExpiry(tt.at, now)
		if (err == nil) != tt.want || err != nil && items.ErrorCode(err) != items.Invalid {
			t.Errorf("ValidateExpiry(%v) = %v, want ok %v", tt.at, err, tt.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestTokenIDFromPrefix(t *testing.T) {
	token, _ := items.MintToken(42)
	for _, tt := range []struct {
		in   string
		id   int64
		want bool
	}{
		{token, 42, true},
		{"itm_42_", 42, true},
		{"itm_42", 0, false},
		{"itm_042_x", 0, false},
		{"itm__x", 0, false},
		{"abc_42_x", 0, false},
		{"itm_99999999999999999999_x", 0, false},
	} {
		if id, ok := items.TokenIDFromPrefix(tt.in); ok != tt.want || id != tt.id {
			t.Errorf("TokenIDFromPrefix(%q) = %d, %v; want %d, %v", tt.in, id, ok, tt.id, tt.want)
		}
	}
}
