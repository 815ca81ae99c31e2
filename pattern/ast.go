package pattern

// Pattern is a parsed and checked STIX 2.1 pattern.
type Pattern struct {
	// Root is the top observation expression.
	Root *Observation
}

// ObservationKind says what an Observation node is.
type ObservationKind uint8

// Kinds of Observation.
const (
	// ObservationSimple is "[ comparison expression ]": Expr is set.
	ObservationSimple ObservationKind = iota
	// ObservationAnd joins two or more Operands with AND.
	ObservationAnd
	// ObservationOr joins two or more Operands with OR.
	ObservationOr
	// ObservationFollowedBy joins two or more Operands, in order, with FOLLOWEDBY.
	ObservationFollowedBy
	// ObservationGroup is a parenthesised expression, its one operand, whose
	// Qualifiers could not be merged into the operand's because the operand
	// already has a qualifier of the same kind:
	// "([a] WITHIN 5 SECONDS) WITHIN 60 SECONDS".
	ObservationGroup
)

// Observation is a node of the observation level of a pattern.
//
// Parentheses that only group are not kept: AND and OR nodes hold all the
// operands of a chain of the same operator, and a FOLLOWEDBY node all the
// operands of a left-to-right chain. Qualifiers written after parentheses are
// held by the node the parentheses enclose.
type Observation struct {
	// Kind says which of the other fields are set.
	Kind ObservationKind
	// Expr is the comparison expression between the brackets of a simple observation.
	Expr *ComparisonExpr
	// Operands are the joined expressions of AND, OR, FOLLOWEDBY and groups.
	Operands []*Observation
	// Qualifiers apply to this node, in the order written; at most one of each kind.
	Qualifiers []Qualifier
	// Offset is the byte offset of the node's first character in the pattern.
	Offset int
}

// QualifierKind says which qualifier a Qualifier is.
type QualifierKind uint8

// Kinds of Qualifier.
const (
	// QualifierWithin is "WITHIN n SECONDS".
	QualifierWithin QualifierKind = iota
	// QualifierRepeats is "REPEATS n TIMES".
	QualifierRepeats
	// QualifierStartStop is "START t'...' STOP t'...'".
	QualifierStartStop
)

// String returns the qualifier's keyword.
func (k QualifierKind) String() string {
	switch k {
	case QualifierWithin:
		return "WITHIN"
	case QualifierRepeats:
		return "REPEATS"
	default:
		return "START/STOP"
	}
}

// Qualifier restricts the observations that may match an observation expression.
type Qualifier struct {
	// Kind says which of the other fields are set.
	Kind QualifierKind
	// Seconds is the positive int or float literal of WITHIN.
	Seconds Literal
	// Times is the positive count of REPEATS.
	Times int64
	// Start and Stop are the timestamp literals of START/STOP; Stop is later than Start.
	Start, Stop Literal
	// Offset is the byte offset of the qualifier's keyword in the pattern.
	Offset int
}

// ComparisonKind says what a ComparisonExpr node is.
type ComparisonKind uint8

// Kinds of ComparisonExpr.
const (
	// ComparisonTest is a single comparison: Test is set.
	ComparisonTest ComparisonKind = iota
	// ComparisonAnd joins two or more Operands with AND.
	ComparisonAnd
	// ComparisonOr joins two or more Operands with OR.
	ComparisonOr
)

// ComparisonExpr is a node of a comparison expression, the part of a pattern
// between brackets. Grouping parentheses are not kept: an AND or OR node holds
// all the operands of a chain of the same operator.
type ComparisonExpr struct {
	// Kind says whether Test or Operands is set.
	Kind ComparisonKind
	// Test is the comparison of a ComparisonTest node.
	Test Comparison
	// Operands are the joined expressions of AND and OR nodes.
	Operands []*ComparisonExpr
}

