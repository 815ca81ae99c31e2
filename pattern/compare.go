package pattern

import (
	"strings"
)

// cmpLevels are the comparison operators from the loosest to the tightest binding.
var cmpLevels = [...]struct {
	kind ComparisonKind
	kw   string
}{{ComparisonOr, "OR"}, {ComparisonAnd, "AND"}}

// comparison parses the comparison expressions joined by the operators of
// cmpLevels[level:].
func (p *parser) comparison(level int) (*ComparisonExpr, error) {
	if level == len(cmpLevels) {
		return p.propTest()
	}
	lv := cmpLevels[level]
	return chain(p, lv.kw,
		func() (*ComparisonExpr, error) { return p.comparison(level + 1) },
		func(left, right *ComparisonExpr) *ComparisonExpr {
			if left.Kind != lv.kind {
				left = &ComparisonExpr{Kind: lv.kind, Operands: []*ComparisonExpr{left}}
			}
			if right.Kind == lv.kind {
				left.Operands = append(left.Operands, right.Operands...)
			} else {
				left.Operands = append(left.Operands, right)
			}
			return left
		})
}

// propTest parses one comparison, or a parenthesised comparison expression.
func (p *parser) propTest() (*ComparisonExpr, error) {
	from := p.tok.pos
	if p.tok.kind == tLParen {
		if err := p.open(); err != nil {
			return nil, err
		}
		e, err := p.comparison(0)
		if err != nil {
			return nil, err
		}
		return e, p.close(tRParen, "parenthesis", from)
	}
	e := &ComparisonExpr{Kind: ComparisonTest}
	c := &e.Test
	if p.isKeyword("NOT") || p.isKeyword("EXISTS") {
		if p.isKeyword("NOT") {
			c.Negated = true
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
		if err := p.expectKeyword("EXISTS", "after NOT at the start of a comparison (elsewhere NOT goes between the object path and the operator)"); err != nil {
			return nil, err
		}
		c.Operator = OpExists
		_, err := p.objectPath(c)
		return e, err
	}
	alg, err := p.objectPath(c)
	if err != nil {
		return nil, err
	}
	if p.isKeyword("NOT") {
		c.Negated = true
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if err := p.operator(c); err != nil {
		return nil, err
	}
	return e, p.operand(c, alg)
}

// operator parses the comparison operator into c.Operator.
func (p *parser) operator(c *Comparison) error {
	t := p.tok
	switch {
	case t.kind == tOp:
		switch t.text {
		case "==":
			c.Operator = OpEqual
		case "<>":
			c.Operator = OpNotEqual
		default:
			c.Operator = t.text
		}
	case t.kind == tIdent && (t.text == OpIn || t.text == OpLike || t.text == OpMatches || t.text == OpIsSubset || t.text == OpIsSuperset):
		c.Operator = t.text
	default:
		return p.unexpected("a comparison operator (=, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET) after the object path")
	}
	return p.advance()
}

// operand parses the literal the operator of c takes and checks it; alg is
// the hash algorithm the object path names, if any.
func (p *parser) operand(c *Comparison, alg string) error {
	at := p.tok.pos
	switch c.Operator {
	case OpIn:
		return p.set(c, alg)
	case OpLike, OpMatches, OpIsSubset, OpIsSuperset:
		if p.tok.kind != tString {
			return p.unexpected(c.Operator + " takes a string literal: a quoted string")
		}
		c.Value = Literal{Kind: LiteralString, Text: p.tok.text}
		if msg := checkStringOperand(c.Operator, c.Value.Text); msg != "" {
			return errorf(at, "%s", msg)
		}
		return p.advance()
	case OpEqual, OpNotEqual:
		v, err := p.literal(true, c.Operator)
		if err != nil {
			return err
		}
		c.Value = v
		return checkHashLiteral(alg, v, at)
	}
	v, err := p.literal(false, c.Operator)
	c.Value = v
	return err
}

// set parses the parenthesised literal list of IN, checking hashes as for =.
func (p *parser) set(c *Comparison, alg string) error {
	from := p.tok.pos
	if p.tok.kind != tLParen {
		return p.unexpected("'(' to start the set of values after IN, as in IN ('a', 'b')")
	}
	if err := p.advance(); err != nil {
		return err
	}
	c.Value = Literal{Kind: LiteralSet}
	for p.tok.kind != tRParen {
		if len(c.Value.Elems) > 0 {
			if p.tok.kind != tComma {
				return errorf(p.tok.pos, "expected ',' or ')' to close the set opened at offset %d, found %s", from, describe(p.tok))
			}
			if err := p.advance(); err != nil {
				return err
			}
		}
		at := p.tok.pos
		v, err := p.literal(true, "")
		if err != nil {
			return err
		}
		if err := checkHashLiteral(alg, v, at); err != nil {
			return err
		}
		c.Value.Elems = append(c.Value.Elems, v)
	}
	return p.advance()
}

// literal parses a primitive literal (a bool only when allowBool) after the
// operator op, or in a set when op is "".
func (p *parser) literal(allowBool bool, op string) (Literal, error) {
	t := p.tok
	var v Literal
	switch t.kind {
	case tString:
		v = Literal{Kind: LiteralString, Text: t.text}
	case tInt, tFloat:
		v = numberLiteral(t)
	case tTimestamp:
		v = Literal{Kind: LiteralTimestamp, Text: canonTimestamp(t.text)}
	case tHex:
		v = Literal{Kind: LiteralHex, Text: strings.ToLower(t.text)}
	case tBinary:
		v = Literal{Kind: LiteralBinary, Text: t.text}
	case tIdent:
		if !allowBool || t.text != "true" && t.text != "false" {
			return v, p.literalExpected(allowBool, op)
		}
		v = Literal{Kind: LiteralBool, Text: t.text}
	default:
		return v, p.literalExpected(allowBool, op)
	}
	return v, p.advance()
}

// literalExpected reports that the current token is not the literal that
// literal(allowBool, op) expected.
func (p *parser) literalExpected(allowBool bool, op string) error {
	switch {
	case op == "":
		return p.unexpected("a literal in the set")
	case allowBool:
		return p.unexpected("a literal after " + op)
	}
	return p.unexpected("a number, string, timestamp, hex or binary literal after " + op + " (booleans have no order)")
}

// objectPath parses "type:key(.key|[index])*" into c, and returns the hash
// algorithm when the path ends in hashes.<algorithm>.
func (p *parser) objectPath(c *Comparison) (alg string, err error) {
	t := p.tok
	c.Offset = t.pos
	if t.kind != tIdent {
		return "", p.unexpected("an object path such as file:name, '(' or EXISTS to start a comparison")
	}
	if msg := checkObjectType(t.text); msg != "" {
		return "", errorf(t.pos, "%s", msg)
	}
	c.ObjectType = t.text
	if err := p.advance(); err != nil {
		return "", err
	}
	if p.tok.kind != tColon {
		return "", p.unexpected("':' after the object type " + quote(t.text))
	}
	// The source text is the canonical path while its tokens touch and
	// each is spelled canonically: then ObjectPath needs no allocation.
	canonical, end := p.tok.pos == t.end, p.tok.end
	if err := p.advance(); err != nil {
		return "", err
	}
	c.Path = make([]string, 0, 4)
	var indexBuf [8]bool
	isIndex := indexBuf[:0] // per step: a list index, not a key (a key may look like one)
	lastKeys := 0           // how many of the last steps, up to 2, are keys
	for {
		switch {
		case len(c.Path) == 0 || p.tok.kind == tDot:
			if len(c.Path) > 0 {
				canonical, end = canonical && p.tok.pos == end, p.tok.end
				if err := p.advance(); err != nil {
					return "", err
				}
			}
			kt := p.tok
			key, err := p.pathKey()
			if err != nil {
				return "", err
			}
			if len(c.Path) == 0 {
				if msg := checkPropertyName(key); msg != "" {
					return "", errorf(kt.pos, "%s", msg)
				}
			}
			canonical = canonical && p.tok.pos == end && (p.tok.kind == tIdent || needsQuote(key) && p.tok.end-p.tok.pos == len(key)+2)
			c.Path = append(c.Path, key)
			isIndex = append(isIndex, false)
			lastKeys = min(lastKeys+1, 2)
		case p.tok.kind == tLBrack:
			canonical = canonical && p.tok.pos == end
			step, touching, err := p.pathIndex()
			if err != nil {
				return "", err
			}
			canonical = canonical && touching
			c.Path = append(c.Path, step)
			isIndex = append(isIndex, true)
			lastKeys = 0
		default:
			if canonical && !p.formatPaths {
				c.ObjectPath = p.lex.src[c.Offset:end]
			} else {
				c.ObjectPath = formatPath(c.ObjectType, c.Path, isIndex)
			}
			if n := len(c.Path); lastKeys == 2 && c.Path[n-2] == "hashes" {
				alg = c.Path[n-1]
			}
			return alg, nil
		}
		end = p.tok.end
		if err := p.advance(); err != nil {
			return "", err
		}
	}
}

// pathKey checks the current token as a property name and returns the name.
func (p *parser) pathKey() (string, error) {
	t := p.tok
	switch {
	case t.kind == tString:
		return t.text, nil
	case t.kind != tIdent:
		return "", p.unexpected("a property name, or a quoted one such as 'SHA-256'")
	case t.hyphen:
		return "", errorf(t.pos, "property name %s contains '-': quote it, as in hashes.'SHA-256'", quote(t.text))
	case isReserved(t.text):
		return "", errorf(t.pos, "property name %s is a keyword: quote it as %s", t.text, quote(t.text))
	}
	return t.text, nil
}

// pathIndex parses a list index "[n]" or "[*]" from its '[' up to its ']',
// which it leaves current. It returns the step in canonical form and whether
// the source spells it so, without spaces.
func (p *parser) pathIndex() (step string, touching bool, err error) {
	lb := p.tok
	if err := p.advance(); err != nil {
		return "", false, err
	}
	idx := p.tok
	if idx.kind != tStar && idx.kind != tInt {
		return "", false, p.unexpected("a list index (a whole number, or * for any) after '['")
	}
	if err := p.advance(); err != nil {
		return "", false, err
	}
	if p.tok.kind != tRBrack {
		return "", false, p.unexpected("']' to close the list index")
	}
	touching = idx.pos == lb.end && p.tok.pos == idx.end
	if idx.kind == tStar {
		return "[*]", touching, nil
	}
	n := canonInt(idx.text)
	return "[" + n + "]", touching && n == idx.text, nil
}
