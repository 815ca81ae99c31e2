package stix

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// errTooDeep is returned by decode when the nesting exceeds the limit.
var errTooDeep = errors.New("nested too deeply")

// decodeError is a JSON document that cannot be accepted, with the JSON
// pointer of where the problem is (when known).
type decodeError struct {
	path string
	err  error
}

func (e *decodeError) Error() string { return e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

// decode parses one JSON value into the form the schema validator takes
// (map[string]any, []any, string, json.Number, bool, nil), as
// encoding/json's Decoder with UseNumber builds it, in one pass. Unlike
// json.Unmarshal it refuses duplicate object keys (two parsers could read
// two different markings from one bundle) and nesting deeper than
// maxDepth. A bundle is decoded on every node that routes it and by every
// agent that receives it, which is why this is not encoding/json: that
// reads the bytes three times (TestDecodeMatchesEncodingJSON and
// FuzzDecodeMatchesEncodingJSON hold the two to the same values).
func decode(data []byte, maxDepth int) (any, error) {
	sc := scratchPool.Get().(*scratch)
	defer sc.put()
	p := parser{data: data, maxDepth: maxDepth, stack: sc.stack[:0], pairs: sc.pairs[:0]}
	defer func() { sc.stack, sc.pairs = p.stack, p.pairs }()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i < len(p.data) {
		return nil, &decodeError{err: errors.New("not valid JSON: unexpected data after the end of the JSON value")}
	}
	return v, nil
}

// scratch is a parser's working room, kept between documents: a bundle is
// decoded for every alert the router routes.
type scratch struct {
	stack []frame
	pairs []pair
}

var scratchPool = sync.Pool{New: func() any { return &scratch{stack: make([]frame, 0, 16), pairs: make([]pair, 0, 64)} }}

// put gives sc back to the pool, holding no values of the document.
func (sc *scratch) put() {
	clear(sc.stack[:cap(sc.stack)])
	clear(sc.pairs[:cap(sc.pairs)])
	scratchPool.Put(sc)
}

// frame is one open object or array, for the JSON pointer of errors.
type frame struct {
	object bool
	key    string // the current key (objects) ...
	index  int    // ... or item index (arrays)
}

type parser struct {
	data     []byte
	i        int
	maxDepth int
	stack    []frame
	pairs    []pair // the members of the open objects, not yet in their maps
}

func (p *parser) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// syntax is a malformed document: the message says what was found where.
func (p *parser) syntax(context string) error {
	if p.i >= len(p.data) {
		return &decodeError{err: errors.New("not valid JSON: unexpected end of JSON input")}
	}
	c := p.data[p.i]
	if c >= utf8.RuneSelf {
		r, _ := utf8.DecodeRune(p.data[p.i:])
		return &decodeError{err: fmt.Errorf("not valid JSON: invalid character %q %s at offset %d", r, context, p.i)}
	}
	return &decodeError{err: fmt.Errorf("not valid JSON: invalid character %q %s at offset %d", c, context, p.i)}
}

func (p *parser) value() (any, error) {
	p.space()
	if p.i >= len(p.data) {
		return nil, p.syntax("")
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.stringValue()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, p.syntax("looking for beginning of value")
}

func (p *parser) literal(word string) error {
	for k := 0; k < len(word); k++ {
		if p.i >= len(p.data) || p.data[p.i] != word[k] {
			return p.syntax("in literal " + word)
		}
		p.i++
	}
	return nil
}

// open enters a container, or refuses one nested too deeply.
func (p *parser) open(object bool) error {
	if len(p.stack) == p.maxDepth {
		return &decodeError{path: stackPath(p.stack), err: errTooDeep}
	}
	p.stack = append(p.stack, frame{object: object})
	p.i++
	return nil
}

// next skips the comma before a container's next member, if there is one.
func (p *parser) next() bool {
	p.space()
	if p.i < len(p.data) && p.data[p.i] == ',' {
		p.i++
		return true
	}
	return false
}

// end leaves the container if it closes here with close.
func (p *parser) end(close byte) bool {
	p.space()
	if p.i < len(p.data) && p.data[p.i] == close {
		p.i++
		p.stack = p.stack[:len(p.stack)-1]
		return true
	}
	return false
}

func (p *parser) object() (any, error) {
	if err := p.open(true); err != nil {
		return nil, err
	}
	if p.end('}') {
		return map[string]any{}, nil
	}
	// The members are gathered as pairs and the map is made at its size
	// once the object closes: a map grown member by member is made two or
	// three times for a typical STIX object of 9 to 16 properties. Past
	// smallObject members they go straight into a map, so that looking
	// for a duplicate key stays cheap.
	base := len(p.pairs)
	var big map[string]any
	for {
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return nil, p.syntax("looking for beginning of object key string")
		}
		key, err := p.string()
		if err != nil {
			return nil, err
		}
		if p.seen(base, big, key) {
			return nil, &decodeError{path: stackPath(p.stack[:len(p.stack)-1]) + "/" + escapeToken(key),
				err: fmt.Errorf("duplicate key %q: keep only one", key)}
		}
		p.stack[len(p.stack)-1].key = key
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return nil, p.syntax("after object key")
		}
		p.i++
		v, err := p.value() // its own members go after ours, and are gone when it returns
		if err != nil {
			return nil, err
		}
		if big != nil {
			big[key] = v
		} else if p.pairs = append(p.pairs, pair{key, v}); len(p.pairs)-base > smallObject {
			big = p.collect(base, 2*smallObject)
		}
		if p.next() {
			continue
		}
		if p.end('}') {
			if big == nil {
				big = p.collect(base, len(p.pairs)-base)
			}
			return big, nil
		}
		return nil, p.syntax("after object key:value pair")
	}
}

