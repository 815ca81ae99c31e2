package pattern

import (
	"strconv"
	"unicode/utf8"
)

// Limits that keep hostile input cheap to refuse.
const (
	// MaxLength is the longest pattern Parse accepts, in bytes.
	MaxLength = 256 << 10
	// MaxDepth is how deeply brackets and parentheses may nest.
	MaxDepth = 64
)

// parser is the state of one Parse: the lexer, the current token and the
// nesting depth.
type parser struct {
	lex   lexer
	tok   token
	depth int
	// formatPaths makes every object path formatted from its steps, never
	// taken from the source as already canonical: tests compare both ways.
	formatPaths bool
}

// Parse parses a STIX 2.1 pattern and checks what the grammar alone cannot.
// Its error is always an *Error, which matches ErrInvalidPattern or, for a
// hash of the wrong length or alphabet, ErrInvalidHash.
func Parse(s string) (*Pattern, error) {
	return parse(s, false)
}

// parse is Parse, with formatPaths for the parser.
func parse(s string, formatPaths bool) (*Pattern, error) {
	if len(s) > MaxLength {
		return nil, errorf(MaxLength, "pattern is %d bytes long, more than the %d allowed", len(s), MaxLength)
	}
	if !utf8.ValidString(s) {
		return nil, errorf(firstInvalidUTF8(s), "pattern is not valid UTF-8")
	}
	p := parser{lex: lexer{src: s}, formatPaths: formatPaths}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tEOF {
		return nil, errorf(0, "pattern is empty: expected an observation expression such as [ipv4-addr:value = '198.51.100.1']")
	}
	root, err := p.observation(0)
	if err != nil {
		return nil, err
	}
	switch p.tok.kind {
	case tEOF:
		return &Pattern{Root: root}, nil
	case tRParen, tRBrack:
		return nil, errorf(p.tok.pos, "unbalanced %s: nothing open to close", describe(p.tok))
	}
	return nil, p.unexpected("AND, OR, FOLLOWEDBY, a qualifier (WITHIN, REPEATS, START) or the end of the pattern")
}

