// Package pattern parses and checks STIX 2.1 patterns (STIX 2.1 part 9,
// "STIX Patterning"), the language of an indicator's pattern property when
// its pattern_type is "stix".
//
// The parser is hand-written recursive descent over the whole of the
// reference grammar (STIXPattern.g4 of cti-stix2-json-schemas): observation
// expressions joined by AND, OR and FOLLOWEDBY, their WITHIN, REPEATS and
// START/STOP qualifiers, comparison expressions inside brackets, object paths
// with quoted keys and list indexes, and every literal kind. Beyond the
// grammar, Parse checks what the grammar alone cannot:
//
//   - timestamps are real UTC instants (no 2016-02-31), and STOP comes after START;
//   - WITHIN and REPEATS take positive numbers, and one observation expression
//     carries at most one qualifier of each kind;
//   - object types follow the STIX 2.1 type syntax (lowercase letters, digits
//     and single hyphens, 3 to 250 characters);
//   - the property an object path starts with follows the STIX 2.1 naming
//     rules for property names (sections 3.1 and 11.1: 3 to 250 lowercase
//     letters, digits and underscores), quoted or not: file:Size,
//     x-acme:'some-name' and file:ab are refused, "id" is allowed. The later
//     steps of a path are dictionary keys (hashes.'SHA-256',
//     extensions.'windows-pebinary-ext') or properties of a referenced
//     object, and are not checked, as in the OASIS validator;
//   - MATCHES takes a valid regular expression and ISSUBSET/ISSUPERSET an IP
//     address or CIDR block;
//   - a hash compared with = or != (or IN) has the hex length of its algorithm
//     (hashes.'SHA-256' takes 64 hex digits); a mismatch is an ErrInvalidHash;
//   - nesting is at most MaxDepth deep and input at most MaxLength bytes long,
//     so hostile input is refused quickly and without deep recursion.
//
// As in the grammar, keywords are case-sensitive: AND, OR, NOT, WITHIN and the
// others are upper case, true and false lower case. A keyword written in
// another case is refused with an error that says so.
//
// One deviation from the specification, on purpose: STIX says a MATCHES
// operand is a PCRE expression, but Tocsin and every agent match with Go's
// RE2, which has no back-tracking. An operand RE2 cannot run (look-around,
// back-references, atomic groups, comments, possessive quantifiers, repeat
// counts above 1,000, \Z) is refused with a message that says so, rather
// than accepted and never matched. Every other MATCHES operand is valid in
// both.
//
// A parsed Pattern exposes its syntax tree, the list of its comparisons
// (object path, operator, literal) and a canonical form, String, that is equal
// for patterns which differ only in whitespace, comments, redundant
// parentheses, quoting of property names, spelling of operators (== and =,
// <> and !=), number and timestamp spelling, or the order of the operands of
// AND and OR and of the members of a set.
package pattern
