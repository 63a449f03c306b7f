package httpapi

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestAccessLogMatchesSlog: the hand-formatted line is the one slog's text
// handler writes, for ordinary values and for values a client chose to
// break a log line with.
func TestAccessLogMatchesSlog(t *testing.T) {
	values := []string{
		"", "abc", "/graphql", "ListItems", "a b", "a=b", `a"b`, `a\b`, "a\nb", "tab\there",
		"\x00", "\x7f", "é", "日本", "\u00a0", "\u2028", "\xff", "a\xffb", "{}", "<script>", "%20",
	}
	at := time.Date(2026, 11, 25, 15, 4, 5, 123456789, time.UTC)
	for _, v := range values {
		for _, d := range []time.Duration{0, 1500 * time.Microsecond, 3 * time.Second} {
			var fast, slow bytes.Buffer
			newAccessLog(&fast, nil).request(at, v, "POST", v, v, 200, d)
			log := slog.New(slog.NewTextHandler(&slow, &slog.HandlerOptions{
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						a.Value = slog.TimeValue(at)
					}
					return a
				},
			}))
			newAccessLog(nil, log).request(at, v, "POST", v, v, 200, d)
			if fast.String() != slow.String() {
				t.Errorf("value %q, %v:\n by hand %q\n slog    %q", v, d, fast.String(), slow.String())
			}
			if strings.Count(fast.String(), "\n") != 1 {
				t.Errorf("value %q makes %q, not one line", v, fast.String())
			}
		}
	}
}
