package pattern

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// tokKind is the kind of a token.
type tokKind uint8

const (
	tEOF tokKind = iota
	tLBrack
	tRBrack
	tLParen
	tRParen
	tColon
	tDot
	tComma
	tStar
	tOp        // = == != <> < <= > >=; text is the operator as written
	tIdent     // [a-zA-Z_][a-zA-Z0-9_-]*; keywords are identifiers too
	tString    // '...'; text is the value, unescaped
	tInt       // text as written, sign included
	tFloat     // text as written, sign included
	tTimestamp // t'...'; text is between the quotes
	tHex       // h'...'; text is between the quotes
	tBinary    // b'...'; text is between the quotes
)

// token is one lexical unit: its kind, its byte range in the source and its text.
type token struct {
	kind   tokKind
	hyphen bool // an identifier that contains '-'
	pos    int
	end    int
	text   string
}

// lexer splits a pattern into tokens, skipping whitespace and comments as the
// grammar does.
type lexer struct {
	src string
	pos int
}

// next returns the next token, or an error for text that is no token.
func (l *lexer) next() (token, error) {
	if err := l.skip(); err != nil {
		return token{}, err
	}
	start := l.pos
	if start >= len(l.src) {
		return token{kind: tEOF, pos: start, end: start}, nil
	}
	c := l.src[start]
	if c < utf8.RuneSelf && singles[c] != tEOF {
		l.pos++
		return token{kind: singles[c], pos: start, end: l.pos, text: l.src[start:l.pos]}, nil
	}
	switch c {
	case '=', '<', '>', '!':
		return l.operator()
	case '\'':
		return l.str(start, tString)
	case '.':
		if start+1 < len(l.src) && isDigit(l.src[start+1]) {
			return l.number()
		}
		l.pos++
		return token{kind: tDot, pos: start, end: l.pos, text: "."}, nil
	case '+', '-':
		return l.number()
	}
	if isDigit(c) {
		return l.number()
	}
	if isIdentStart(c) {
		t := l.ident()
		if t.end-t.pos == 1 && l.pos < len(l.src) && l.src[l.pos] == '\'' {
			switch c {
			case 't':
				return l.str(start, tTimestamp)
			case 'h':
				return l.str(start, tHex)
			case 'b':
				return l.str(start, tBinary)
			}
		}
		return t, nil
	}
	r, _ := utf8.DecodeRuneInString(l.src[start:])
	return token{}, errorf(start, "unexpected character %s", strconv.QuoteRune(r))
}

// singles maps the characters that are tokens by themselves to their kind.
var singles = [utf8.RuneSelf]tokKind{
	'[': tLBrack, ']': tRBrack, '(': tLParen, ')': tRParen, ':': tColon, ',': tComma, '*': tStar,
}

// operator lexes = == != <> < <= > >=.
func (l *lexer) operator() (token, error) {
	start := l.pos
	c := l.src[start]
	var n1 byte
	if start+1 < len(l.src) {
		n1 = l.src[start+1]
	}
	n := 1
	switch {
	case c == '=' && n1 == '=', c == '!' && n1 == '=', c == '<' && (n1 == '=' || n1 == '>'), c == '>' && n1 == '=':
		n = 2
	case c == '!':
		return token{}, errorf(start, "unexpected character '!': the not-equal operator is != (or NOT before the operator)")
	}
	l.pos += n
	return token{kind: tOp, pos: start, end: l.pos, text: l.src[start:l.pos]}, nil
}

// ident lexes an identifier.
func (l *lexer) ident() token {
	start := l.pos
	hyphen := false
	i := start + 1
	for ; i < len(l.src); i++ {
		c := l.src[i]
		if c == '-' {
			hyphen = true
		} else if !isIdentChar(c) {
			break
		}
	}
	l.pos = i
	return token{kind: tIdent, hyphen: hyphen, pos: start, end: i, text: l.src[start:i]}
}

// number lexes IntPosLiteral, IntNegLiteral, FloatPosLiteral or FloatNegLiteral.
func (l *lexer) number() (token, error) {
	start := l.pos
	i := start
	if c := l.src[i]; c == '+' || c == '-' {
		i++
	}
	digits := i
	for i < len(l.src) && isDigit(l.src[i]) {
		i++
	}
	intEnd := i
	if i < len(l.src) && l.src[i] == '.' {
		i++
		frac := i
		for i < len(l.src) && isDigit(l.src[i]) {
			i++
		}
		if i == frac {
			return token{}, errorf(i, "expected a digit after the '.' of the number at offset %d", start)
		}
		l.pos = i
		return token{kind: tFloat, pos: start, end: i, text: l.src[start:i]}, nil
	}
	switch {
	case intEnd == digits:
		return token{}, errorf(start, "expected a number after %q", l.src[start])
	case intEnd-digits > 1 && l.src[digits] == '0':
		return token{}, errorf(start, "integer %s has a leading zero", clip(l.src[start:intEnd]))
	}
	l.pos = intEnd
	return token{kind: tInt, pos: start, end: intEnd, text: l.src[start:intEnd]}, nil
}

// skip moves past whitespace and comments.
func (l *lexer) skip() error {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			l.pos++
		case c == '/' && l.pos+1 < len(l.src) && l.src[l.pos+1] == '*':
			end := strings.Index(l.src[l.pos+2:], "*/")
			if end < 0 {
				return errorf(l.pos, "comment opened with /* is never closed with */")
			}
			l.pos += 2 + end + 2
		case c == '/' && l.pos+1 < len(l.src) && l.src[l.pos+1] == '/':
			// A line comment ends at CR or LF (LINE_COMMENT: '//' ~[\r\n]*).
			end := strings.IndexAny(l.src[l.pos:], "\r\n")
			if end < 0 {
				end = len(l.src) - l.pos
			}
			l.pos += end
		case c < utf8.RuneSelf:
			return nil
		default:
			r, size := utf8.DecodeRuneInString(l.src[l.pos:])
			if !isUnicodeSpace(r) {
				return nil
			}
			l.pos += size
		}
	}
	return nil
}

// isUnicodeSpace reports whether r is one of the non-ASCII whitespace
// characters that the grammar's WS rule skips.
func isUnicodeSpace(r rune) bool {
	switch r {
	case 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) }

func isHex(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
