package pattern

import (
	"reflect"
	"testing"
)

// TestCanonicalEquivalence checks which spellings of a pattern share a
// canonical form, and which must not.
func TestCanonicalEquivalence(t *testing.T) {
	tests := []struct {
		name  string
		a, b  string
		equal bool
	}{
		{"whitespace", "[file:name='a']AND[file:size=1]", "  [ file:name = 'a' ]\n AND\t[file:size = 1]  ", true},
		{"comments", "[file:name = 'a' /* why */] // done", "[file:name = 'a']", true},
		{"and operands", "[aaa:xxx = 1] AND [bbb:xxx = 2]", "[bbb:xxx = 2] AND [aaa:xxx = 1]", true},
		{"or operands", "[aaa:xxx = 1] OR [bbb:xxx = 2] OR [ccc:xxx = 3]", "[ccc:xxx = 3] OR ([bbb:xxx = 2] OR [aaa:xxx = 1])", true},
		{"comparison operands", "[file:name = 'a' AND file:size = 1]", "[file:size = 1 AND file:name = 'a']", true},
		{"nested comparison operands", "[(file:xxx = 1 OR file:yyy = 2) AND file:zzz = 3]", "[file:zzz = 3 AND (file:yyy = 2 OR file:xxx = 1)]", true},
		{"operator spelling", "[file:name == 'a' AND file:size <> 1]", "[file:name = 'a' AND file:size != 1]", true},
		{"path quoting", "[file:'hashes'.'MD5' = '001dd76872d80801692ff942308c64e6']", "[file:hashes.MD5 = '001dd76872d80801692ff942308c64e6']", true},
		{"numbers", "[file:size = +1 AND file:entropy > .50]", "[file:size = 1 AND file:entropy > 0.5]", true},
		{"timestamps", "[file:created = t'2016-01-01T00:00:00.000Z']", "[file:created = t'2016-01-01T00:00:00Z']", true},
		{"hex case", "[artifact:payload_bin = h'ABCD']", "[artifact:payload_bin = h'abcd']", true},
		{"set order and repeats", "[file:name IN ('b', 'a', 'b')]", "[file:name IN ('a', 'b')]", true},
		{"parenthesised qualifier target", "([file:size = 1]) WITHIN 5 SECONDS", "[file:size = 1] WITHIN 5 SECONDS", true},
		{"string escapes", `[file:name = 'a\'b']`, `[file:name = 'a\'b']`, true},

		{"followedby order", "[aaa:xxx = 1] FOLLOWEDBY [bbb:xxx = 2]", "[bbb:xxx = 2] FOLLOWEDBY [aaa:xxx = 1]", false},
		{"qualifier target", "([aaa:xxx = 1] AND [bbb:xxx = 2]) WITHIN 5 SECONDS", "[aaa:xxx = 1] AND [bbb:xxx = 2] WITHIN 5 SECONDS", false},
		{"qualifier order", "[file:size = 1] REPEATS 2 TIMES WITHIN 5 SECONDS", "[file:size = 1] WITHIN 5 SECONDS REPEATS 2 TIMES", false},
		{"value case", "[file:name = 'A']", "[file:name = 'a']", false},
		{"property case", "[file:hashes.md5 = '001dd76872d80801692ff942308c64e6']", "[file:hashes.MD5 = '001dd76872d80801692ff942308c64e6']", false},
		{"literal kind", "[file:size = 1]", "[file:size = '1']", false},
		{"negation", "[file:name NOT = 'a']", "[file:name = 'a']", false},
		{"precedence", "([aaa:xxx = 1] OR [bbb:xxx = 2]) AND [ccc:xxx = 3]", "[aaa:xxx = 1] OR [bbb:xxx = 2] AND [ccc:xxx = 3]", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := mustParse(t, tt.a).String(), mustParse(t, tt.b).String()
			if (a == b) != tt.equal {
				t.Errorf("canonical forms %q and %q: equal = %v, want %v", a, b, a == b, tt.equal)
			}
		})
	}
}

