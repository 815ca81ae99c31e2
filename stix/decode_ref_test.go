package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// referenceDecode is decode as it was before its own parser: a scan for
// duplicate keys and depth, then encoding/json. It parses one JSON value into the form the schema validator takes
// (map[string]any, []any, string, json.Number, bool, nil). Unlike a plain
// json.Unmarshal it first refuses duplicate object keys (two parsers could
// read two different markings from one bundle) and nesting deeper than
// maxDepth, in one pass over the bytes that builds nothing.
func referenceDecode(data []byte, maxDepth int) (any, error) {
	if err := referenceScan(data, maxDepth); err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, &decodeError{err: fmt.Errorf("not valid JSON: %w", err)}
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, &decodeError{err: errors.New("unexpected data after the end of the JSON value")}
	}
	return v, nil
}

// frame is one open object or array during scan.
type refFrame struct {
	object bool
	keys   map[string]bool // keys seen so far, for objects
	key    string          // the current key (objects) ...
	index  int             // ... or item index (arrays)
}

// scan checks the nesting depth and the uniqueness of object keys. It trusts
// the JSON to be well formed; decode's parser checks that afterwards.
func referenceScan(data []byte, maxDepth int) error {
	var stack []refFrame
	wantKey := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '{', '[':
			if len(stack) == maxDepth {
				return &decodeError{path: refPath(stack), err: errTooDeep}
			}
			stack = append(stack, refFrame{object: c == '{'})
			wantKey = c == '{'
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			wantKey = false
		case ',':
			if n := len(stack); n > 0 {
				wantKey = stack[n-1].object
				stack[n-1].index++
			}
		case '"':
			end := refStringEnd(data, i)
			if wantKey && len(stack) > 0 {
				top := &stack[len(stack)-1]
				key := refUnquote(data[i:end])
				if top.keys == nil {
					top.keys = map[string]bool{}
				}
				if top.keys[key] {
					return &decodeError{path: refPath(stack[:len(stack)-1]) + "/" + escapeToken(key),
						err: fmt.Errorf("duplicate key %q: keep only one", key)}
				}
				top.keys[key] = true
				top.key = key
				wantKey = false
			}
			i = end - 1
		}
	}
	return nil
}

// stringEnd returns the index just past the string literal starting at i.
func refStringEnd(data []byte, i int) int {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(data)
}

// unquote returns the value of a JSON string literal (escapes decoded).
func refUnquote(lit []byte) string {
	if bytes.IndexByte(lit, '\\') < 0 && len(lit) >= 2 {
		return string(lit[1 : len(lit)-1])
	}
	var s string
	if json.Unmarshal(lit, &s) != nil {
		return string(lit) // malformed: the parser will refuse it
	}
	return s
}

func refPath(stack []refFrame) string {
	frames := make([]frame, len(stack))
	for i, f := range stack {
		frames[i] = frame{object: f.object, key: f.key, index: f.index}
	}
	return stackPath(frames)
}
