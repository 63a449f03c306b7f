package items

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what an item may hold, in Unicode code points.
const (
	MaxNameLength        = 200
	MaxDescriptionLength = 2000
	MaxUserNameLength    = 100
)

// Validate trims the name and checks n against the rules of the public
// contract. It returns the cleaned item, or an *Error with code Invalid
// that says which rule failed.
func (n NewItem) Validate() (NewItem, error) {
	if !utf8.ValidString(n.Name) {
		return n, Errorf(Invalid, "name is not valid UTF-8")
	}
	n.Name = strings.TrimFunc(n.Name, unicode.IsSpace)
	switch l := utf8.RuneCountInString(n.Name); {
	case l == 0:
		return n, Errorf(Invalid, "name must not be empty")
	case l > MaxNameLength:
		return n, Errorf(Invalid, "name is %d characters long; at most %d are allowed", l, MaxNameLength)
	}
	if strings.IndexFunc(n.Name, unicode.IsControl) >= 0 {
		return n, Errorf(Invalid, "name must not contain control characters")
	}
	if d := n.Description; d != nil {
		if !utf8.ValidString(*d) {
			return n, Errorf(Invalid, "description is not valid UTF-8")
		}
		if l := utf8.RuneCountInString(*d); l > MaxDescriptionLength {
			return n, Errorf(Invalid, "description is %d characters long; at most %d are allowed", l, MaxDescriptionLength)
		}
		if strings.IndexByte(*d, 0) >= 0 {
			return n, Errorf(Invalid, "description must not contain NUL characters")
		}
	}
	return n, nil
}

// ValidateUserName trims a user name for a new token and checks it: 1 to
// MaxUserNameLength code points of valid UTF-8 without control characters.
func ValidateUserName(name string) (string, error) {
	if !utf8.ValidString(name) {
		return name, Errorf(Invalid, "user is not valid UTF-8")
	}
	name = strings.TrimFunc(name, unicode.IsSpace)
	switch l := utf8.RuneCountInString(name); {
	case l == 0:
		return name, Errorf(Invalid, "user must not be empty")
	case l > MaxUserNameLength:
		return name, Errorf(Invalid, "user is %d characters long; at most %d are allowed", l, MaxUserNameLength)
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return name, Errorf(Invalid, "user must not contain control characters")
	}
	return name, nil
}

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
