package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// errTooDeep is returned by decode when the nesting exceeds the limit.
var errTooDeep = errors.New("nested too deeply")

// decodeError is a JSON document that cannot be accepted, with the JSON
// pointer of where decoding stopped.
type decodeError struct {
	path string
	err  error
}

func (e *decodeError) Error() string { return e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

// decode parses one JSON value into the form the schema validator takes
// (map[string]any, []any, string, json.Number, bool, nil). Unlike
// json.Unmarshal it refuses duplicate object keys (two parsers could read two
// different markings from one bundle) and values nested deeper than maxDepth,
// checked before descending, so that the work is bounded by the input size.
func decode(data []byte, maxDepth int) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	v, err := decodeValue(d, maxDepth, nil)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, &decodeError{err: errors.New("unexpected data after the bundle's closing brace")}
	}
	return v, nil
}

func decodeValue(d *json.Decoder, depth int, path []string) (any, error) {
	tok, err := token(d, path)
	if err != nil {
		return nil, err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	if depth <= 0 {
		return nil, &decodeError{path: pointer(path), err: errTooDeep}
	}
	var v any
	if delim == '[' {
		arr := []any{}
		for d.More() {
			item, err := decodeValue(d, depth-1, append(path, strconv.Itoa(len(arr))))
			if err != nil {
				return nil, err
			}
			arr = append(arr, item)
		}
		v = arr
	} else {
		obj := map[string]any{}
		for d.More() {
			tok, err := token(d, path)
			if err != nil {
				return nil, err
			}
			key := tok.(string) // inside an object the decoder yields only string keys
			if _, dup := obj[key]; dup {
				return nil, &decodeError{path: pointer(append(path, key)), err: fmt.Errorf("duplicate key %q: keep only one", key)}
			}
			if obj[key], err = decodeValue(d, depth-1, append(path, key)); err != nil {
				return nil, err
			}
		}
		v = obj
	}
	if _, err := token(d, path); err != nil { // the closing delimiter
		return nil, err
	}
	return v, nil
}

// token reads the next token, turning a syntax error into a decodeError.
func token(d *json.Decoder, path []string) (json.Token, error) {
	tok, err := d.Token()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, &decodeError{path: pointer(path), err: fmt.Errorf("not valid JSON near byte %d: %w", d.InputOffset(), err)}
	}
	return tok, nil
}

// pointer renders a JSON pointer (RFC 6901).
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		if strings.ContainsAny(t, "~/") {
			t = strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
		}
		b.WriteString(t)
	}
	return b.String()
}