// TestComparisons checks the comparison list: object type, path steps,
// canonical path, operator, negation and literal.
func TestComparisons(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Comparison
	}{
		{
			name: "hash and name",
			in:   "[file:hashes.'SHA-256' = '" + sha256Hex + "' AND file:name NOT LIKE 'x%']",
			want: []Comparison{
				{ObjectType: "file", Path: []string{"hashes", "SHA-256"}, ObjectPath: "file:hashes.'SHA-256'", Operator: OpEqual, Value: Literal{Kind: LiteralString, Text: sha256Hex}, Offset: 1},
				{ObjectType: "file", Path: []string{"name"}, ObjectPath: "file:name", Operator: OpLike, Negated: true, Value: Literal{Kind: LiteralString, Text: "x%"}, Offset: 96},
			},
		},
		{
			name: "indexes, spaces and quoting",
			in:   "[email-message : body_multipart [ * ] . 'body_raw_ref' . name == 'a\\'b']",
			want: []Comparison{
				{ObjectType: "email-message", Path: []string{"body_multipart", "[*]", "body_raw_ref", "name"}, ObjectPath: "email-message:body_multipart[*].body_raw_ref.name", Operator: OpEqual, Value: Literal{Kind: LiteralString, Text: "a'b"}, Offset: 1},
			},
		},
		{
			name: "exists and sets across observations",
			in:   "[NOT EXISTS x-acme-widget:parts[-1]] FOLLOWEDBY [file:size IN (+1, 2.50)] WITHIN 5 SECONDS",
			want: []Comparison{
				{ObjectType: "x-acme-widget", Path: []string{"parts", "[-1]"}, ObjectPath: "x-acme-widget:parts[-1]", Operator: OpExists, Negated: true, Offset: 12},
				{ObjectType: "file", Path: []string{"size"}, ObjectPath: "file:size", Operator: OpIn, Value: Literal{Kind: LiteralSet, Elems: []Literal{{Kind: LiteralInt, Text: "1"}, {Kind: LiteralFloat, Text: "2.5"}}}, Offset: 49},
			},
		},
		{
			name: "literal kinds",
			in:   "[artifact:xxx = true OR artifact:yyy > t'2016-01-01T00:00:00.10Z' OR artifact:zzz != h'0A' OR artifact:www = b'AAAA' OR artifact:vvv < -3]",
			want: []Comparison{
				{ObjectType: "artifact", Path: []string{"xxx"}, ObjectPath: "artifact:xxx", Operator: OpEqual, Value: Literal{Kind: LiteralBool, Text: "true"}, Offset: 1},
				{ObjectType: "artifact", Path: []string{"yyy"}, ObjectPath: "artifact:yyy", Operator: OpGreater, Value: Literal{Kind: LiteralTimestamp, Text: "2016-01-01T00:00:00.1Z"}, Offset: 24},
				{ObjectType: "artifact", Path: []string{"zzz"}, ObjectPath: "artifact:zzz", Operator: OpNotEqual, Value: Literal{Kind: LiteralHex, Text: "0a"}, Offset: 69},
				{ObjectType: "artifact", Path: []string{"www"}, ObjectPath: "artifact:www", Operator: OpEqual, Value: Literal{Kind: LiteralBinary, Text: "AAAA"}, Offset: 94},
				{ObjectType: "artifact", Path: []string{"vvv"}, ObjectPath: "artifact:vvv", Operator: OpLess, Value: Literal{Kind: LiteralInt, Text: "-3"}, Offset: 120},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.in).Comparisons()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Comparisons() =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

// TestSyntaxTree checks the shape of the tree for operators, groups and qualifiers.
func TestSyntaxTree(t *testing.T) {
	p := mustParse(t, "([aaa:xxx = 1] WITHIN 5 SECONDS) WITHIN 6 SECONDS FOLLOWEDBY [bbb:xxx = 2 AND (bbb:yyy = 3 OR bbb:zzz = 4)] REPEATS 2 TIMES")
	root := p.Root
	if root.Kind != ObservationFollowedBy || len(root.Operands) != 2 {
		t.Fatalf("root: kind %d with %d operands, want FOLLOWEDBY of 2", root.Kind, len(root.Operands))
	}
	group := root.Operands[0]
	if group.Kind != ObservationGroup || len(group.Qualifiers) != 1 || group.Qualifiers[0].Seconds.Text != "6" || group.Offset != 0 {
		t.Errorf("first operand: %+v, want a group qualified WITHIN 6 SECONDS at offset 0", group)
	}
	if inner := group.Operands[0]; inner.Kind != ObservationSimple || inner.Qualifiers[0].Seconds.Text != "5" || inner.Offset != 1 {
		t.Errorf("group operand: %+v, want [aaa:xxx = 1] WITHIN 5 SECONDS at offset 1", inner)
	}
	second := root.Operands[1]
	if second.Kind != ObservationSimple || len(second.Qualifiers) != 1 || second.Qualifiers[0].Kind != QualifierRepeats || second.Qualifiers[0].Times != 2 {
		t.Errorf("second operand: %+v, want a simple observation REPEATS 2 TIMES", second)
	}
	expr := second.Expr
	if expr.Kind != ComparisonAnd || len(expr.Operands) != 2 || expr.Operands[1].Kind != ComparisonOr || len(expr.Operands[1].Operands) != 2 {
		t.Errorf("comparison expression: %+v, want AND of a test and an OR of two", expr)
	}
	q := mustParse(t, "[file:size = 1] START t'2016-01-01T00:00:00.500Z' STOP t'2016-01-02T00:00:00Z'").Root.Qualifiers[0]
	if q.Kind != QualifierStartStop || q.Start.Text != "2016-01-01T00:00:00.5Z" || q.Stop.Text != "2016-01-02T00:00:00Z" || q.Offset != 16 {
		t.Errorf("START/STOP qualifier: %+v", q)
	}
}

// TestKindNames checks the names of literal and qualifier kinds used in messages.
func TestKindNames(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{LiteralNone.String(), "none"},
		{LiteralString.String(), "string"},
		{LiteralInt.String(), "int"},
		{LiteralFloat.String(), "float"},
		{LiteralBool.String(), "bool"},
		{LiteralTimestamp.String(), "timestamp"},
		{LiteralHex.String(), "hex"},
		{LiteralBinary.String(), "binary"},
		{LiteralSet.String(), "set"},
		{QualifierWithin.String(), "WITHIN"},
		{QualifierRepeats.String(), "REPEATS"},
		{QualifierStartStop.String(), "START/STOP"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// mustParse parses s or fails the test.
func mustParse(t *testing.T, s string) *Pattern {
	t.Helper()
	p, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return p
}
