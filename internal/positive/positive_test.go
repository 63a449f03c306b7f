package positive

import (
	"testing"
	"time"
)

func TestOr(t *testing.T) {
	for _, tt := range []struct{ v, def, want int }{{5, 8, 5}, {1, 8, 1}, {0, 8, 8}, {-1, 8, 8}} {
		if got := Or(tt.v, tt.def); got != tt.want {
			t.Errorf("Or(%d, %d) = %d, want %d", tt.v, tt.def, got, tt.want)
		}
	}
	if got := Or(time.Duration(0), time.Second); got != time.Second {
		t.Errorf("Or(0, 1s) = %v, want 1s", got)
	}
}
