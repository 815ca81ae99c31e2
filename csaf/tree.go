package csaf

import (
	"encoding/json"
	"strconv"
	"strings"
)

// The document is read into the generic tree the schema validator uses:
// objects are map[string]any, arrays []any, numbers json.Number. These
// helpers read it without panicking on a document the schema refused.

// obj returns v[key] as an object, or nil.
func obj(v any, key string) map[string]any {
	m, _ := v.(map[string]any)
	o, _ := m[key].(map[string]any)
	return o
}

// arr returns v[key] as an array, or nil.
func arr(v any, key string) []any {
	m, _ := v.(map[string]any)
	a, _ := m[key].([]any)
	return a
}

// str returns v[key] as a string, or "".
func str(v any, key string) string {
	m, _ := v.(map[string]any)
	s, _ := m[key].(string)
	return s
}

// has reports whether the object v has the property key.
func has(v any, key string) bool {
	m, _ := v.(map[string]any)
	_, ok := m[key]
	return ok
}

// num returns v[key] as a number and whether it is one.
func num(v any, key string) (float64, bool) {
	m, _ := v.(map[string]any)
	n, ok := m[key].(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// strs returns the strings of the array v[key] with their indexes.
func strs(v any, key string) []indexed {
	var out []indexed
	for i, e := range arr(v, key) {
		if s, ok := e.(string); ok {
			out = append(out, indexed{i, s})
		}
	}
	return out
}

// indexed is a string of an array and its index there.
type indexed struct {
	i int
	s string
}

// at builds a JSON pointer from a base pointer and tokens (strings or ints).
func at(base string, tokens ...any) string {
	var b strings.Builder
	b.WriteString(base)
	for _, t := range tokens {
		b.WriteByte('/')
		switch t := t.(type) {
		case int:
			b.WriteString(strconv.Itoa(t))
		case string:
			b.WriteString(escapeToken(t))
		}
	}
	return b.String()
}

// escapeToken escapes one JSON pointer token (RFC 6901).
func escapeToken(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// pointer joins schema instance location tokens into a JSON pointer.
func pointer(loc []string) string {
	var b strings.Builder
	for _, t := range loc {
		b.WriteByte('/')
		b.WriteString(escapeToken(t))
	}
	return b.String()
}
