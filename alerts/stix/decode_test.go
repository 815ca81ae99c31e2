package stix

import (
	"errors"
	"strings"
	"testing"
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
