package socfmt

import (
	"fmt"
	"strconv"
	"strings"
)

// LEEF is one Log Event Extended Format 2.0 event.
type LEEF struct {
	// Vendor, Product and Version name the device that sends the event;
	// EventID says what kind of event it is. LEEF defines no escape in the
	// header, so none of them may hold a |, a backslash or a line break.
	Vendor, Product, Version, EventID string
	// Delimiter separates the attributes. Default (zero) a tab.
	Delimiter byte
	// Attributes are the key=value list, in order. Keys are letters,
	// digits and underscores.
	Attributes []Field
}

// delimiter is e's attribute delimiter.
func (e LEEF) delimiter() byte {
	if e.Delimiter == 0 {
		return '\t'
	}
	return e.Delimiter
}

// String encodes e: "LEEF:2.0|Vendor|Product|Version|EventID|x09|k=v<tab>k=v".
// The delimiter is written as hex ("x09"). LEEF has no escape for values:
// the delimiter, LF and CR in a value become a space; everything else,
// = | and \ included, passes as it is.
func (e LEEF) String() (string, error) {
	d := e.delimiter()
	if !usableDelimiter(d) {
		return "", fmt.Errorf("%w: LEEF delimiter %q cannot separate attributes: use a tab or US-ASCII punctuation other than = | \\ _", ErrFormat, d)
	}
	var b strings.Builder
	b.WriteString("LEEF:2.0")
	for _, h := range []string{e.Vendor, e.Product, e.Version, e.EventID} {
		if strings.ContainsAny(h, "|\\\r\n") {
			return "", fmt.Errorf("%w: LEEF header field %q: LEEF has no escape for | \\ or line breaks there", ErrFormat, h)
		}
		b.WriteByte('|')
		b.WriteString(h)
	}
	fmt.Fprintf(&b, "|x%02X|", d)
	for i, f := range e.Attributes {
		if !validKey(f.Key) {
			return "", fmt.Errorf("%w: LEEF attribute key %q: use letters, digits and underscores", ErrFormat, f.Key)
		}
		if i > 0 {
			b.WriteByte(d)
		}
		b.WriteString(f.Key)
		b.WriteByte('=')
		b.WriteString(CleanLEEFValue(f.Value, d))
	}
	return b.String(), nil
}

// usableDelimiter reports whether d can separate LEEF attributes: a tab,
// or US-ASCII punctuation other than = | \ and _ (a letter, digit,
// underscore or space could be part of a key or the space a value's
// delimiter becomes).
func usableDelimiter(d byte) bool {
	return d == '\t' || (d > ' ' && d < 0x7f && !validKey(string([]byte{d})) && d != '=' && d != '|' && d != '\\')
}

// CleanLEEFValue is what a LEEF event carries of v with delimiter d (0 for
// a tab): what a reader gets back.
func CleanLEEFValue(v string, d byte) string {
	if d == 0 {
		d = '\t'
	}
	if strings.IndexByte(v, d) < 0 && !strings.ContainsAny(v, "\r\n") {
		return v
	}
	return strings.NewReplacer(string([]byte{d}), " ", "\r\n", " ", "\n", " ", "\r", " ").Replace(v)
}

// ParseLEEF reads one LEEF 2.0 event, strictly: six header fields, a
// delimiter given as one character or as hex (x09, 0x09), no line break,
// and attributes that are each key=value with a key of letters, digits and
// underscores, split at the first =.
func ParseLEEF(s string) (LEEF, error) {
	bad := func(format string, v ...any) (LEEF, error) {
		return LEEF{}, fmt.Errorf("%w: LEEF: %s", ErrFormat, fmt.Sprintf(format, v...))
	}
	rest, ok := strings.CutPrefix(s, "LEEF:2.0|")
	if !ok {
		return bad("does not start with LEEF:2.0|")
	}
	if strings.ContainsAny(rest, "\r\n") {
		return bad("a line break")
	}
	head := strings.SplitN(rest, "|", 6)
	if len(head) < 6 {
		return bad("%d header fields, want 6 and the attributes", len(head)+1)
	}
	e := LEEF{Vendor: head[0], Product: head[1], Version: head[2], EventID: head[3]}
	switch d := head[4]; {
	case len(d) == 1:
		e.Delimiter = d[0]
	case d == "":
		e.Delimiter = '\t'
	case strings.HasPrefix(d, "x") || strings.HasPrefix(d, "0x"):
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(d, "0"), "x"), 16, 8)
		if err != nil {
			return bad("delimiter %q is neither one character nor hex", d)
		}
		e.Delimiter = byte(n)
	default:
		return bad("delimiter %q is neither one character nor hex", d)
	}
	if !usableDelimiter(e.Delimiter) {
		return bad("delimiter %q cannot separate attributes", e.Delimiter)
	}
	if head[5] == "" {
		return e, nil
	}
	for _, kv := range strings.Split(head[5], string([]byte{e.Delimiter})) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !validKey(k) {
			return bad("attribute %q is not key=value", kv)
		}
		e.Attributes = append(e.Attributes, Field{Key: k, Value: v})
	}
	return e, nil
}
