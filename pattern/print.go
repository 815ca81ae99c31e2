package pattern

import (
	"slices"
	"strconv"
	"strings"
)

// String returns the canonical form of the pattern: keywords in upper case,
// single spaces between tokens and none inside brackets of paths, no comments
// or redundant parentheses, operators and literals spelled canonically, and
// the operands of AND and OR (and the members of sets) sorted. Parse accepts
// it and returns a pattern with the same canonical form, unless spelling
// numbers out ("0.5" for ".5") takes it past MaxLength.
func (p *Pattern) String() string {
	return formatObservation(p.Root)
}

// precedence ranks the observation operators, the loosest lowest.
func (k ObservationKind) precedence() int {
	switch k {
	case ObservationFollowedBy:
		return 1
	case ObservationOr:
		return 2
	case ObservationAnd:
		return 3
	}
	return 4
}

// keyword is the operator word of an AND, OR or FOLLOWEDBY node.
func (k ObservationKind) keyword() string {
	switch k {
	case ObservationAnd:
		return "AND"
	case ObservationOr:
		return "OR"
	}
	return "FOLLOWEDBY"
}

// formatObservation returns the canonical form of o.
func formatObservation(o *Observation) string {
	var s string
	switch o.Kind {
	case ObservationSimple:
		s = "[" + formatComparisonExpr(o.Expr) + "]"
	case ObservationGroup:
		s = "(" + formatObservation(o.Operands[0]) + ")"
	default:
		parts := make([]string, len(o.Operands))
		for i, op := range o.Operands {
			parts[i] = formatObservation(op)
			// An operand with qualifiers is already in parentheses; one without
			// needs them when it binds more loosely, or when it is a FOLLOWEDBY
			// on the right of a FOLLOWEDBY.
			if len(op.Qualifiers) == 0 && op.Kind != ObservationSimple &&
				(op.Kind.precedence() < o.Kind.precedence() || op.Kind == o.Kind) {
				parts[i] = "(" + parts[i] + ")"
			}
		}
		if o.Kind != ObservationFollowedBy {
			slices.Sort(parts)
		}
		s = strings.Join(parts, " "+o.Kind.keyword()+" ")
		if len(o.Qualifiers) > 0 {
			s = "(" + s + ")"
		}
	}
	for _, q := range o.Qualifiers {
		s += " " + q.String()
	}
	return s
}

// formatComparisonExpr returns the canonical form of e.
func formatComparisonExpr(e *ComparisonExpr) string {
	if e.Kind == ComparisonTest {
		return e.Test.String()
	}
	kw := " OR "
	if e.Kind == ComparisonAnd {
		kw = " AND "
	}
	parts := make([]string, len(e.Operands))
	for i, op := range e.Operands {
		parts[i] = formatComparisonExpr(op)
		if op.Kind == ComparisonOr && e.Kind == ComparisonAnd {
			parts[i] = "(" + parts[i] + ")"
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, kw)
}

// String returns the canonical form of the comparison:
// "file:name NOT = 'a'", "NOT EXISTS file:size".
func (c Comparison) String() string {
	not := ""
	if c.Negated {
		not = "NOT "
	}
	if c.Operator == OpExists {
		return not + "EXISTS " + c.ObjectPath
	}
	return c.ObjectPath + " " + not + c.Operator + " " + c.Value.String()
}

// String returns the canonical form of the qualifier.
func (q Qualifier) String() string {
	switch q.Kind {
	case QualifierWithin:
		return "WITHIN " + q.Seconds.Text + " SECONDS"
	case QualifierRepeats:
		return "REPEATS " + strconv.FormatInt(q.Times, 10) + " TIMES"
	}
	return "START " + q.Start.String() + " STOP " + q.Stop.String()
}

// String returns the literal as the pattern language spells it canonically;
// the members of a set are sorted and repeats dropped.
func (l Literal) String() string {
	switch l.Kind {
	case LiteralString:
		return quote(l.Text)
	case LiteralTimestamp:
		return "t'" + l.Text + "'"
	case LiteralHex:
		return "h'" + l.Text + "'"
	case LiteralBinary:
		return "b'" + l.Text + "'"
	case LiteralSet:
		parts := make([]string, len(l.Elems))
		for i, e := range l.Elems {
			parts[i] = e.String()
		}
		slices.Sort(parts)
		return "(" + strings.Join(slices.Compact(parts), ", ") + ")"
	}
	return l.Text
}
