package pattern

import (
	"strings"
	"unicode/utf8"
)

// str lexes a quoted literal whose opening quote is at l.pos; start is the
// literal's first byte (its t, h or b prefix, or the quote itself).
func (l *lexer) str(start int, k tokKind) (token, error) {
	open := l.pos
	if k != tString {
		end := strings.IndexByte(l.src[open+1:], '\'')
		if end < 0 {
			return token{}, errorf(start, "%s literal opened at offset %d is never closed with '", kindName(k), start)
		}
		end += open + 1
		l.pos = end + 1
		body := l.src[open+1 : end]
		var msg string
		switch k {
		case tTimestamp:
			msg = checkTimestamp(body)
		case tHex:
			msg = checkHex(body)
		case tBinary:
			msg = checkBase64(body)
		}
		if msg != "" {
			return token{}, errorf(start, "%s", msg)
		}
		return token{kind: k, pos: start, end: l.pos, text: body}, nil
	}
	var b *strings.Builder
	from := open + 1
	for i := open + 1; i < len(l.src); i++ {
		switch l.src[i] {
		case '\'':
			l.pos = i + 1
			if b == nil {
				return token{kind: tString, pos: start, end: l.pos, text: l.src[from:i]}, nil
			}
			b.WriteString(l.src[from:i])
			return token{kind: tString, pos: start, end: l.pos, text: b.String()}, nil
		case '\\':
			if i+1 >= len(l.src) || l.src[i+1] != '\'' && l.src[i+1] != '\\' {
				return token{}, errorf(i, "invalid escape in string: only \\' and \\\\ may follow a backslash")
			}
			if b == nil {
				b = &strings.Builder{}
			}
			b.WriteString(l.src[from:i])
			b.WriteByte(l.src[i+1])
			i++
			from = i + 1
		}
	}
	return token{}, errorf(start, "string opened at offset %d is never closed with '", start)
}

// kindName names a literal token kind in messages.
func kindName(k tokKind) string {
	switch k {
	case tTimestamp:
		return "timestamp"
	case tHex:
		return "hex"
	case tBinary:
		return "binary"
	}
	return "string"
}

// daysIn is the number of days of each month of a common year.
var daysIn = [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// checkTimestamp returns why s is not an RFC 3339 UTC timestamp as the
// grammar spells it (YYYY-MM-DDTHH:MM:SS[.fraction]Z) naming a real instant,
// or "" when it is one.
func checkTimestamp(s string) string {
	if !timestampShape(s) {
		return "timestamp t'" + clip(s) + "' is malformed: expected YYYY-MM-DDTHH:MM:SS[.fraction]Z"
	}
	year := num(s[0:4])
	month, day := num(s[5:7]), num(s[8:10])
	hour, minute, sec := num(s[11:13]), num(s[14:16]), num(s[17:19])
	var why string
	switch {
	case month < 1 || month > 12:
		why = "month " + s[5:7] + ": months run from 01 to 12"
	case day < 1 || day > monthDays(year, month):
		why = "day " + s[8:10] + ", which " + s[0:7] + " does not have"
	case hour > 23:
		why = "hour " + s[11:13] + ": hours run from 00 to 23"
	case minute > 59:
		why = "minute " + s[14:16] + ": minutes run from 00 to 59"
	case sec > 60 || sec == 60 && (hour != 23 || minute != 59):
		why = "second " + s[17:19] + ": seconds run from 00 to 59 (60 only for a leap second at 23:59:60)"
	default:
		return ""
	}
	return "timestamp t'" + clip(s) + "' has " + why
}

// timestampShape reports whether s is digits and separators in the shape
// YYYY-MM-DDTHH:MM:SS[.fraction]Z.
func timestampShape(s string) bool {
	const shape = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(shape)+1 || s[len(s)-1] != 'Z' {
		return false
	}
	for i := 0; i < len(shape); i++ {
		if shape[i] == 'd' && !isDigit(s[i]) || shape[i] != 'd' && s[i] != shape[i] {
			return false
		}
	}
	frac := s[len(shape) : len(s)-1]
	if frac == "" {
		return true
	}
	if frac[0] != '.' || len(frac) == 1 {
		return false
	}
	for i := 1; i < len(frac); i++ {
		if !isDigit(frac[i]) {
			return false
		}
	}
	return true
}

// monthDays returns the number of days of month in year.
func monthDays(year, month int) int {
	if month == 2 && year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		return 29
	}
	return daysIn[month]
}

