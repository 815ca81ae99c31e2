package csaf

import (
	"regexp"
	"strconv"
	"strings"
)

// A version_t is either integer versioning ("0", "1", ...) or semantic
// versioning 2.0.0 ("1.2.3-rc.1+build").
var (
	intVersion = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)
	semVersion = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)
)

// version is a parsed version_t.
type version struct {
	raw      string
	semantic bool     // semantic versioning; else integer
	nums     []uint64 // the integer, or major, minor, patch
	pre      string   // pre-release, without "-"
	ok       bool     // it parsed
}

func parseVersion(s string) version {
	v := version{raw: s}
	if intVersion.MatchString(s) {
		n, err := strconv.ParseUint(s, 10, 64)
		v.nums, v.ok = []uint64{n}, err == nil
		return v
	}
	m := semVersion.FindStringSubmatch(s)
	if m == nil {
		return v
	}
	v.semantic, v.pre, v.ok = true, m[4], true
	for _, p := range m[1:4] {
		n, err := strconv.ParseUint(p, 10, 64)
		v.ok = v.ok && err == nil
		v.nums = append(v.nums, n)
	}
	return v
}

// major is the integer version, or the semantic major version.
func (v version) major() uint64 {
	if len(v.nums) == 0 {
		return 0
	}
	return v.nums[0]
}

// zero reports version 0 or 0.y.z.
func (v version) zero() bool { return v.ok && v.major() == 0 }

// core is the version without build metadata, and without the
// pre-release part when noPre.
func (v version) core(noPre bool) string {
	s, _, _ := strings.Cut(v.raw, "+")
	if noPre && v.semantic {
		s, _, _ = strings.Cut(s, "-")
	}
	return s
}

// compare orders versions by precedence (semantic versioning's rules; an
// integer version n counts as n.0.0). Versions that did not parse compare
// as strings, after every parsed one.
func compareVersions(a, b version) int {
	if !a.ok || !b.ok {
		switch {
		case a.ok:
			return -1
		case b.ok:
			return 1
		}
		return strings.Compare(a.raw, b.raw)
	}
	for i := 0; i < 3; i++ {
		x, y := num3(a, i), num3(b, i)
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return comparePre(a.pre, b.pre)
}

func num3(v version, i int) uint64 {
	if i < len(v.nums) {
		return v.nums[i]
	}
	return 0
}

// comparePre orders pre-release parts: none is higher than any; fields
// compare numerically when numeric, numeric before alphanumeric.
func comparePre(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return 1
	case b == "":
		return -1
	}
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] == pb[i] {
			continue
		}
		na, ea := strconv.ParseUint(pa[i], 10, 64)
		nb, eb := strconv.ParseUint(pb[i], 10, 64)
		switch {
		case ea == nil && eb == nil:
			if na < nb {
				return -1
			}
			return 1
		case ea == nil:
			return -1
		case eb == nil:
			return 1
		}
		return strings.Compare(pa[i], pb[i])
	}
	switch {
	case len(pa) < len(pb):
		return -1
	case len(pa) > len(pb):
		return 1
	}
	return 0
}
