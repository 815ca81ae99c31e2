package agent

import (
	"encoding/json"
	"time"

	"github.com/tocsin-project/tocsin/pattern"
)

// Indicator is one comparison of an indicator's STIX pattern, flattened so
// that a SIEM matches on path and value without parsing STIX: the pattern
// "[ipv4-addr:value = '198.51.100.7'] OR [domain-name:value = 'c2.example']"
// is two rows. An indicator whose pattern is not STIX (or does not parse)
// is one row with its pattern and no comparison.
type Indicator struct {
	// STIXID is the indicator's id ("indicator--...").
	STIXID string `json:"stix_id"`
	// Name is the indicator's name, when it has one.
	Name string `json:"name,omitempty"`
	// PatternType is the indicator's pattern_type ("stix", "sigma", ...).
	PatternType string `json:"pattern_type"`
	// Pattern is the whole pattern, as the sender wrote it.
	Pattern string `json:"pattern"`
	// Type is the comparison's object type ("ipv4-addr").
	Type string `json:"type,omitempty"`
	// Path is its object path ("ipv4-addr:value", "file:hashes.'SHA-256'").
	Path string `json:"path,omitempty"`
	// Operator is its operator: =, !=, <, <=, >, >=, IN, LIKE, MATCHES,
	// ISSUBSET, ISSUPERSET or EXISTS.
	Operator string `json:"operator,omitempty"`
	// Negated is true for a comparison preceded by NOT.
	Negated bool `json:"negated,omitempty"`
	// Value is the literal compared with, unquoted and unescaped; for IN,
	// Values holds the set's members and Value is empty, as for EXISTS.
	Value  string   `json:"value,omitempty"`
	Values []string `json:"values,omitempty"`
	// ValueType is the literal's type: string, int, float, bool,
	// timestamp, hex, binary or set.
	ValueType string `json:"value_type,omitempty"`
	// Compound is true when this comparison alone does not make the
	// pattern match: it is ANDed with another comparison or observation,
	// part of a FOLLOWEDBY, or under a qualifier (WITHIN, REPEATS,
	// START/STOP). A row with compound false matches by itself.
	Compound bool `json:"compound"`
	// ValidFrom and ValidUntil are the indicator's validity (RFC 3339 UTC).
	ValidFrom  string `json:"valid_from,omitempty"`
	ValidUntil string `json:"valid_until,omitempty"`
}

// bundleIndicators returns the rows of every indicator of a STIX bundle,
// in the bundle's order. The bundle was validated already; what cannot be
// read gives no row.
func bundleIndicators(bundle []byte) []Indicator {
	var b struct {
		Objects []struct {
			Type        string `json:"type"`
			ID          string `json:"id"`
			Name        string `json:"name"`
			Pattern     string `json:"pattern"`
			PatternType string `json:"pattern_type"`
			ValidFrom   string `json:"valid_from"`
			ValidUntil  string `json:"valid_until"`
		} `json:"objects"`
	}
	out := []Indicator{}
	if json.Unmarshal(bundle, &b) != nil {
		return out
	}
	for _, o := range b.Objects {
		if o.Type == "indicator" && o.Pattern != "" {
			out = append(out, patternIndicators(o.ID, o.Name, o.PatternType, o.Pattern, o.ValidFrom, o.ValidUntil)...)
		}
	}
	return out
}

// patternIndicators returns the rows of one indicator's pattern.
func patternIndicators(id, name, patternType, pat, validFrom, validUntil string) []Indicator {
	base := Indicator{STIXID: id, Name: name, PatternType: patternType, Pattern: pat,
		ValidFrom: utcTime(validFrom), ValidUntil: utcTime(validUntil)}
	if base.PatternType == "" {
		base.PatternType = "stix"
	}
	if base.PatternType != "stix" {
		return []Indicator{base}
	}
	p, err := pattern.Parse(pat)
	if err != nil {
		return []Indicator{base}
	}
	var out []Indicator
	var walkCmp func(e *pattern.ComparisonExpr, compound bool)
	walkCmp = func(e *pattern.ComparisonExpr, compound bool) {
		if e.Kind == pattern.ComparisonTest {
			out = append(out, comparisonRow(base, e.Test, compound))
			return
		}
		for _, o := range e.Operands {
			walkCmp(o, compound || e.Kind == pattern.ComparisonAnd)
		}
	}
	var walkObs func(o *pattern.Observation, compound bool)
	walkObs = func(o *pattern.Observation, compound bool) {
		compound = compound || len(o.Qualifiers) > 0
		if o.Kind == pattern.ObservationSimple {
			walkCmp(o.Expr, compound)
			return
		}
		joined := o.Kind == pattern.ObservationAnd || o.Kind == pattern.ObservationFollowedBy
		for _, op := range o.Operands {
			walkObs(op, compound || joined)
		}
	}
	walkObs(p.Root, false)
	return out
}

// comparisonRow is base with comparison c.
func comparisonRow(base Indicator, c pattern.Comparison, compound bool) Indicator {
	row := base
	row.Type, row.Path, row.Operator, row.Negated, row.Compound = c.ObjectType, c.ObjectPath, c.Operator, c.Negated, compound
	if c.Operator == pattern.OpExists {
		return row
	}
	row.ValueType = c.Value.Kind.String()
	if c.Value.Kind == pattern.LiteralSet {
		row.Values = make([]string, len(c.Value.Elems))
		for i, e := range c.Value.Elems {
			row.Values[i] = e.Text
		}
		return row
	}
	row.Value = c.Value.Text
	return row
}

// utcTime spells a STIX timestamp in RFC 3339 UTC; what does not parse is
// left as it is (the bundle was validated, so that does not happen).
func utcTime(s string) string {
	if s == "" {
		return ""
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format(time.RFC3339Nano)
}