// Operators of a Comparison, in their canonical spelling.
const (
	OpEqual      = "="          // also written ==
	OpNotEqual   = "!="         // also written <>
	OpLess       = "<"          // less than
	OpLessEq     = "<="         // less than or equal
	OpGreater    = ">"          // greater than
	OpGreaterEq  = ">="         // greater than or equal
	OpIn         = "IN"         // member of a set literal
	OpLike       = "LIKE"       // SQL LIKE pattern, % and _ wildcards
	OpMatches    = "MATCHES"    // PCRE regular expression
	OpIsSubset   = "ISSUBSET"   // address within a CIDR block
	OpIsSuperset = "ISSUPERSET" // CIDR block containing an address or block
	OpExists     = "EXISTS"     // the property is present; no literal
)

// Comparison is one comparison of a pattern: an object path, an operator and
// a literal ("file:hashes.'SHA-256' = '...'"), or an EXISTS test.
type Comparison struct {
	// ObjectType is the STIX Cyber-observable type: "file", "ipv4-addr", "x-acme-thing".
	ObjectType string
	// Path lists the steps of the property path after the object type: keys
	// unquoted ("hashes", "SHA-256") and list indexes as "[0]", "[-1]" or "[*]".
	// A quoted key that itself looks like an index is ambiguous here; ObjectPath
	// is not.
	Path []string
	// ObjectPath is the whole object path in canonical form:
	// "file:hashes.'SHA-256'", "email-message:body_multipart[*].body_raw_ref.name".
	ObjectPath string
	// Operator is one of the Op constants: "=" for = and ==, "!=" for != and <>.
	Operator string
	// Negated is true when the comparison is preceded by NOT.
	Negated bool
	// Value is the literal compared with; its Kind is LiteralNone for EXISTS.
	Value Literal
	// Offset is the byte offset of the comparison's first character in the pattern.
	Offset int
}

// LiteralKind is the type of a Literal.
type LiteralKind uint8

// Kinds of Literal.
const (
	// LiteralNone is the absent literal of an EXISTS comparison.
	LiteralNone LiteralKind = iota
	// LiteralString is a quoted string; Text is its value, unescaped.
	LiteralString
	// LiteralInt is an integer; Text is its canonical decimal spelling ("-5", "12").
	LiteralInt
	// LiteralFloat is a decimal number; Text is its canonical spelling ("0.5", "-2.25").
	LiteralFloat
	// LiteralBool is true or false; Text is "true" or "false".
	LiteralBool
	// LiteralTimestamp is t'...'; Text is the RFC 3339 UTC time without
	// trailing zeros of the fraction ("2016-06-01T01:30:00.12Z").
	LiteralTimestamp
	// LiteralHex is h'...'; Text is the hex digits in lower case.
	LiteralHex
	// LiteralBinary is b'...'; Text is the base64 text.
	LiteralBinary
	// LiteralSet is the parenthesised list of an IN comparison; Elems holds its members.
	LiteralSet
)

// String returns the name of the kind: "string", "int", ...
func (k LiteralKind) String() string {
	switch k {
	case LiteralString:
		return "string"
	case LiteralInt:
		return "int"
	case LiteralFloat:
		return "float"
	case LiteralBool:
		return "bool"
	case LiteralTimestamp:
		return "timestamp"
	case LiteralHex:
		return "hex"
	case LiteralBinary:
		return "binary"
	case LiteralSet:
		return "set"
	default:
		return "none"
	}
}

// Literal is a constant of a pattern.
type Literal struct {
	// Kind is the literal's type.
	Kind LiteralKind
	// Text is the literal's value, as described for each LiteralKind.
	Text string
	// Elems are the members of a LiteralSet, in the order written.
	Elems []Literal
}

// Comparisons returns every comparison of the pattern in the order written.
// Their Path and Value.Elems slices are shared with the syntax tree: do not
// modify them.
func (p *Pattern) Comparisons() []Comparison {
	var out []Comparison
	var walkCmp func(e *ComparisonExpr)
	walkCmp = func(e *ComparisonExpr) {
		if e.Kind == ComparisonTest {
			out = append(out, e.Test)
			return
		}
		for _, o := range e.Operands {
			walkCmp(o)
		}
	}
	var walkObs func(o *Observation)
	walkObs = func(o *Observation) {
		if o.Kind == ObservationSimple {
			walkCmp(o.Expr)
			return
		}
		for _, op := range o.Operands {
			walkObs(op)
		}
	}
	walkObs(p.Root)
	return out
}