// smallObject is how many members an object gathers as pairs before they
// go into its map.
const smallObject = 32

// pair is an object member not yet in its map.
type pair struct {
	key string
	val any
}

// seen reports whether the object whose pairs start at base, or whose map
// is big, already has key.
func (p *parser) seen(base int, big map[string]any, key string) bool {
	if big != nil {
		_, ok := big[key]
		return ok
	}
	for _, kv := range p.pairs[base:] {
		if kv.key == key {
			return true
		}
	}
	return false
}

// collect moves the pairs from base on into a new map of the given size.
func (p *parser) collect(base, size int) map[string]any {
	m := make(map[string]any, size)
	for _, kv := range p.pairs[base:] {
		m[kv.key] = kv.val
	}
	clear(p.pairs[base:])
	p.pairs = p.pairs[:base]
	return m
}

func (p *parser) array() (any, error) {
	if err := p.open(false); err != nil {
		return nil, err
	}
	a := []any{}
	if p.end(']') {
		return a, nil
	}
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		if p.next() {
			p.stack[len(p.stack)-1].index++
			continue
		}
		if p.end(']') {
			return a, nil
		}
		return nil, p.syntax("after array element")
	}
}

// number keeps the literal as a json.Number, after checking its grammar.
func (p *parser) number() (any, error) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.data[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.data) && p.data[p.i] == '0':
		p.i++
	case digits() == 0:
		return nil, p.syntax("in numeric literal")
	}
	if p.i < len(p.data) && p.data[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, p.syntax("after decimal point in numeric literal")
		}
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		p.i++
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.syntax("in exponent of numeric literal")
		}
	}
	return json.Number(p.data[start:p.i]), nil
}

// string reads a string literal; p.i is at its opening quote.
func (p *parser) string() (string, error) {
	p.i++
	start := p.i
	for p.i < len(p.data) {
		switch c := p.data[p.i]; {
		case c == '"':
			b := p.data[start:p.i]
			p.i++
			if len(b) <= internMaxLen {
				if v, ok := interned[string(b)]; ok {
					return v.(string), nil
				}
			}
			return string(b), nil
		case c == '\\':
			return p.escaped(start)
		case c < 0x20:
			return "", p.syntax("in string literal")
		}
		p.i++
	}
	return "", p.syntax("")
}

// escaped finishes a string literal that has escapes, decoding them as
// encoding/json does (an unpaired surrogate becomes U+FFFD).
func (p *parser) escaped(start int) (string, error) {
	var b strings.Builder
	b.Grow(p.i - start + 16)
	b.Write(p.data[start:p.i])
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c < 0x20:
			return "", p.syntax("in string literal")
		case c != '\\':
			b.WriteByte(c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.data) {
			break
		}
		switch e := p.data[p.i]; e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := hex4(p.data[p.i+1:])
			if !ok {
				p.i++
				for k := 0; k < 4 && p.i < len(p.data) && isHex(p.data[p.i]); k++ {
					p.i++
				}
				return "", p.syntax("in \\u hexadecimal character escape")
			}
			p.i += 4
			if utf16.IsSurrogate(r) {
				// A pair is two escapes; anything else leaves U+FFFD.
				if rest := p.data[p.i+1:]; len(rest) >= 6 && rest[0] == '\\' && rest[1] == 'u' {
					if r2, ok := hex4(rest[2:]); ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							b.WriteRune(d)
							p.i += 7
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			b.WriteRune(r)
		default:
			return "", p.syntax("in string escape code")
		}
		p.i++
	}
	return "", p.syntax("")
}

// hex4 reads four hexadecimal digits.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// stackPath renders the JSON pointer of the value being parsed.
func stackPath(stack []frame) string {
	tokens := make([]string, len(stack))
	for i, f := range stack {
		if f.object {
			tokens[i] = f.key
		} else {
			tokens[i] = strconv.Itoa(f.index)
		}
	}
	return pointer(tokens)
}

// pointer renders a JSON pointer (RFC 6901).
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapeToken(t))
	}
	return b.String()
}

// escapeToken escapes one JSON pointer token.
func escapeToken(t string) string {
	if strings.ContainsAny(t, "~/") {
		t = strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
	}
	return t
}
