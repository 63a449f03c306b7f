package items

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Limits on what an item may hold, in Unicode code points.
const (
	MaxNameLength        = 200
	MaxDescriptionLength = 2000
	MaxUserNameLength    = 100
)

// Validate checks n against the rules of the public contract and returns
// it cleaned: the name as ValidateName leaves it. It fails with an *Error
// of code Invalid that says which rule failed.
func (n NewItem) Validate() (NewItem, error) {
	name, err := ValidateName(n.Name)
	if err != nil {
		return n, err
	}
	n.Name = name
	if n.Description != nil {
		if err := validateDescription(*n.Description); err != nil {
			return n, err
		}
	}
	return n, nil
}

// validateDescription checks a description against the rules of the
// public contract, with an *Error of code Invalid that says which failed.
func validateDescription(d string) error {
	if !utf8.ValidString(d) {
		return Errorf(Invalid, "description is not valid UTF-8")
	}
	if l := utf8.RuneCountInString(d); l > MaxDescriptionLength {
		return Errorf(Invalid, "description is %d characters long; at most %d are allowed", l, MaxDescriptionLength)
	}
	if strings.IndexByte(d, 0) >= 0 {
		return Errorf(Invalid, "description must not contain NUL characters")
	}
	return nil
}

// ValidateName returns an item name as it is stored, or an *Error of code
// Invalid naming the rule it breaks. The rules, in the order checked:
//
//  1. valid UTF-8;
//  2. normalised to NFC (so that "é" typed as e + U+0301 and as U+00E9 is
//     one name), then trimmed of Unicode white space at both ends;
//  3. 1 to MaxNameLength code points, counted after 2;
//  4. no control characters (Unicode category Cc: tab, newline, NUL…),
//     and no U+2028 LINE SEPARATOR or U+2029 PARAGRAPH SEPARATOR, the
//     newlines of Unicode (JavaScript ends a line at them too);
//  5. no bidirectional embedding, override or isolate controls (U+202A–
//     U+202E, U+2066–U+2069), which reorder how the text around them
//     is shown; the marks U+200E, U+200F and U+061C stay allowed;
//  6. at least one visible character (see IsVisible), so that a name made
//     only of zero-width spaces, joiners, a byte-order mark, soft hyphens,
//     variation selectors, combining marks or Hangul fillers is refused.
//
// Invisible characters next to a visible one are kept: ZWJ joins emoji
// sequences and ZWNJ is needed in Persian and Indic words.
func ValidateName(name string) (string, error) {
	if !utf8.ValidString(name) {
		return name, Errorf(Invalid, "name is not valid UTF-8")
	}
	// Once trimmed, a string of more than 4 code points per allowed one
	// cannot normalise to an allowed length (NFC composes at most four
	// code points into one, as U+1F82 from α and three marks): refuse it
	// before normalising a few megabytes.
	if l := utf8.RuneCountInString(strings.TrimFunc(name, unicode.IsSpace)); l > 4*MaxNameLength {
		return name, Errorf(Invalid, "name is %d characters long; at most %d are allowed", l, MaxNameLength)
	}
	name = strings.TrimFunc(norm.NFC.String(name), unicode.IsSpace)
	if err := checkLengthAndControls("name", name, MaxNameLength); err != nil {
		return name, err
	}
	if strings.IndexFunc(name, isLineBreak) >= 0 {
		return name, Errorf(Invalid, "name must not contain line breaks (U+2028 line separator, U+2029 paragraph separator)")
	}
	if i := strings.IndexFunc(name, IsBidiControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(name[i:])
		return name, Errorf(Invalid, "name must not contain bidirectional controls (U+202A–U+202E, U+2066–U+2069); it contains U+%04X", r)
	}
	if strings.IndexFunc(name, IsVisible) < 0 {
		return name, Errorf(Invalid, "name must contain a visible character (a letter, digit, punctuation mark or symbol); zero-width, format and other invisible characters alone are not a name")
	}
	return name, nil
}

// isLineBreak reports whether r is a line or paragraph separator
// (categories Zl and Zp: U+2028, U+2029).
func isLineBreak(r rune) bool { return unicode.In(r, unicode.Zl, unicode.Zp) }

// IsBidiControl reports whether r is a bidirectional embedding, override
// or isolate control: U+202A–U+202E (LRE, RLE, PDF, LRO, RLO) or
// U+2066–U+2069 (LRI, RLI, FSI, PDI).
func IsBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069
}