// advance moves to the next token.
func (p *parser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

// isKeyword reports whether the current token is the keyword kw, spelled as the grammar spells it.
func (p *parser) isKeyword(kw string) bool {
	return p.tok.kind == tIdent && p.tok.text == kw
}

// expectKeyword moves past the keyword kw, or fails saying what it follows.
func (p *parser) expectKeyword(kw, after string) error {
	if !p.isKeyword(kw) {
		return p.unexpected(kw + " " + after)
	}
	return p.advance()
}

// open moves past an opening bracket or parenthesis, counting the nesting depth.
func (p *parser) open() error {
	p.depth++
	if p.depth > MaxDepth {
		return errorf(p.tok.pos, "brackets and parentheses nest more than %d deep; flatten the expression", MaxDepth)
	}
	return p.advance()
}

// close moves past the closing token k of what was opened at offset from.
func (p *parser) close(k tokKind, what string, from int) error {
	if p.tok.kind != k {
		closer := "']'"
		if k == tRParen {
			closer = "')'"
		}
		return errorf(p.tok.pos, "expected %s to close the %s opened at offset %d, found %s", closer, what, from, describe(p.tok))
	}
	p.depth--
	return p.advance()
}

// unexpected reports that the current token is not what was expected.
func (p *parser) unexpected(expected string) error {
	return errorf(p.tok.pos, "expected %s, found %s", expected, describe(p.tok))
}

// obsLevels are the observation operators from the loosest to the tightest binding.
var obsLevels = [...]struct {
	kind ObservationKind
	kw   string
}{{ObservationFollowedBy, "FOLLOWEDBY"}, {ObservationOr, "OR"}, {ObservationAnd, "AND"}}

// chain parses operands joined by the keyword kw, left-associatively as
// the grammar does: operand parses one, join joins the chain so far with the next.
func chain[T any](p *parser, kw string, operand func() (T, error), join func(left, right T) T) (T, error) {
	left, err := operand()
	for err == nil && p.isKeyword(kw) {
		if err = p.advance(); err != nil {
			break
		}
		var right T
		if right, err = operand(); err == nil {
			left = join(left, right)
		}
	}
	return left, err
}

// observation parses the observation expressions joined by the operators of
// obsLevels[level:].
func (p *parser) observation(level int) (*Observation, error) {
	if level == len(obsLevels) {
		return p.observationPrimary()
	}
	lv := obsLevels[level]
	return chain(p, lv.kw,
		func() (*Observation, error) { return p.observation(level + 1) },
		func(left, right *Observation) *Observation { return joinObservations(lv.kind, left, right) })
}

// joinObservations returns left kind right, flattening chains of the same
// operator: AND and OR on both sides, FOLLOWEDBY on the left only.
func joinObservations(kind ObservationKind, left, right *Observation) *Observation {
	n := left
	if left.Kind != kind || len(left.Qualifiers) != 0 {
		n = &Observation{Kind: kind, Operands: make([]*Observation, 1, 2), Offset: left.Offset}
		n.Operands[0] = left
	}
	if right.Kind == kind && len(right.Qualifiers) == 0 && kind != ObservationFollowedBy {
		n.Operands = append(n.Operands, right.Operands...)
	} else {
		n.Operands = append(n.Operands, right)
	}
	return n
}

// observationPrimary parses "[ comparison ]" or "( observations )" and the
// qualifiers that follow.
func (p *parser) observationPrimary() (*Observation, error) {
	from, kind := p.tok.pos, p.tok.kind
	if kind != tLBrack && kind != tLParen {
		return nil, p.unexpected("'[' or '(' to start an observation expression")
	}
	err := p.open()
	var node *Observation
	switch {
	case err != nil:
	case kind == tLBrack:
		node = &Observation{Kind: ObservationSimple, Offset: from}
		if node.Expr, err = p.comparison(0); err == nil {
			err = p.close(tRBrack, "observation expression", from)
		}
	default:
		if node, err = p.observation(0); err == nil {
			err = p.close(tRParen, "parenthesis", from)
		}
	}
	if err != nil {
		return nil, err
	}
	quals, err := p.qualifiers()
	if err != nil {
		return nil, err
	}
	return qualifyGroup(node, quals, from), nil
}

// qualifyGroup applies the qualifiers written after brackets or parentheses
// to the expression inside them: merged into its own qualifiers when that
// repeats no kind, else kept apart in an ObservationGroup.
func qualifyGroup(inner *Observation, quals []Qualifier, from int) *Observation {
	for _, q := range quals {
		for _, iq := range inner.Qualifiers {
			if q.Kind == iq.Kind {
				return &Observation{Kind: ObservationGroup, Operands: []*Observation{inner}, Qualifiers: quals, Offset: from}
			}
		}
	}
	if len(quals) != 0 {
		inner.Qualifiers = append(inner.Qualifiers, quals...)
	}
	return inner
}

// qualifiers parses the qualifiers after an observation expression,
// refusing a second one of the same kind.
func (p *parser) qualifiers() ([]Qualifier, error) {
	var quals []Qualifier
	for p.tok.kind == tIdent {
		var q Qualifier
		var err error
		switch p.tok.text {
		case "WITHIN":
			q, err = p.within()
		case "REPEATS":
			q, err = p.repeats()
		case "START":
			q, err = p.startStop()
		default:
			return quals, nil
		}
		if err != nil {
			return nil, err
		}
		for _, prev := range quals {
			if prev.Kind == q.Kind {
				return nil, errorf(q.Offset, "second %s qualifier on the same observation expression (the first is at offset %d): keep one, or put parentheses around the expression and its first qualifier", q.Kind, prev.Offset)
			}
		}
		quals = append(quals, q)
	}
	return quals, nil
}

// within parses "WITHIN n SECONDS".
func (p *parser) within() (Qualifier, error) {
	q, n, err := p.numberQualifier(QualifierWithin, "a positive number of seconds", "SECONDS", "after the WITHIN duration (the only unit)")
	if err != nil {
		return q, err
	}
	q.Seconds = numberLiteral(n)
	return q, nil
}

// repeats parses "REPEATS n TIMES".
func (p *parser) repeats() (Qualifier, error) {
	q, n, err := p.numberQualifier(QualifierRepeats, "a positive whole number", "TIMES", "after the REPEATS count")
	if err != nil {
		return q, err
	}
	if q.Times, err = strconv.ParseInt(n.text, 10, 64); err != nil {
		return q, errorf(n.pos, "the REPEATS count %s is too large", clip(n.text))
	}
	return q, nil
}

// numberQualifier parses a qualifier's keyword, its positive number (whole
// for REPEATS) and its unit keyword, which comes after what. It returns the
// number's token.
func (p *parser) numberQualifier(kind QualifierKind, what, unit, after string) (Qualifier, token, error) {
	q := Qualifier{Kind: kind, Offset: p.tok.pos}
	if err := p.advance(); err != nil {
		return q, token{}, err
	}
	n := p.tok
	if n.kind != tInt && (n.kind != tFloat || kind == QualifierRepeats) || !positive(n.text) {
		return q, n, errorf(n.pos, "the %s qualifier takes %s, found %s", kind, what, describe(n))
	}
	if err := p.advance(); err != nil {
		return q, n, err
	}
	return q, n, p.expectKeyword(unit, after)
}

// startStop parses "START t'...' STOP t'...'" and checks that STOP is later.
func (p *parser) startStop() (Qualifier, error) {
	q := Qualifier{Kind: QualifierStartStop, Offset: p.tok.pos}
	if err := p.advance(); err != nil {
		return q, err
	}
	if p.tok.kind != tTimestamp {
		return q, p.unexpected("a timestamp t'YYYY-MM-DDTHH:MM:SSZ' after START")
	}
	q.Start = Literal{Kind: LiteralTimestamp, Text: canonTimestamp(p.tok.text)}
	if err := p.advance(); err != nil {
		return q, err
	}
	if err := p.expectKeyword("STOP", "after the START timestamp"); err != nil {
		return q, err
	}
	if p.tok.kind != tTimestamp {
		return q, p.unexpected("a timestamp t'YYYY-MM-DDTHH:MM:SSZ' after STOP")
	}
	q.Stop = Literal{Kind: LiteralTimestamp, Text: canonTimestamp(p.tok.text)}
	if compareTimestamps(q.Start.Text, q.Stop.Text) >= 0 {
		return q, errorf(p.tok.pos, "the STOP time t'%s' must be later than the START time t'%s'", q.Stop.Text, q.Start.Text)
	}
	return q, p.advance()
}

// positive reports whether an unsigned or plus-signed number token is above zero.
func positive(s string) bool {
	if s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= '1' && s[i] <= '9' {
			return true
		}
	}
	return false
}

// numberLiteral returns the Literal of an int or float token.
func numberLiteral(t token) Literal {
	if t.kind == tFloat {
		return Literal{Kind: LiteralFloat, Text: canonFloat(t.text)}
	}
	return Literal{Kind: LiteralInt, Text: canonInt(t.text)}
}

// firstInvalidUTF8 returns the offset of the first byte of s that is not
// part of valid UTF-8.
func firstInvalidUTF8(s string) int {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(s)
}
