package affected

import (
	"strconv"
	"strings"
	"unicode"
)

// segments splits a version into its comparable parts: runs of digits and
// runs of letters ("v2.4A" -> 2, 4, a); a leading "v" and separators are
// dropped; "x" and "*" stand for any part (wildcard).
func segments(v string) []string {
	v = strings.ToLower(strings.TrimSpace(v))
	v = strings.TrimPrefix(strings.TrimPrefix(v, "version "), "v")
	var out []string
	cur, kind := strings.Builder{}, 0 // 1 digit, 2 letter
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
		kind = 0
	}
	for _, r := range v {
		k := 0
		switch {
		case unicode.IsDigit(r):
			k = 1
		case unicode.IsLetter(r) || r == '*':
			k = 2
		}
		if k == 0 || (kind != 0 && k != kind) {
			flush()
		}
		if k != 0 {
			cur.WriteRune(r)
			kind = k
		}
	}
	flush()
	return out
}

func wildcard(s string) bool { return s == "x" || s == "*" }

// compareVersions orders a and b part by part: numbers numerically,
// letters lexically, a number after a letter run; a missing part counts
// as 0, or as earlier than a revision letter (2.4 < 2.4A). A wildcard part of b matches anything and ends the comparison as
// equal (wild reports it).
func compareVersions(a, b string) (cmp int, wild bool) {
	as, bs := segments(a), segments(b)
	for i := range max(len(as), len(bs)) {
		x, y := "0", "0"
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		// A revision letter after the last part is later: 2.4 < 2.4A.
		if i >= len(as) && !wildcard(y) && !isNumber(y) {
			return -1, false
		}
		if i >= len(bs) && !wildcard(x) && !isNumber(x) {
			return 1, false
		}
		if wildcard(y) || wildcard(x) {
			return 0, true
		}
		xn, xerr := strconv.ParseUint(x, 10, 64)
		yn, yerr := strconv.ParseUint(y, 10, 64)
		switch {
		case xerr == nil && yerr == nil:
			if xn != yn {
				if xn < yn {
					return -1, false
				}
				return 1, false
			}
		case xerr == nil: // a number sorts after letters (1.0 > 1.0rc)
			return 1, false
		case yerr == nil:
			return -1, false
		default:
			if c := strings.Compare(x, y); c != 0 {
				return c, false
			}
		}
	}
	return 0, false
}

func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// comparable reports whether v reads as a version: it has a digit.
func comparable(v string) bool {
	return strings.ContainsFunc(v, unicode.IsDigit)
}
