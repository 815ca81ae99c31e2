package stix

import "strings"

// Hand-written equivalents of the regular expressions of the official
// schemas, for the fast path. Each says which pattern it replaces; the
// differential tests hold them to the schema's verdict.

func isLower(c byte) bool      { return 'a' <= c && c <= 'z' }
func isDigit(c byte) bool      { return '0' <= c && c <= '9' }
func isLowerDigit(c byte) bool { return isLower(c) || isDigit(c) }
func isHex(c byte) bool        { return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F') }

// isUUIDPart matches the UUID part of common/identifier.json:
// [0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}
func isUUIDPart(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		case 14:
			if c < '1' || c > '5' {
				return false
			}
		case 19:
			if !strings.ContainsRune("89abAB", rune(c)) {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

// isIdentifier matches common/identifier.json:
// ^[a-z][a-z0-9-]+[a-z0-9]--<uuid part>$
func isIdentifier(s string) bool {
	t := len(s) - 38 // where "--" must start: the UUID part has a fixed length
	if t < 3 || s[t] != '-' || s[t+1] != '-' || !isLower(s[0]) || !isLowerDigit(s[t-1]) {
		return false
	}
	return allBytes(s[1:t-1], isLowerDigitHyphen) && isUUIDPart(s[t+2:])
}

// idType returns the type part of an identifier ("indicator" of
// "indicator--..."), or "" when s is not an identifier.
func idType(s string) string {
	if !isIdentifier(s) {
		return ""
	}
	return s[:len(s)-38]
}

// timestampFraction matches common/timestamp.json:
// ^[0-9]{4}-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9]|60)(\.[0-9]+)?Z$
// and returns the number of fraction digits (the timestamp_millis pattern of
// core.json, T\d{2}:\d{2}:\d{2}\.\d{3,}Z$, wants at least 3).
func timestampFraction(s string) (digits int, ok bool) {
	if len(s) < 20 {
		return 0, false
	}
	for _, i := range [...]int{0, 1, 2, 3, 6, 9, 12, 15, 18} {
		if !isDigit(s[i]) {
			return 0, false
		}
	}
	if s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	month := s[5] == '0' && s[6] != '0' || s[5] == '1' && s[6] <= '2'
	day := s[8] == '0' && s[9] != '0' || s[8] == '1' || s[8] == '2' || s[8] == '3' && s[9] <= '1'
	hour := s[11] == '0' || s[11] == '1' || s[11] == '2' && s[12] <= '3'
	minute := '0' <= s[14] && s[14] <= '5'
	second := '0' <= s[17] && s[17] <= '5' || s[17] == '6' && s[18] == '0'
	if !month || !day || !hour || !minute || !second {
		return 0, false
	}
	rest := s[19:]
	if rest == "Z" {
		return 0, true
	}
	if rest[0] != '.' || rest[len(rest)-1] != 'Z' || len(rest) < 3 {
		return 0, false
	}
	frac := rest[1 : len(rest)-1]
	return len(frac), allDigits(frac)
}

// isPropertyName matches the third pattern of common/properties.json,
// ^([a-z][a-z0-9_]{2,249})|id$, which (an alternation of two unanchored
// halves) accepts any name that starts with a lowercase letter and two
// [a-z0-9_], or that ends in "id".
func isPropertyName(k string) bool {
	if len(k) >= 3 && isLower(k[0]) && isNameChar(k[1]) && isNameChar(k[2]) {
		return true
	}
	return strings.HasSuffix(k, "id")
}

func isNameChar(c byte) bool { return isLowerDigit(c) || c == '_' }

// isCVE matches ^CVE-\d{4}-(0\d{3}|[1-9]\d{3,})$.
func isCVE(s string) bool {
	rest, ok := strings.CutPrefix(s, "CVE-")
	if !ok || len(rest) < 9 || rest[4] != '-' || !allDigits(rest[:4]) || !allDigits(rest[5:]) {
		return false
	}
	n := rest[5:]
	return n[0] != '0' || len(n) == 4
}

// isCAPEC matches ^CAPEC-\d+$.
func isCAPEC(s string) bool {
	rest, ok := strings.CutPrefix(s, "CAPEC-")
	return ok && rest != "" && allDigits(rest)
}

func allDigits(s string) bool { return allBytes(s, isDigit) }

// allBytes reports whether every byte of s passes ok.
func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isLowerDigitHyphen(c byte) bool { return isLowerDigit(c) || c == '-' }

// isSelector matches the selector pattern of common/granular-marking.json:
// ^([a-z0-9_-]{3,249}(\.(\[\d+\]|[a-z0-9_-]{1,250}))*|id)$
func isSelector(s string) bool {
	if s == "id" {
		return true
	}
	first, rest, more := strings.Cut(s, ".")
	if len(first) < 3 || len(first) > 249 || !selectorWord(first) {
		return false
	}
	for more {
		var seg string
		seg, rest, more = strings.Cut(rest, ".")
		index := len(seg) >= 3 && seg[0] == '[' && seg[len(seg)-1] == ']' && allDigits(seg[1:len(seg)-1])
		if !index && (seg == "" || len(seg) > 250 || !selectorWord(seg)) {
			return false
		}
	}
	return true
}

func selectorWord(s string) bool {
	return allBytes(s, func(c byte) bool { return isNameChar(c) || c == '-' })
}

// isExtensionKey matches the "-ext" key pattern of core.json's extensions:
// ^([a-z][a-z0-9]*)+(-[a-z0-9]+)*\-ext$
func isExtensionKey(k string) bool {
	name, ok := strings.CutSuffix(k, "-ext")
	return ok && isHyphenatedName(name)
}

// isHyphenatedName matches ^([a-z][a-z0-9]*)+(-[a-z0-9]+)*$: words of a-z
// and 0-9 joined by single hyphens, starting with a letter.
func isHyphenatedName(s string) bool {
	return s != "" && isLower(s[0]) && s[len(s)-1] != '-' && !strings.Contains(s, "--") && allBytes(s, isLowerDigitHyphen)
}

// isExtensionDefinitionKey matches
// ^extension-definition--<uuid part>$
func isExtensionDefinitionKey(k string) bool {
	rest, ok := strings.CutPrefix(k, "extension-definition--")
	return ok && isUUIDPart(rest)
}