// IsVisible reports whether r is drawn with a mark of its own: a letter,
// number, punctuation mark or symbol (general categories L, N, P and S)
// that is not a default-ignorable code point and not U+2800 BRAILLE
// PATTERN BLANK, a symbol drawn as nothing.
//
// So white space (Z), controls (Cc), format characters (Cf: U+200B zero-
// width space, U+200C ZWNJ, U+200D ZWJ, U+2060 word joiner, U+FEFF byte-
// order mark, U+00AD soft hyphen, the bidirectional marks…), private-use
// and unassigned code points are not visible; nor are marks (M), which
// only decorate the character before them (a combining accent, the
// variation selectors U+FE00–U+FE0F, U+034F combining grapheme joiner);
// nor the letters that Unicode lists as default-ignorable because they are
// drawn as nothing (the Hangul fillers U+115F, U+1160, U+3164, U+FFA0).
func IsVisible(r rune) bool {
	if r == '\u2800' {
		return false
	}
	return unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S) &&
		!unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r)
}

// MaxNewUserNameLength bounds the name of a new user, in bytes (all ASCII).
const MaxNewUserNameLength = 64

// ValidateUserName trims the user name given for a new token and checks
// what any user name must be: 1 to MaxUserNameLength code points of valid
// UTF-8 without control characters. Names stored before the stricter rule
// of ValidateNewUserName passed only this one; a store applies that rule
// when the name would make a new user. It fails with an *Error of code
// Invalid.
func ValidateUserName(name string) (string, error) {
	if !utf8.ValidString(name) {
		return name, Errorf(Invalid, "user is not valid UTF-8")
	}
	name = strings.TrimFunc(name, unicode.IsSpace)
	return name, checkLengthAndControls("user", name, MaxUserNameLength)
}

// checkLengthAndControls checks that the trimmed value of what (an item's
// "name", a "user") is 1 to maxLen code points long, without control
// characters.
func checkLengthAndControls(what, value string, maxLen int) error {
	switch l := utf8.RuneCountInString(value); {
	case l == 0:
		return Errorf(Invalid, "%s must not be empty", what)
	case l > maxLen:
		return Errorf(Invalid, "%s is %d characters long; at most %d are allowed", what, l, maxLen)
	}
	if strings.IndexFunc(value, unicode.IsControl) >= 0 {
		return Errorf(Invalid, "%s must not contain control characters", what)
	}
	return nil
}

// ValidateNewUserName checks the name of a user about to be created: 1 to
// MaxNewUserNameLength ASCII letters, digits, '.', '_' or '-', so that no
// two users look alike (no zero-width characters, no Cyrillic "а" for a
// Latin "a"); names that differ only in case are one user (see
// FoldUserName). It fails with an *Error of code Invalid.
func ValidateNewUserName(name string) error {
	if name == "" || len(name) > MaxNewUserNameLength {
		return Errorf(Invalid, "a new user name must be 1 to %d characters long", MaxNewUserNameLength)
	}
	for i := 0; i < len(name); i++ {
		if !userNameByte(name[i]) {
			return Errorf(Invalid, "a new user name may only hold ASCII letters, digits, '.', '_' and '-'")
		}
	}
	return nil
}

func userNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// FoldUserName returns name with ASCII letters in lower case, and every
// other byte as it is: the key under which stores find the user a name
// designates when no user has exactly that name. ASCII only, as new names
// are, and as SQLite's lower() and PostgreSQL's lower(… COLLATE "C") fold.
func FoldUserName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// SearchTooLong reports whether q is longer than MaxNameLength code
// points, so that it can match no name. It reads at most
// 4*(MaxNameLength+1) bytes of q, whatever its length: a code point takes
// 1 to 4 bytes in UTF-8 (a byte of invalid UTF-8 counts as one).
func SearchTooLong(q string) bool {
	if len(q) <= MaxNameLength {
		return false
	}
	if len(q) > 4*MaxNameLength {
		return true
	}
	return utf8.RuneCountInString(q) > MaxNameLength
}

// NormalizeSearch returns a search text normalised to NFC, as names are
// (see ValidateName), so that "é" typed as e + U+0301 finds a name stored
// with U+00E9. Call it on a text that ValidateSearch accepts and that is
// not SearchTooLong: the contract counts a search's code points as sent.
func NormalizeSearch(q string) string { return norm.NFC.String(q) }

// ValidateSearch checks a search text: valid UTF-8 without NUL, which
// some databases refuse.
func ValidateSearch(q string) error {
	if !utf8.ValidString(q) {
		return Errorf(Invalid, "query is not valid UTF-8")
	}
	if strings.IndexByte(q, 0) >= 0 {
		return Errorf(Invalid, "query must not contain NUL characters")
	}
	return nil
}

// FoldString returns s under Unicode simple case folding as stores compare
// names and searches: two strings that differ only in case fold equal.
func FoldString(s string) string {
	return strings.Map(foldRune, s)
}

// foldRune maps r to the smallest rune of its case-folding orbit, so that
// every member of the orbit maps to the same rune (k, K and the Kelvin sign
// all become K).
func foldRune(r rune) rune {
	min := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < min {
			min = f
		}
	}
	return min
}
