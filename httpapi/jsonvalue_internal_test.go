package httpapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// decodedAsBefore is what a json.Decoder with UseNumber makes of b.
func decodedAsBefore(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// FuzzNumberObject holds numberObject to what json.Decoder with UseNumber
// made of the variables and extensions of a request.
func FuzzNumberObject(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, ` { "n" : -1.5e+10 , "s":"x\"y\\z\u00e9\ud83d\ude00", "l":[1,"2",[],{}], "o":{"t":true,"f":false,"z":null} } `,
		`{"a":1,"a":2}`, `{"id":"12345678901234567890123"}`, `{"": ""}`, `{"k\n":"\/"}`, `{"big":123456789012345678901234567890}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m map[string]any
		if json.Unmarshal(b, &m) != nil || m == nil {
			return
		}
		var o numberObject
		if err := json.Unmarshal(b, &o); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if want := decodedAsBefore(t, b); o.notObject || !reflect.DeepEqual(o.m, want) {
			t.Fatalf("%q: got %#v, want %#v", b, o.m, want)
		}
	})
}
