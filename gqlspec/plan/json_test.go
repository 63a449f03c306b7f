package plan

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"itemsapi/gqlspec/scalar"
)

// marshalled is what a marshaler writes, compacted by encoding/json as a
// response's data is when the response is marshalled.
func marshalled(m graphql.Marshaler) string {
	var buf bytes.Buffer
	m.MarshalGQL(&buf)
	out, err := json.Marshal(json.RawMessage(buf.Bytes()))
	if err != nil {
		panic(err)
	}
	return string(out)
}

// TestWritersMatchMarshalers holds the writers of json.go to the
// marshalers that gqlgen.yml binds, which gqlgen's executor calls.
func TestWritersMatchMarshalers(t *testing.T) {
	strs := []string{"", "plain", `"`, `\`, "\x00\x01\x1f\x20\x7f", "\t\r\n\b\f", "é😀\u2028\u2029",
		"<script>&amp;", "\xff\xfe invalid \xc3", "\xed\xa0\x80", "mixed \"q\" \\ \n end",
		"\u2028\u2029\u2027\u202a", "\xe2\x80", "\xe2", "ends \xe2\x80\xa8", "\xe2\x80\xa9x", "<>&'"}
	for _, s := range strs {
		if got, want := string(appendString(nil, s)), marshalled(scalar.MarshalString(s)); got != want {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
		if got, want := string(appendString(nil, []byte(s))), marshalled(scalar.MarshalString(s)); got != want {
			t.Errorf("appendString([]byte(%q)) = %s, want %s", s, got, want)
		}
	}
	for _, n := range []int{0, 1, -1, math.MaxInt32, math.MinInt32, math.MaxInt64} {
		if got, want := string(appendInt(nil, n)), marshalled(scalar.MarshalInt(n)); got != want {
			t.Errorf("appendInt(%d) = %s, want %s", n, got, want)
		}
	}
	for _, id := range []int64{1, 42, math.MaxInt64} {
		if got, want := string(appendID(nil, id)), marshalled(scalar.MarshalID(id)); got != want {
			t.Errorf("appendID(%d) = %s, want %s", id, got, want)
		}
	}
	for _, b := range []bool{true, false} {
		if got, want := string(appendBoolean(nil, b)), marshalled(scalar.MarshalBoolean(b)); got != want {
			t.Errorf("appendBoolean(%v) = %s, want %s", b, got, want)
		}
	}
	paris := time.FixedZone("Paris", 3600)
	for _, tm := range []time.Time{{}, time.Date(2026, 11, 25, 14, 17, 15, 123456000, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, paris), time.Date(1999, 12, 31, 23, 59, 59, 1, time.UTC)} {
		if got, want := string(appendTime(nil, tm)), marshalled(scalar.MarshalTime(tm)); got != want {
			t.Errorf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

// FuzzAppendTime holds appendTime to scalar.MarshalTime for any instant,
// in any zone, years outside 0–9999 included.
func FuzzAppendTime(f *testing.F) {
	f.Add(int64(0), int64(0), 0)
	f.Add(int64(1795616235), int64(123456000), 3600)
	f.Add(int64(253402300799), int64(999999999), -1)
	f.Add(int64(-62135596800), int64(1), 0)
	f.Add(int64(-62167219201), int64(10), 0)
	f.Add(int64(253402300800), int64(100), 7200)
	f.Fuzz(func(t *testing.T, sec, nsec int64, offset int) {
		tm := time.Unix(sec, nsec).In(time.FixedZone("", offset%(26*3600)))
		if got, want := string(appendTime(nil, tm)), marshalled(scalar.MarshalTime(tm)); got != want {
			t.Errorf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	})
}

// FuzzAppendString holds appendString to scalar.MarshalString, as
// encoding/json compacts it, for any bytes.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "\u2028\u2029\u2027", "\xe2\x80", "<&>\"\\\x00\x7f", "é😀\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendString(nil, s)), marshalled(scalar.MarshalString(s)); got != want {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}

// BenchmarkAppendTime writes the createdAt of a page: what a deep page
// spends most of its own writing on.
func BenchmarkAppendTime(b *testing.B) {
	times := make([]time.Time, 100)
	for i := range times {
		times[i] = time.Unix(1795616235+int64(i)*7919, int64(i)*123457).UTC()
	}
	buf := make([]byte, 0, 64)
	for b.Loop() {
		for _, tm := range times {
			buf = appendTime(buf[:0], tm)
		}
	}
}
