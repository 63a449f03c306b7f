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

// TestAccessLogTime: the time of a line, formatted once a second, is what
// AppendFormat writes, in any zone, across seconds, zones and the changes
// of a zone's offset, in any order.
func TestAccessLogTime(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	zones := []*time.Location{time.UTC, time.Local, paris, time.FixedZone("odd", -(3*3600 + 30*60 + 17))}
	// Around the night Paris changes from +01:00 to +02:00 (01:00 UTC).
	base := time.Date(2026, 3, 29, 0, 59, 58, 0, time.UTC)
	a := newAccessLog(nil, nil)
	for i := range 2000 {
		at := base.Add(time.Duration(i*i%7919) * 1_999_999_937 / 1000).In(zones[i%len(zones)])
		if i%3 == 0 {
			at = time.Now().In(zones[i%len(zones)]) // with a monotonic reading
		}
		got := string(a.appendTime([]byte("x"), at))
		if want := "x" + at.Round(0).Format("2006-01-02T15:04:05.000Z07:00"); got != want {
			t.Fatalf("appendTime(%v) = %q, want %q", at, got, want)
		}
	}
	for _, at := range []time.Time{{}, time.Date(10000, 1, 1, 0, 0, 0, 999_999_999, time.UTC), time.Date(-1, 12, 31, 23, 59, 59, 1_000_000, paris)} {
		if got, want := string(a.appendTime(nil, at)), at.Format("2006-01-02T15:04:05.000Z07:00"); got != want {
			t.Fatalf("appendTime(%v) = %q, want %q", at, got, want)
		}
	}
}
