package pattern

import (
	"errors"
	"net/netip"
	"regexp/syntax"
	"strconv"
	"strings"
)

// isReserved reports whether s is a keyword token of the grammar, which
// cannot serve as an object type or an unquoted property name.
func isReserved(s string) bool {
	switch s {
	case "AND", "OR", "NOT", "FOLLOWEDBY", "LIKE", "MATCHES", "ISSUPERSET", "ISSUBSET", "EXISTS",
		"LAST", "IN", "START", "STOP", "SECONDS", "true", "false", "WITHIN", "REPEATS", "TIMES":
		return true
	}
	return false
}

// keywordFor returns the grammar's spelling of the keyword s spells in
// another case ("within" gives "WITHIN"), or "" when s is none.
func keywordFor(s string) string {
	if len(s) > len("FOLLOWEDBY") {
		return ""
	}
	for _, kw := range [...]string{"AND", "OR", "NOT", "FOLLOWEDBY", "LIKE", "MATCHES", "ISSUPERSET", "ISSUBSET", "EXISTS",
		"IN", "START", "STOP", "SECONDS", "true", "false", "WITHIN", "REPEATS", "TIMES"} {
		if s != kw && strings.EqualFold(s, kw) {
			return kw
		}
	}
	return ""
}

// checkObjectType returns why s is not a STIX 2.1 object type name (the
// type pattern of the schemas' core.json, 3 to 250 characters), or "".
func checkObjectType(s string) string {
	if isReserved(s) {
		return quote(s) + " is a keyword, not an object type"
	}
	ok := len(s) >= 3 && len(s) <= 250 && s[0] >= 'a' && s[0] <= 'z'
	for i := 1; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || isDigit(c) || c == '-' && s[i-1] != '-'
	}
	if !ok {
		return "object type " + quote(clip(s)) + " is not a STIX type name: use 3 to 250 lowercase letters, digits and single hyphens, starting with a letter"
	}
	return ""
}

// checkPropertyName returns why s, the property an object path starts
// with, breaks the STIX 2.1 naming rules, or "": 3 to 250 characters, each
// a lowercase ASCII letter, a digit or an underscore (sections 3.1 and
// 11.1; what every property the specification defines satisfies, and
// what the OASIS validator requires of the others). "id", the one shorter
// name the specification itself defines, is allowed. Later steps of a
// path are dictionary keys (hashes.'SHA-256') or properties of another
// object, and are not checked.
func checkPropertyName(s string) string {
	if s == "id" {
		return ""
	}
	ok := len(s) >= 3 && len(s) <= 250
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || isDigit(c) || c == '_'
	}
	if !ok {
		return "property name " + quote(clip(s)) + " breaks the STIX 2.1 naming rules: use 3 to 250 lowercase letters, digits and underscores (x_acme_score, not x-Acme-Score)"
	}
	return ""
}

// needsQuote reports whether a property name must be quoted in a path: when
// it is not an identifier without hyphens, or is a keyword.
func needsQuote(key string) bool {
	if key == "" || !isIdentStart(key[0]) || isReserved(key) {
		return true
	}
	for i := 1; i < len(key); i++ {
		if !isIdentChar(key[i]) {
			return true
		}
	}
	return false
}

