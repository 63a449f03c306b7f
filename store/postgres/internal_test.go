package postgres

import (
	"testing"

	"itemsapi/items"
)

func TestMigrationFiles(t *testing.T) {
	steps, err := migrations()
	if err != nil {
		t.Fatalf("migrations() = %v", err)
	}
	if len(steps) == 0 {
		t.Fatalf("migrations() is empty")
	}
}

func TestContainsPattern(t *testing.T) {
	tests := []struct{ search, want string }{
		{"apple", "%APPLE%"},
		{"100%", "%100\\%%"},
		{"a_b", "%A\\_B%"},
		{`back\slash`, `%BACK\\SLASH%`},
		{"it's", "%IT'S%"},
		{"äpfel", "%ÄPFEL%"},
	}
	for _, tt := range tests {
		if got := containsPattern(tt.search); got != tt.want {
			t.Errorf("containsPattern(%q) = %q, want %q", tt.search, got, tt.want)
		}
	}
}

func TestCheckText(t *testing.T) {
	for _, s := range []string{"", "plain", "ünïcödé 🍏", "tab\tand\nnewline"} {
		if err := checkText("name", s); err != nil {
			t.Errorf("checkText(%q) = %v, want nil", s, err)
		}
	}
	for _, s := range []string{"a\x00b", "\x00", "bad \xff byte", string([]byte{0xc3})} {
		if err := checkText("name", s); items.ErrorCode(err) != items.Invalid {
			t.Errorf("checkText(%q) = %v, want code %q", s, err, items.Invalid)
		}
	}
}
