package stix

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecode(t *testing.T) {
	deep := strings.Repeat("[", 5) + strings.Repeat("]", 5)
	tests := []struct {
		name, in string
		depth    int
		path     string // of the error; "-" when no error
		tooDeep  bool
	}{
		{"object", `{"a": [1, {"b": "c"}], "d": null}`, 8, "-", false},
		{"depth at the limit", deep, 5, "-", false},
		{"depth over the limit", deep, 4, "/0/0/0/0", true},
		{"deep in an object", `{"a": {"b": [[1]]}}`, 3, "/a/b/0", true},
		{"duplicate key", `{"a": 1, "b": {"c": 1, "c": 2}}`, 8, "/b/c", false},
		{"duplicate key through an escape", `{"ab": 1, "a\u0062": 2}`, 8, "/ab", false},
		{"same key in two objects", `[{"a": 1}, {"a": 1}]`, 8, "-", false},
		{"key equal to a value", `{"a": "b", "b": "a"}`, 8, "-", false},
		{"quote and brace in strings", `{"a\"{": "}\\", "b": "[\"x"}`, 8, "-", false},
		{"duplicate after nested object", `{"a": {"x": 1}, "a": 2}`, 8, "/a", false},
		{"pointer escaping", `{"a/b": 1, "a/b": 2}`, 8, "/a~1b", false},
		{"truncated", `{"a": [1, 2`, 8, "", false},
		{"trailing data", `{} {}`, 8, "", false},
		{"empty", ``, 8, "", false},
		{"not json", `{a: 1}`, 8, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decode([]byte(tt.in), tt.depth)
			if tt.path == "-" {
				if err != nil {
					t.Fatalf("decode failed: %v", err)
				}
				return
			}
			var de *decodeError
			if !errors.As(err, &de) {
				t.Fatalf("decode error = %v, want a decodeError", err)
			}
			if de.path != tt.path || errors.Is(err, errTooDeep) != tt.tooDeep {
				t.Errorf("error at %q (too deep %v): %v; want at %q (too deep %v)", de.path, errors.Is(err, errTooDeep), err, tt.path, tt.tooDeep)
			}
		})
	}
}

func TestDecodeKeepsNumbersExact(t *testing.T) {
	v, err := decode([]byte(`{"n": 12345678901234567890.5}`), 4)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.(map[string]any)["n"]; got != any(jsonNumber("12345678901234567890.5")) {
		t.Errorf("n = %#v", got)
	}
}

// decodeSamples are documents on every branch of the parser: escapes,
// surrogate pairs and unpaired surrogates, numbers at their grammar's
// edges, and malformed text of each kind.
var decodeSamples = []string{
	`{"a": [1, {"b": "c"}], "d": null, "e": true, "f": false}`,
	`  [ ]  `, `{}`, `""`, `0`, `-0`, `-0.5e+10`, `1E3`, `12345678901234567890.5`,
	`"\"\\\/\b\f\n\r\t"`, `"\u00e9\u20AC"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ud83dx"`, `"\ude00\ud83d"`,
	`"\ud83d\u0041"`, `"\ud83d\ud83d\ude00"`, `"é ✓ 😀"`, `{"a\u0062": 1}`,
	`01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x10`, `tru`, `nul`, `falsey`, `[1,]`, `{"a":1,}`, `{"a" 1}`,
	`{"a":1 "b":2}`, `[1 2]`, `"abc`, `"a\`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"a\tb\"", `{1: 2}`, `{"a"}`, `]`, `}`,
	`[] []`, `{} x`, ``, `   `, `[[[[[]]]]]`, `{"a": {"b": {"c": {"d": {}}}}}`,
	`{"a": 1, "a": 2}`, `{"a": 1, "b": {"c": 1, "c": 2}}`, `{"a": 1, "a"`, `{a: 1, "b": 1, "b": 2}`,
}

// TestDecodeMatchesEncodingJSON: decode builds what encoding/json (after
// the old duplicate-key scan) builds, and refuses what it refuses.
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, in := range decodeSamples {
		compareDecoders(t, []byte(in), 5)
	}
}

// FuzzDecodeMatchesEncodingJSON: no document makes decode and the
// reference disagree on a value, or on whether it is refused.
func FuzzDecodeMatchesEncodingJSON(f *testing.F) {
	for _, in := range decodeSamples {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !utf8.Valid(data) {
			return // ValidateBundle refuses it before decoding
		}
		compareDecoders(t, data, 6)
	})
}

func compareDecoders(t *testing.T, data []byte, depth int) {
	t.Helper()
	got, err := decode(data, depth)
	want, werr := referenceDecode(data, depth)
	if (err == nil) != (werr == nil) {
		t.Fatalf("%q: decode error %v, encoding/json error %v", data, err, werr)
	}
	if err != nil {
		var de *decodeError
		if !errors.As(err, &de) {
			t.Fatalf("%q: error %v is not a decodeError", data, err)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: decode built %#v, encoding/json %#v", data, got, want)
	}
}
