package affected

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Range is a product_version_range, read: a version is in it when it
// satisfies every constraint of one of its alternatives.
type Range struct {
	// Text is the range as published.
	Text string
	// All is true for a range that covers every version ("vers:all/*",
	// "all versions").
	All bool
	// alternatives are OR-ed; each one's constraints are AND-ed.
	alternatives [][]constraint
}

type constraint struct {
	op      string // "<", "<=", ">", ">=", "=", "!="
	version string
}

// ErrRange says a range could not be read; the row is then
// possibly_affected, with this as its reason.
var ErrRange = errors.New("version range not understood")

// opRE is one constraint in the free-text forms: an operator and a
// version.
var opRE = regexp.MustCompile(`^(<=|>=|<|>|=|!=)?\s*(.+)$`)

// ParseRange reads a product_version_range. The grammar accepted, first
// match wins:
//
//	vers:<scheme>/<c>|<c>...   the vers spec (package-url/vers): each c is
//	                           an operator and a version, "*" alone is all
//	all | all versions | *     every version
//	<c> | <c> ...              the free-text OR-list CISA writes
//	                           (">= 4.01 | <= 4.34" is read as one
//	                           interval when an upper bound follows a
//	                           lower one)
//	12.2.x.x                   a wildcard version (x or * parts)
//
// A constraint's version must hold a digit; anything else (dates such as
// "< july 1 2017", prose) is ErrRange.
func ParseRange(text string) (Range, error) {
	r := Range{Text: text}
	t := strings.TrimSpace(strings.ToLower(text))
	switch t {
	case "all", "all versions", "*", "vers:all/*":
		r.All = true
		return r, nil
	}
	if rest, ok := strings.CutPrefix(t, "vers:"); ok {
		_, cs, found := strings.Cut(rest, "/")
		if !found || cs == "" {
			return r, fmt.Errorf("%w: %q: vers needs <scheme>/<constraints>", ErrRange, text)
		}
		if cs == "*" {
			r.All = true
			return r, nil
		}
		var alt []constraint
		for c := range strings.SplitSeq(cs, "|") {
			k, err := parseConstraint(c, text)
			if err != nil {
				return r, err
			}
			alt = append(alt, k)
		}
		r.alternatives = versIntervals(alt)
		return r, nil
	}
	var cs []constraint
	for c := range strings.SplitSeq(t, "|") {
		k, err := parseConstraint(c, text)
		if err != nil {
			return r, err
		}
		cs = append(cs, k)
	}
	r.alternatives = versIntervals(cs)
	return r, nil
}

func parseConstraint(c, text string) (constraint, error) {
	c = strings.TrimSpace(c)
	m := opRE.FindStringSubmatch(c)
	if m == nil {
		return constraint{}, fmt.Errorf("%w: %q", ErrRange, text)
	}
	op, v := m[1], strings.TrimSpace(m[2])
	if op == "" {
		op = "="
	}
	v = strings.TrimPrefix(v, "version ")
	if !comparable(v) || strings.ContainsAny(v, "()") || len(strings.Fields(v)) > 1 {
		return constraint{}, fmt.Errorf("%w: %q: %q is not a version", ErrRange, text, v)
	}
	return constraint{op: op, version: v}, nil
}

// versIntervals groups a list of constraints into alternatives as vers
// does: a lower bound (> or >=) followed by an upper bound (< or <=)
// makes one interval; every other constraint stands alone.
func versIntervals(cs []constraint) [][]constraint {
	var out [][]constraint
	for i := 0; i < len(cs); i++ {
		c := cs[i]
		if (c.op == ">" || c.op == ">=") && i+1 < len(cs) && (cs[i+1].op == "<" || cs[i+1].op == "<=") {
			out = append(out, []constraint{c, cs[i+1]})
			i++
			continue
		}
		out = append(out, []constraint{c})
	}
	return out
}

// Contains reports whether version v is in r; ok is false when v does not
// read as a version (the row is then possibly_affected).
func (r Range) Contains(v string) (in, ok bool) {
	if r.All {
		return true, true
	}
	if !comparable(v) {
		return false, false
	}
	for _, alt := range r.alternatives {
		all := true
		for _, c := range alt {
			if !c.holds(v) {
				all = false
				break
			}
		}
		if all {
			return true, true
		}
	}
	return false, true
}

func (c constraint) holds(v string) bool {
	cmp, _ := compareVersions(v, c.version) // a wildcard part compares equal: 3.5 is not < 3.x
	switch c.op {
	case "<":
		return cmp < 0
	case "<=":
		return cmp <= 0
	case ">":
		return cmp > 0
	case ">=":
		return cmp >= 0
	case "!=":
		return cmp != 0
	}
	return cmp == 0
}