// quote returns s as a pattern string literal.
func quote(s string) string {
	if !strings.ContainsAny(s, `'\`) {
		return "'" + s + "'"
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('\'')
	return b.String()
}

// formatPath returns the canonical object path of an object type and its
// steps, isIndex[i] telling whether steps[i] is a list index.
func formatPath(objectType string, steps []string, isIndex []bool) string {
	var b strings.Builder
	b.WriteString(objectType)
	b.WriteByte(':')
	for i, step := range steps {
		switch {
		case isIndex[i]:
			b.WriteString(step)
		case needsQuote(step):
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(quote(step))
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(step)
		}
	}
	return b.String()
}

// checkStringOperand returns why s is not a fit operand for op (MATCHES
// takes a regular expression, ISSUBSET and ISSUPERSET an IP address or
// CIDR block), or "".
func checkStringOperand(op, s string) string {
	switch op {
	case OpMatches:
		if err := checkRegexp(s); err != nil {
			return "the MATCHES operator takes a regular expression, and " + quote(clip(s)) + " is not one: " + err.Error()
		}
	case OpIsSubset, OpIsSuperset:
		if _, err := netip.ParsePrefix(s); err != nil {
			if _, err := netip.ParseAddr(s); err != nil {
				return "the " + op + " operator takes an IPv4 or IPv6 address or CIDR block such as '198.51.100.0/24', not " + quote(clip(s))
			}
		}
	}
	return ""
}

// checkRegexp checks a MATCHES operand. STIX specifies PCRE; Tocsin, and
// every agent that evaluates a pattern, runs Go's RE2, a subset of it
// without back-tracking. An expression RE2 parses is valid in both. One
// that stops RE2 at a construct only PCRE has (look-around, atomic
// groups, comments, back-references, possessive quantifiers, repeat counts
// above 1000, \Z and the like) is refused, saying so: no receiver could
// match it (the package doc says so).
func checkRegexp(s string) error {
	_, err := syntax.Parse(s, syntax.Perl)
	var se *syntax.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		if pcreOnly(se) {
			return errors.New("it is valid PCRE, but " + quote(clip(se.Expr)) + " is a construct RE2 (the matcher of Tocsin and its agents) cannot run; rewrite it without look-around, back-references, atomic groups, comments or possessive quantifiers")
		}
		return errors.New(string(se.Code) + " " + quote(clip(se.Expr)))
	}
	return err
}

// pcreOnly reports whether an RE2 syntax error is about a construct valid in PCRE.
func pcreOnly(e *syntax.Error) bool {
	switch e.Code {
	case syntax.ErrInvalidPerlOp, syntax.ErrInvalidNamedCapture:
		for _, prefix := range [...]string{"(?=", "(?!", "(?<=", "(?<!", "(?>", "(?#", "(?|"} {
			if strings.HasPrefix(e.Expr, prefix) {
				return true
			}
		}
	case syntax.ErrInvalidEscape:
		return len(e.Expr) == 2 && strings.IndexByte("123456789gkZhHRKXGevVN", e.Expr[1]) >= 0
	case syntax.ErrInvalidRepeatOp:
		return len(e.Expr) == 2 && e.Expr[1] == '+' // possessive: a*+ a++ a?+
	case syntax.ErrInvalidRepeatSize:
		// RE2 caps counts at 1000, PCRE at 65535; {n,m} with n > m is invalid in both.
		lo, hi, ok := strings.Cut(strings.Trim(e.Expr, "{}+?"), ",")
		n, err1 := strconv.Atoi(lo)
		m, err2 := strconv.Atoi(hi)
		return err1 == nil && n <= 65535 && (!ok || hi == "" || err2 == nil && n <= m && m <= 65535)
	}
	return false
}

// hashDigits returns the number of hex digits of a hash algorithm named as
// in hashing-algorithm-ov ("SHA-256", also "sha256", "SHA_256"), or 0 for
// algorithms of no fixed hex length (SSDEEP, TLSH) and unknown ones.
func hashDigits(alg string) int {
	var buf [12]byte
	n := 0
	for i := 0; i < len(alg); i++ {
		c := alg[i]
		switch {
		case c == '-' || c == '_':
			continue
		case n == len(buf):
			return 0
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	switch string(buf[:n]) {
	case "MD5":
		return 32
	case "SHA1", "RIPEMD160":
		return 40
	case "SHA224", "SHA3224":
		return 56
	case "SHA256", "SHA3256":
		return 64
	case "SHA384", "SHA3384":
		return 96
	case "SHA512", "SHA3512", "WHIRLPOOL":
		return 128
	}
	return 0
}

// checkHashLiteral checks a string literal compared with hashes.<alg>: it
// must be as many hex digits as the algorithm produces.
func checkHashLiteral(alg string, v Literal, at int) error {
	if alg == "" || v.Kind != LiteralString {
		return nil
	}
	want := hashDigits(alg)
	if want == 0 {
		return nil
	}
	for i := 0; i < len(v.Text); i++ {
		if !isHex(v.Text[i]) {
			return hashErrorf(at, "hash value %s contains %s, which is not a hex digit: a %s hash is %d hex digits", quote(clip(v.Text)), quoteByte(v.Text[i]), alg, want)
		}
	}
	if len(v.Text) != want {
		return hashErrorf(at, "hash value %s has %d hex digits: a %s hash is %d hex digits", quote(clip(v.Text)), len(v.Text), alg, want)
	}
	return nil
}

// describe names a token for a message.
func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "the end of the pattern"
	case tIdent:
		if kw := keywordFor(t.text); kw != "" {
			return quote(t.text) + " (keywords are case-sensitive: write " + kw + ")"
		}
		return quote(clip(t.text))
	case tString:
		return "the string " + quote(clip(t.text))
	case tInt, tFloat:
		return "the number " + clip(t.text)
	case tTimestamp, tHex, tBinary:
		return "the " + kindName(t.kind) + " literal " + kindName(t.kind)[:1] + quote(clip(t.text))
	}
	return quote(t.text)
}