// num returns the value of a string of decimal digits.
func num(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// canonTimestamp drops the trailing zeros of a checked timestamp's fraction,
// and the fraction itself when nothing is left of it.
func canonTimestamp(s string) string {
	if len(s) == 20 {
		return s
	}
	frac := strings.TrimRight(s[19:len(s)-1], "0")
	if frac == "." {
		frac = ""
	}
	if len(frac) == len(s)-20 {
		return s
	}
	return s[:19] + frac + "Z"
}

// compareTimestamps compares two canonical timestamps as instants: -1 if a
// is earlier, 0 if equal, +1 if later.
func compareTimestamps(a, b string) int {
	if c := strings.Compare(a[:19], b[:19]); c != 0 {
		return c
	}
	// The fractions have no trailing zeros, so digit strings compare as numbers.
	return strings.Compare(strings.TrimPrefix(a[19:len(a)-1], "."), strings.TrimPrefix(b[19:len(b)-1], "."))
}

// checkHex returns why s is not an even number of hex digits, or "".
func checkHex(s string) string {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return "hex literal h'" + clip(s) + "' contains " + quoteByte(s[i]) + ", which is not a hex digit"
		}
	}
	if len(s)%2 != 0 {
		return "hex literal h'" + clip(s) + "' has an odd number of digits: each byte takes two"
	}
	return ""
}

// checkBase64 returns why s is not padded standard base64 of at least one
// byte, as the grammar requires, or "".
func checkBase64(s string) string {
	if len(s) == 0 || len(s)%4 != 0 {
		return "binary literal b'" + clip(s) + "' is not base64: its length must be a positive multiple of 4 (pad with =)"
	}
	n := len(s)
	if s[n-1] == '=' {
		n--
		if s[n-1] == '=' {
			n--
		}
	}
	for i := 0; i < n; i++ {
		c := s[i]
		if !isIdentChar(c) || c == '_' {
			if c != '+' && c != '/' {
				return "binary literal b'" + clip(s) + "' is not base64: it contains " + quoteByte(c)
			}
		}
	}
	return ""
}

// quoteByte quotes one byte of the source for a message.
func quoteByte(c byte) string {
	if c < 0x20 || c >= 0x7f {
		return "a non-printable or non-ASCII byte"
	}
	if c == '\'' {
		return `"'"`
	}
	return "'" + string(c) + "'"
}

// canonInt returns the canonical spelling of an integer token: no plus
// sign, no minus sign on zero.
func canonInt(s string) string {
	if s[0] == '+' || s == "-0" {
		s = s[1:]
	}
	return s
}

// canonFloat returns the canonical spelling of a float token: no plus sign,
// exactly one digit before the point when the whole part is zero, no
// trailing zeros after the first digit of the fraction, no minus sign on zero.
func canonFloat(s string) string {
	orig, sign := s, ""
	switch s[0] {
	case '-':
		sign, s = "-", s[1:]
	case '+':
		s = s[1:]
	}
	dot := strings.IndexByte(s, '.')
	whole := strings.TrimLeft(s[:dot], "0")
	frac := strings.TrimRight(s[dot+1:], "0")
	if frac == "" {
		frac = "0"
	}
	if whole == "" {
		whole = "0"
		if frac == "0" {
			sign = ""
		}
	}
	if len(sign)+len(whole)+1+len(frac) == len(orig) && orig[0] != '+' && orig[len(sign)] != '.' {
		return orig // already canonical: no allocation
	}
	return sign + whole + "." + frac
}

// clip shortens s for a message, cutting between characters.
func clip(s string) string {
	n := 40
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
