package agent

import (
	"strings"

	"github.com/tocsin-project/tocsin/agent/socfmt"
)

// cefIndicatorKeys are the CEF keys that take an indicator's value, so a
// SIEM's own rules on dst, dhost, request and fileHash see it.
var cefIndicatorKeys = []struct{ path, key string }{
	{"ipv4-addr:value", "dst"},
	{"domain-name:value", "dhost"},
	{"url:value", "request"},
	{"file:hashes.", "fileHash"},
	{"file:name", "fname"},
}

// matchable reports whether an indicator row alone names a value that
// matches: an = comparison, not negated, not part of a compound pattern.
func matchable(in Indicator) bool {
	return in.Operator == "=" && !in.Negated && !in.Compound && in.Value != ""
}

// indicatorKeys are r's indicators under the standard keys (CEF's
// dictionary; LEEF takes the same names as custom keys): the first
// matchable row of each kind.
func indicatorKeys(r *Record) []socfmt.Field {
	var out []socfmt.Field
	for _, k := range cefIndicatorKeys {
		for _, in := range r.Indicators {
			if matchable(in) && (in.Path == k.path || strings.HasSuffix(k.path, ".") && strings.HasPrefix(in.Path, k.path)) {
				out = append(out, socfmt.Field{Key: k.key, Value: in.Value})
				break
			}
		}
	}
	return out
}

// indicatorList spells every indicator row: "path op value" for a
// comparison, the pattern for a row without one; rows joined by ", ".
func indicatorList(r *Record) string {
	var parts []string
	seen := map[string]bool{}
	for _, in := range r.Indicators {
		p := in.Pattern
		switch {
		case in.Path != "" && in.Value != "":
			p = in.Path + " " + in.Operator + " " + in.Value
		case in.Path != "" && len(in.Values) > 0:
			p = in.Path + " IN (" + strings.Join(in.Values, ", ") + ")"
		}
		if !seen[p] {
			seen[p] = true
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}
