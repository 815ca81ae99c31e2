package socfmt

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrFormat is wrapped by every error of a writer given what its format
// cannot carry, and of a reader given what its specification does not
// allow.
var ErrFormat = errors.New("malformed event")

// Field is one key=value of a CEF extension or a LEEF attribute list.
type Field struct {
	Key, Value string
}

// CEF is one Common Event Format (version 0) event.
type CEF struct {
	// Vendor, Product and Version name the device that sends the event.
	Vendor, Product, Version string
	// ClassID is the Device Event Class ID: what kind of event this is.
	ClassID string
	// Name is the human-readable description of the event.
	Name string
	// Severity is 0 (lowest) to 10 (highest).
	Severity int
	// Extension is the key=value list, in order. Keys are letters, digits
	// and underscores.
	Extension []Field
}

// String encodes e: "CEF:0|Vendor|Product|Version|ClassID|Name|Severity|k=v k=v".
// It fails when a key is not letters, digits and underscores, or the
// severity is outside 0 to 10.
func (e CEF) String() (string, error) {
	if e.Severity < 0 || e.Severity > 10 {
		return "", fmt.Errorf("%w: CEF severity %d is outside 0 to 10", ErrFormat, e.Severity)
	}
	var b strings.Builder
	b.WriteString("CEF:0")
	for _, h := range []string{e.Vendor, e.Product, e.Version, e.ClassID, e.Name} {
		b.WriteByte('|')
		b.WriteString(cefHeaderEscaper.Replace(h))
	}
	b.WriteByte('|')
	b.WriteString(strconv.Itoa(e.Severity))
	b.WriteByte('|')
	for i, f := range e.Extension {
		if !validKey(f.Key) {
			return "", fmt.Errorf("%w: CEF extension key %q: use letters, digits and underscores", ErrFormat, f.Key)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.Key)
		b.WriteByte('=')
		b.WriteString(cefValueEscaper.Replace(f.Value))
	}
	return b.String(), nil
}

var (
	// cefHeaderEscaper: pipes and backslashes escaped; line breaks, which
	// the header may not hold, become spaces.
	cefHeaderEscaper = strings.NewReplacer(`\`, `\\`, `|`, `\|`, "\r\n", " ", "\n", " ", "\r", " ")
	cefValueEscaper  = strings.NewReplacer(`\`, `\\`, `=`, `\=`, "\n", `\n`, "\r", `\r`)
)

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range []byte(k) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// ParseCEF reads one CEF event, strictly: version 0, seven header fields
// with only \| and \\ escaped, a severity of 0 to 10, and an extension
// whose values escape only \\ \= \n and \r.
func ParseCEF(s string) (CEF, error) {
	bad := func(format string, v ...any) (CEF, error) {
		return CEF{}, fmt.Errorf("%w: CEF: %s", ErrFormat, fmt.Sprintf(format, v...))
	}
	rest, ok := strings.CutPrefix(s, "CEF:0|")
	if !ok {
		return bad("does not start with CEF:0|")
	}
	var head []string
	var cur strings.Builder
	i := 0
	for ; i < len(rest) && len(head) < 6; i++ {
		switch c := rest[i]; c {
		case '\\':
			if i+1 >= len(rest) || (rest[i+1] != '\\' && rest[i+1] != '|') {
				return bad("header field %d has a backslash that escapes neither \\ nor |", len(head)+2)
			}
			i++
			cur.WriteByte(rest[i])
		case '|':
			head = append(head, cur.String())
			cur.Reset()
		case '\n', '\r':
			return bad("a line break in the header")
		default:
			cur.WriteByte(c)
		}
	}
	if len(head) < 6 {
		return bad("%d header fields, want 7", len(head)+1)
	}
	sev, err := strconv.Atoi(head[5])
	if err != nil || sev < 0 || sev > 10 || head[5] != strconv.Itoa(sev) {
		return bad("severity %q is not 0 to 10", head[5])
	}
	ext, err := parseCEFExtension(rest[i:])
	if err != nil {
		return CEF{}, err
	}
	return CEF{Vendor: head[0], Product: head[1], Version: head[2], ClassID: head[3], Name: head[4], Severity: sev, Extension: ext}, nil
}

// parseCEFExtension splits "k=v k=v": every unescaped = ends a key, the
// key being the letters, digits and underscores right before it, after a
// space (or at the start); its value runs to the space before the next key.
func parseCEFExtension(s string) ([]Field, error) {
	if s == "" {
		return nil, nil
	}
	type eq struct{ keyStart, at int }
	var eqs []eq
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '=':
			k := i
			for k > 0 && validKey(s[k-1:k]) {
				k--
			}
			if k == i || (k > 0 && s[k-1] != ' ') {
				return nil, fmt.Errorf("%w: CEF extension: an unescaped = at byte %d follows no key", ErrFormat, i)
			}
			if len(eqs) == 0 && k != 0 {
				return nil, fmt.Errorf("%w: CEF extension: %q before the first key", ErrFormat, s[:k])
			}
			eqs = append(eqs, eq{k, i})
		case '\n', '\r':
			return nil, fmt.Errorf("%w: CEF extension: a raw line break (write \\n or \\r)", ErrFormat)
		}
	}
	if len(eqs) == 0 {
		return nil, fmt.Errorf("%w: CEF extension %q has no key=value", ErrFormat, s)
	}
	out := make([]Field, 0, len(eqs))
	for n, e := range eqs {
		end := len(s)
		if n+1 < len(eqs) {
			end = eqs[n+1].keyStart - 1 // the separating space
		}
		v, err := unescapeCEFValue(s[e.at+1 : end])
		if err != nil {
			return nil, err
		}
		out = append(out, Field{Key: s[e.keyStart:e.at], Value: v})
	}
	return out, nil
}

func unescapeCEFValue(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("%w: CEF extension value ends in a lone backslash", ErrFormat)
		}
		i++
		switch s[i] {
		case '\\', '=':
			b.WriteByte(s[i])
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			return "", fmt.Errorf("%w: CEF extension value escapes %q; only \\\\ \\= \\n \\r are defined", ErrFormat, s[i])
		}
	}
	return b.String(), nil
}

// Get returns the value of the first field named key.
func Get(fields []Field, key string) (string, bool) {
	for _, f := range fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}
