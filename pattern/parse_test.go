package pattern

import (
	"errors"
	"strings"
	"testing"
)

const sha256Hex = "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c"

// TestParseAccepts covers every rule of the grammar with input that must
// parse, and the canonical form each must print.
func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		// observation expressions and their operators
		{"simple", "[ipv4-addr:value = '198.51.100.1']", "[ipv4-addr:value = '198.51.100.1']"},
		{"and observations", "[bbb:xxx = 2] AND [aaa:xxx = 1]", "[aaa:xxx = 1] AND [bbb:xxx = 2]"},
		{"or observations", "[bbb:xxx = 2] OR [aaa:xxx = 1]", "[aaa:xxx = 1] OR [bbb:xxx = 2]"},
		{"followedby keeps order", "[bbb:xxx = 2] FOLLOWEDBY [aaa:xxx = 1]", "[bbb:xxx = 2] FOLLOWEDBY [aaa:xxx = 1]"},
		{"and binds tighter than or", "[ccc:xxx = 3] AND [bbb:xxx = 2] OR [aaa:xxx = 1]", "[aaa:xxx = 1] OR [bbb:xxx = 2] AND [ccc:xxx = 3]"},
		{"or binds tighter than followedby", "[aaa:xxx = 1] OR [bbb:xxx = 2] FOLLOWEDBY [ccc:xxx = 3]", "[aaa:xxx = 1] OR [bbb:xxx = 2] FOLLOWEDBY [ccc:xxx = 3]"},
		{"parentheses override precedence", "([aaa:xxx = 1] OR [bbb:xxx = 2]) AND [ccc:xxx = 3]", "([aaa:xxx = 1] OR [bbb:xxx = 2]) AND [ccc:xxx = 3]"},
		{"followedby inside or", "[ccc:xxx = 3] OR ([aaa:xxx = 1] FOLLOWEDBY [bbb:xxx = 2])", "([aaa:xxx = 1] FOLLOWEDBY [bbb:xxx = 2]) OR [ccc:xxx = 3]"},
		{"redundant parentheses dropped", "(([aaa:xxx = 1]))", "[aaa:xxx = 1]"},
		{"or chains flatten", "[ccc:xxx = 3] OR ([bbb:xxx = 2] OR [aaa:xxx = 1])", "[aaa:xxx = 1] OR [bbb:xxx = 2] OR [ccc:xxx = 3]"},
		{"followedby left chain flattens", "([aaa:xxx = 1] FOLLOWEDBY [bbb:xxx = 2]) FOLLOWEDBY [ccc:xxx = 3]", "[aaa:xxx = 1] FOLLOWEDBY [bbb:xxx = 2] FOLLOWEDBY [ccc:xxx = 3]"},
		{"followedby right nesting kept", "[aaa:xxx = 1] FOLLOWEDBY ([bbb:xxx = 2] FOLLOWEDBY [ccc:xxx = 3])", "[aaa:xxx = 1] FOLLOWEDBY ([bbb:xxx = 2] FOLLOWEDBY [ccc:xxx = 3])"},
		{"no space around brackets", "[aaa:xxx=1]AND[bbb:xxx=2]", "[aaa:xxx = 1] AND [bbb:xxx = 2]"},

		// comparison expressions
		{"and comparisons", "[file:size = 1 AND file:name = 'a']", "[file:name = 'a' AND file:size = 1]"},
		{"or comparisons", "[file:size = 1 OR file:name = 'a']", "[file:name = 'a' OR file:size = 1]"},
		{"comparison and binds tighter", "[file:xxx = 2 AND file:size = 1 OR file:name = 'a']", "[file:name = 'a' OR file:size = 1 AND file:xxx = 2]"},
		{"comparison parentheses", "[(file:name = 'a' OR file:size = 1) AND file:xxx = 2]", "[(file:name = 'a' OR file:size = 1) AND file:xxx = 2]"},
		{"comparison redundant parentheses", "[((file:name = 'a'))]", "[file:name = 'a']"},
		{"mixed object types", "[network-traffic:src_port = 37020 AND user-account:user_id = 'root']", "[network-traffic:src_port = 37020 AND user-account:user_id = 'root']"},

		// operators
		{"equal", "[file:size = 1]", "[file:size = 1]"},
		{"double equal", "[file:size == 1]", "[file:size = 1]"},
		{"not equal", "[file:size != 1]", "[file:size != 1]"},
		{"angle not equal", "[file:size <> 1]", "[file:size != 1]"},
		{"greater", "[file:size > 1]", "[file:size > 1]"},
		{"less", "[file:size < 1]", "[file:size < 1]"},
		{"greater or equal", "[file:size >= 1]", "[file:size >= 1]"},
		{"less or equal", "[file:size <= 1]", "[file:size <= 1]"},
		{"in", "[file:name IN ('b', 'a')]", "[file:name IN ('a', 'b')]"},
		{"like", "[file:name LIKE 'name%']", "[file:name LIKE 'name%']"},
		{"matches", `[file:name MATCHES '^Final Report.+\\.exe$']`, `[file:name MATCHES '^Final Report.+\\.exe$']`},
		{"issubset", "[ipv4-addr:value ISSUBSET '198.51.100.0/24']", "[ipv4-addr:value ISSUBSET '198.51.100.0/24']"},
		{"issuperset", "[ipv6-addr:value ISSUPERSET '2001:db8::1']", "[ipv6-addr:value ISSUPERSET '2001:db8::1']"},
		{"exists", "[EXISTS file:name]", "[EXISTS file:name]"},
		{"not exists", "[NOT EXISTS file:name]", "[NOT EXISTS file:name]"},
		{"not equal by not", "[file:name NOT = 'a']", "[file:name NOT = 'a']"},
		{"not order", "[file:size NOT > 5]", "[file:size NOT > 5]"},
		{"not in", "[file:name NOT IN ('a')]", "[file:name NOT IN ('a')]"},
		{"not like", "[file:name NOT LIKE 'a%']", "[file:name NOT LIKE 'a%']"},
		{"not matches", "[file:name NOT MATCHES 'a+']", "[file:name NOT MATCHES 'a+']"},
		{"not issubset", "[ipv4-addr:value NOT ISSUBSET '10.0.0.0/8']", "[ipv4-addr:value NOT ISSUBSET '10.0.0.0/8']"},
		{"not issuperset", "[ipv4-addr:value NOT ISSUPERSET '10.0.0.1']", "[ipv4-addr:value NOT ISSUPERSET '10.0.0.1']"},

		// object paths
		{"custom type", "[x-acme-widget:colour = 'red']", "[x-acme-widget:colour = 'red']"},
		{"type with digits", "[ipv4-addr:value = '10.0.0.1']", "[ipv4-addr:value = '10.0.0.1']"},
		{"dotted path", "[file:parent_directory_ref.path = 'C:\\\\Windows']", "[file:parent_directory_ref.path = 'C:\\\\Windows']"},
		{"quoted key", "[file:hashes.'SHA-256' = '" + sha256Hex + "']", "[file:hashes.'SHA-256' = '" + sha256Hex + "']"},
		{"needless quotes dropped", "[file:'name' = 'a']", "[file:name = 'a']"},
		{"quoted keyword key", "[x-acme-widget:labels.'AND' = 1]", "[x-acme-widget:labels.'AND' = 1]"},
		{"quoted key with escapes", `[x-acme-widget:labels.'it\'s' = 1]`, `[x-acme-widget:labels.'it\'s' = 1]`},
		{"empty quoted key", "[x-acme-widget:labels.'' = 1]", "[x-acme-widget:labels.'' = 1]"},
		{"custom property name", "[x-acme-widget:x_acme_score_2 = 1]", "[x-acme-widget:x_acme_score_2 = 1]"},
		{"property name of 250 characters", "[x-acme-widget:" + strings.Repeat("a", 250) + " = 1]", "[x-acme-widget:" + strings.Repeat("a", 250) + " = 1]"},
		{"the id property", "[file:id = 'file--0f1e2d3c-4b5a-4968-8776-655443322110']", "[file:id = 'file--0f1e2d3c-4b5a-4968-8776-655443322110']"},
		{"later steps are keys", "[windows-registry-key:values[*].name = 'Run' AND file:hashes.'SHA-1' = '" + strings.Repeat("a", 40) + "']", "[file:hashes.'SHA-1' = '" + strings.Repeat("a", 40) + "' AND windows-registry-key:values[*].name = 'Run']"},
		{"extension path", "[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]", "[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]"},
		{"list index", "[email-message:body_multipart[0].body_raw_ref.name = 'a']", "[email-message:body_multipart[0].body_raw_ref.name = 'a']"},
		{"negative index", "[x-acme-widget:parts[-1] = 'a']", "[x-acme-widget:parts[-1] = 'a']"},
		{"plus index", "[x-acme-widget:parts[+1] = 'a']", "[x-acme-widget:parts[1] = 'a']"},
		{"spaced path", "[x-acme-widget : parts [ 0 ] . 'name' = 'a']", "[x-acme-widget:parts[0].name = 'a']"},
		{"keyword-like lowercase key", "[network-traffic:start = t'2018-04-20T12:36:24.558Z']", "[network-traffic:start = t'2018-04-20T12:36:24.558Z']"},

		// literals
		{"string escapes", `[file:name = 'it\'s a \\ b']`, `[file:name = 'it\'s a \\ b']`},
		{"string with newline", "[file:name = 'a\nb']", "[file:name = 'a\nb']"},
		{"string non-ascii", "[file:name = 'résumé']", "[file:name = 'résumé']"},
		{"empty string", "[file:name = '']", "[file:name = '']"},
		{"int zero", "[file:size = 0]", "[file:size = 0]"},
		{"int plus", "[file:size = +42]", "[file:size = 42]"},
		{"int negative", "[file:size = -42]", "[file:size = -42]"},
		{"int negative zero", "[file:size = -0]", "[file:size = 0]"},
		{"float", "[file:size = 1.5]", "[file:size = 1.5]"},
		{"float no whole part", "[file:size = .5]", "[file:size = 0.5]"},
		{"float spelled long", "[file:size = +007.500]", "[file:size = 7.5]"},
		{"float negative", "[file:size = -.25]", "[file:size = -0.25]"},
		{"float negative zero", "[file:size = -0.0]", "[file:size = 0.0]"},
		{"bool true", "[file:is_encrypted = true]", "[file:is_encrypted = true]"},
		{"bool false", "[file:is_encrypted != false]", "[file:is_encrypted != false]"},
		{"timestamp", "[file:created = t'2016-06-01T01:30:00Z']", "[file:created = t'2016-06-01T01:30:00Z']"},
		{"timestamp fraction", "[file:created = t'2016-06-01T01:30:00.1230Z']", "[file:created = t'2016-06-01T01:30:00.123Z']"},
		{"timestamp zero fraction", "[file:created = t'2016-06-01T01:30:00.000Z']", "[file:created = t'2016-06-01T01:30:00Z']"},
		{"timestamp leap day", "[file:created = t'2016-02-29T00:00:00Z']", "[file:created = t'2016-02-29T00:00:00Z']"},
		{"timestamp leap day 2000", "[file:created = t'2000-02-29T00:00:00Z']", "[file:created = t'2000-02-29T00:00:00Z']"},
		{"timestamp leap second", "[file:created = t'2016-12-31T23:59:60Z']", "[file:created = t'2016-12-31T23:59:60Z']"},
		{"timestamp ordered", "[file:created > t'2016-01-01T00:00:00Z']", "[file:created > t'2016-01-01T00:00:00Z']"},
		{"hex", "[artifact:payload_bin = h'DEADbeef']", "[artifact:payload_bin = h'deadbeef']"},
		{"hex empty", "[artifact:payload_bin = h'']", "[artifact:payload_bin = h'']"},
		{"binary", "[artifact:payload_bin = b'dGhpcyBpcyBhIHRlc3Q=']", "[artifact:payload_bin = b'dGhpcyBpcyBhIHRlc3Q=']"},
		{"binary no padding", "[artifact:payload_bin = b'YWJj']", "[artifact:payload_bin = b'YWJj']"},
		{"binary double padding", "[artifact:payload_bin = b'YQ==']", "[artifact:payload_bin = b'YQ==']"},
		{"binary plus slash", "[artifact:payload_bin = b'+/+/']", "[artifact:payload_bin = b'+/+/']"},
		{"empty set", "[file:name IN ()]", "[file:name IN ()]"},
		{"set of one", "[file:name IN ('a')]", "[file:name IN ('a')]"},
		{"set repeats dropped", "[file:size IN (3, 1, 3, 2)]", "[file:size IN (1, 2, 3)]"},
		{"set of mixed literals", "[file:xxx IN (true, 1.5, 't', t'2016-01-01T00:00:00Z', h'00', b'AAAA')]", "[file:xxx IN ('t', 1.5, b'AAAA', h'00', t'2016-01-01T00:00:00Z', true)]"},
		{"set without spaces", "[file:size IN(443,6443,8443)]", "[file:size IN (443, 6443, 8443)]"},

		// qualifiers
		{"within int", "[file:size = 1] WITHIN 5 SECONDS", "[file:size = 1] WITHIN 5 SECONDS"},
		{"within float", "[file:size = 1] WITHIN .5 SECONDS", "[file:size = 1] WITHIN 0.5 SECONDS"},
		{"within plus", "[file:size = 1] WITHIN +5 SECONDS", "[file:size = 1] WITHIN 5 SECONDS"},
		{"repeats", "[file:size = 1] REPEATS 9 TIMES", "[file:size = 1] REPEATS 9 TIMES"},
		{"start stop", "[file:size = 1] START t'2016-06-01T01:30:00.123Z' STOP t'2016-06-01T02:20:00.123Z'", "[file:size = 1] START t'2016-06-01T01:30:00.123Z' STOP t'2016-06-01T02:20:00.123Z'"},
		{"start stop by fraction", "[file:size = 1] START t'2016-06-01T01:30:00Z' STOP t'2016-06-01T01:30:00.001Z'", "[file:size = 1] START t'2016-06-01T01:30:00Z' STOP t'2016-06-01T01:30:00.001Z'"},
		{"one of each qualifier", "[file:size = 1] REPEATS 5 TIMES WITHIN 1800 SECONDS START t'2016-01-01T00:00:00Z' STOP t'2017-01-01T00:00:00Z'", "[file:size = 1] REPEATS 5 TIMES WITHIN 1800 SECONDS START t'2016-01-01T00:00:00Z' STOP t'2017-01-01T00:00:00Z'"},
		{"qualifier binds to the last operand", "[aaa:xxx = 1] AND [bbb:xxx = 2] WITHIN 5 SECONDS", "[aaa:xxx = 1] AND [bbb:xxx = 2] WITHIN 5 SECONDS"},
		{"qualifier on a group", "([aaa:xxx = 1] AND [bbb:xxx = 2]) WITHIN 5 SECONDS", "([aaa:xxx = 1] AND [bbb:xxx = 2]) WITHIN 5 SECONDS"},
		{"qualifier on parenthesised simple", "([aaa:xxx = 1]) WITHIN 5 SECONDS", "[aaa:xxx = 1] WITHIN 5 SECONDS"},
		{"different kinds merge", "([aaa:xxx = 1] WITHIN 2 SECONDS) REPEATS 3 TIMES", "[aaa:xxx = 1] WITHIN 2 SECONDS REPEATS 3 TIMES"},
		{"same kind on nested groups", "([aaa:xxx = 1] REPEATS 2 TIMES) REPEATS 3 TIMES", "([aaa:xxx = 1] REPEATS 2 TIMES) REPEATS 3 TIMES"},
		{"same kind on nested op groups", "(([aaa:xxx = 1] OR [bbb:xxx = 1]) WITHIN 2 SECONDS) WITHIN 3 SECONDS", "(([aaa:xxx = 1] OR [bbb:xxx = 1]) WITHIN 2 SECONDS) WITHIN 3 SECONDS"},
		{"qualified operands do not flatten", "[aaa:xxx = 1] OR ([bbb:xxx = 2] OR [ccc:xxx = 3]) WITHIN 5 SECONDS", "([bbb:xxx = 2] OR [ccc:xxx = 3]) WITHIN 5 SECONDS OR [aaa:xxx = 1]"},
		{"followedby with within", "[ipv4-addr:value = '198.51.100.1'] FOLLOWEDBY [domain-name:value = 'example.com'] WITHIN 300 SECONDS", "[ipv4-addr:value = '198.51.100.1'] FOLLOWEDBY [domain-name:value = 'example.com'] WITHIN 300 SECONDS"},
		{"number touching keyword", "[file:size = 1] WITHIN 5SECONDS", "[file:size = 1] WITHIN 5 SECONDS"},

		// whitespace and comments
		{"spaces everywhere", " ( [ file:size  =\t1 ] )\n", "[file:size = 1]"},
		{"unicode spaces", "\u00a0[file:size\u2003=\u30001]\u2029", "[file:size = 1]"},
		{"block comment", "[file:size /* the size */ = 1]", "[file:size = 1]"},
		{"line comment", "[file:size = 1] // trailing\n", "[file:size = 1]"},
		{"line comment at end", "[file:size = 1] // trailing", "[file:size = 1]"},
		{"line comment ended by CR", "[ipv4-addr:value = '192.0.2.77'] // ref\r OR [domain-name:value = 'c2.evil.example']", "[domain-name:value = 'c2.evil.example'] OR [ipv4-addr:value = '192.0.2.77']"},
		{"line comment ended by CRLF", "[file:size = 1] // a\r\nAND [file:size = 2]", "[file:size = 1] AND [file:size = 2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got := p.String(); got != tt.want {
				t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
			}
			checkPathShortcut(t, tt.in, p)
		})
	}
}

// TestParseRejects covers every rule with input that must fail, and the
// code, offset and message of the failure.
func TestParseRejects(t *testing.T) {
	tests := []struct {
		name, in string
		code     string
		offset   int
		msg      string
	}{
		// structure
		{"empty", "", CodeInvalidPattern, 0, "pattern is empty"},
		{"only spaces", "  \n ", CodeInvalidPattern, 0, "pattern is empty"},
		{"only a comment", "/* */", CodeInvalidPattern, 0, "pattern is empty"},
		{"no brackets", "file:size = 1280", CodeInvalidPattern, 0, "expected '[' or '(' to start an observation expression, found 'file'"},
		{"unclosed bracket", "[file:name = 'a' AND file:size = 1", CodeInvalidPattern, 34, "expected ']' to close the observation expression opened at offset 0, found the end of the pattern"},
		{"unclosed parenthesis", "([file:name = 'a']", CodeInvalidPattern, 18, "expected ')' to close the parenthesis opened at offset 0"},
		{"unclosed comparison parenthesis", "[(file:name = 'a']", CodeInvalidPattern, 17, "expected ')' to close the parenthesis opened at offset 1, found ']'"},
		{"extra bracket", "[file:name = 'a']]", CodeInvalidPattern, 17, "unbalanced ']'"},
		{"extra parenthesis", "[file:name = 'a'])", CodeInvalidPattern, 17, "unbalanced ')'"},
		{"trailing garbage", "[file:name = 'a'] garbage", CodeInvalidPattern, 18, "expected AND, OR, FOLLOWEDBY, a qualifier (WITHIN, REPEATS, START) or the end of the pattern, found 'garbage'"},
		{"two observations without operator", "[file:name = 'a'] [file:name = 'b']", CodeInvalidPattern, 18, "found '['"},
		{"dangling observation operator", "[file:name = 'a'] AND", CodeInvalidPattern, 21, "expected '[' or '(' to start an observation expression, found the end of the pattern"},
		{"empty brackets", "[]", CodeInvalidPattern, 1, "expected an object path"},
		{"empty parentheses", "()", CodeInvalidPattern, 1, "expected '[' or '(' to start an observation expression, found ')'"},
		{"dangling comparison operator", "[file:name = 'a' OR]", CodeInvalidPattern, 19, "expected an object path"},
		{"not before observation", "NOT [file:name = 'a']", CodeInvalidPattern, 0, "found 'NOT'"},
		{"lowercase observation keyword", "[file:name = 'a'] and [file:name = 'b']", CodeInvalidPattern, 18, "'and' (keywords are case-sensitive: write AND)"},
		{"lowercase comparison keyword", "[file:name = 'a' or file:size = 1]", CodeInvalidPattern, 17, "'or' (keywords are case-sensitive: write OR)"},
		{"lowercase qualifier", "[foo:bar = 1] within 2 SECONDS", CodeInvalidPattern, 14, "'within' (keywords are case-sensitive: write WITHIN)"},
		{"unknown character", "[file:name = 'a'] ; ", CodeInvalidPattern, 18, "unexpected character ';'"},
		{"division sign", "[file:size = 1 / 2]", CodeInvalidPattern, 15, "unexpected character '/'"},
		{"unclosed comment", "[file:size = 1] /* never closed", CodeInvalidPattern, 16, "comment opened with /* is never closed"},
		{"stray bracket after a comment ended by CR", "[file:size = 1] // c\r]", CodeInvalidPattern, 21, "unbalanced ']'"},
		{"invalid utf-8", "[file:name = '\xff']", CodeInvalidPattern, 14, "not valid UTF-8"},
		{"non-ascii outside strings", "[file:name = 'a'] é", CodeInvalidPattern, 18, "unexpected character 'é'"},

		// comparisons and operators
		{"missing value", "[file:size = ]", CodeInvalidPattern, 13, "expected a literal after =, found ']'"},
		{"missing operator", "[file:size 1]", CodeInvalidPattern, 11, "expected a comparison operator"},
		{"unknown operator", "[file:hashes.MD5 =? 'cead3f77f6cda6ec00f57d76c9a6879f']", CodeInvalidPattern, 18, "unexpected character '?'"},
		{"unknown word operator", "[file:name CONTAINS 'a']", CodeInvalidPattern, 11, "expected a comparison operator (=, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET) after the object path, found 'CONTAINS'"},
		{"bang alone", "[file:name ! 'a']", CodeInvalidPattern, 11, "the not-equal operator is !="},
		{"lowercase in", "[file:name in ('a')]", CodeInvalidPattern, 11, "write IN"},
		{"unquoted string", "[file:hashes.MD5 = cead3f77f6cda6ec00f57d76c9a6879f]", CodeInvalidPattern, 19, "expected a literal after =, found 'cead3f77f6cda6ec00f57d76c9a6879f'"},
		{"regex in slashes", `[file:name MATCHES /.*\.dll/]`, CodeInvalidPattern, 19, "unexpected character '/'"},
		{"bool ordered", "[file:size > true]", CodeInvalidPattern, 13, "booleans have no order"},
		{"like takes strings", "[file:name LIKE 5]", CodeInvalidPattern, 16, "LIKE takes a string literal"},
		{"matches takes strings", "[file:name MATCHES h'00']", CodeInvalidPattern, 19, "MATCHES takes a string literal"},
		{"issubset takes strings", "[ipv4-addr:value ISSUBSET 5]", CodeInvalidPattern, 26, "ISSUBSET takes a string literal"},
		{"issuperset missing operand", "[network-traffic:dst_ref.value ISSUPERSET ]", CodeInvalidPattern, 42, "ISSUPERSET takes a string literal"},
		{"issubset not an address", "[ipv4-addr:value ISSUBSET 'example.com']", CodeInvalidPattern, 26, "the ISSUBSET operator takes an IPv4 or IPv6 address or CIDR block"},
		{"in without parentheses", "[file:name IN 'a']", CodeInvalidPattern, 14, "expected '(' to start the set of values after IN"},
		{"set without comma", "[file:name IN ('a' 'b')]", CodeInvalidPattern, 19, "expected ',' or ')' to close the set opened at offset 14"},
		{"set trailing comma", "[file:name IN ('a',)]", CodeInvalidPattern, 19, "expected a literal in the set, found ')'"},
		{"set unclosed", "[file:name IN ('a']", CodeInvalidPattern, 18, "expected ',' or ')' to close the set"},
		{"not after operator", "[file:name = NOT 'a']", CodeInvalidPattern, 13, "expected a literal after =, found 'NOT'"},
		{"not without exists", "[NOT file:name = 'a']", CodeInvalidPattern, 5, "expected EXISTS after NOT at the start of a comparison"},
		{"double not", "[file:name NOT NOT = 'a']", CodeInvalidPattern, 15, "expected a comparison operator"},
		{"exists with value", "[EXISTS file:name = 'a']", CodeInvalidPattern, 18, "expected ']'"},
		{"exists without path", "[EXISTS]", CodeInvalidPattern, 7, "expected an object path"},

		// regular expressions
		{"invalid regex", "[file:name MATCHES '(']", CodeInvalidPattern, 19, "the MATCHES operator takes a regular expression, and '(' is not one: missing closing ) '('"},
		{"invalid regex class", "[file:name MATCHES '[a-']", CodeInvalidPattern, 19, "is not one"},
		{"invalid regex repeat", "[file:name MATCHES 'a**']", CodeInvalidPattern, 19, "is not one"},
		{"invalid regex range", "[file:name MATCHES 'x{2,1}']", CodeInvalidPattern, 19, "is not one"},
		{"invalid regex escape", `[file:name MATCHES '\\y']`, CodeInvalidPattern, 19, "is not one"},

		// object paths
		{"period instead of colon", "[file.size = 1280]", CodeInvalidPattern, 5, "expected ':' after the object type 'file'"},
		{"uppercase type", "[File:name = 'a']", CodeInvalidPattern, 1, "object type 'File' is not a STIX type name"},
		{"underscore type", "[x_whatever:name = 'a']", CodeInvalidPattern, 1, "is not a STIX type name"},
		{"short type", "[ab:name = 'a']", CodeInvalidPattern, 1, "is not a STIX type name"},
		{"double hyphen type", "[x--acme:name = 'a']", CodeInvalidPattern, 1, "is not a STIX type name"},
		{"keyword type", "[AND:name = 'a']", CodeInvalidPattern, 1, "'AND' is a keyword, not an object type"},
		// property names (STIX 2.1 sections 3.1 and 11.1): the first step of a path
		{"uppercase property name", "[x-acme-widget:Colour = 'red']", CodeInvalidPattern, 15, "property name 'Colour' breaks the STIX 2.1 naming rules"},
		{"hyphen in a quoted property name", "[x-custom:'some-name' = 'a']", CodeInvalidPattern, 10, "property name 'some-name' breaks the STIX 2.1 naming rules"},
		{"uppercase and hyphen", "[x-custom:'bad-Name' = 'a']", CodeInvalidPattern, 10, "use 3 to 250 lowercase letters, digits and underscores"},
		{"property name too short", "[file:ab = 1]", CodeInvalidPattern, 6, "property name 'ab' breaks"},
		{"property name too long", "[x-acme-widget:" + strings.Repeat("a", 251) + " = 1]", CodeInvalidPattern, 15, "breaks the STIX 2.1 naming rules"},
		{"empty property name", "[x-acme-widget:'' = 1]", CodeInvalidPattern, 15, "property name '' breaks"},
		{"quoted keyword property name", "[x-acme-widget:'AND' = 1]", CodeInvalidPattern, 15, "property name 'AND' breaks"},
		{"non-ASCII property name", "[x-acme-widget:'colouré' = 1]", CodeInvalidPattern, 15, "breaks the STIX 2.1 naming rules"},
		{"property name in a later comparison", "[file:name = 'a' OR file:Size = 1]", CodeInvalidPattern, 25, "property name 'Size'"},
		{"quoted type", "['file':name = 'a']", CodeInvalidPattern, 1, "expected an object path"},
		{"type without property", "[file = 'a']", CodeInvalidPattern, 6, "expected ':' after the object type"},
		{"colon without property", "[file: = 'a']", CodeInvalidPattern, 7, "expected a property name"},
		{"hyphen in property", "[file:na-me = 'a']", CodeInvalidPattern, 6, "property name 'na-me' contains '-': quote it"},
		{"hyphen in later property", "[file:hashes.SHA-256 = 'a']", CodeInvalidPattern, 13, "property name 'SHA-256' contains '-'"},
		{"keyword property", "[file:name.IN = 'a']", CodeInvalidPattern, 11, "property name IN is a keyword: quote it as 'IN'"},
		{"bool property", "[file:true = 'a']", CodeInvalidPattern, 6, "true is a keyword"},
		{"dot without property", "[file:name. = 'a']", CodeInvalidPattern, 12, "expected a property name"},
		{"number as property", "[file:name.5 = 'a']", CodeInvalidPattern, 10, "expected a comparison operator"},
		{"index not a number", "[file:name[a] = 'a']", CodeInvalidPattern, 11, "expected a list index"},
		{"index float", "[file:name[1.5] = 'a']", CodeInvalidPattern, 11, "expected a list index"},
		{"index unclosed", "[file:name[1 = 'a']", CodeInvalidPattern, 13, "expected ']' to close the list index"},

		// literals
		{"unclosed string", "[file:name = 'a]", CodeInvalidPattern, 13, "string opened at offset 13 is never closed"},
		{"bad escape", `[file:name = 'a\nb']`, CodeInvalidPattern, 15, `invalid escape in string: only \' and \\ may follow a backslash`},
		{"escape at end", `[file:name = 'a\`, CodeInvalidPattern, 15, "invalid escape"},
		{"leading zero", "[file:size = 007]", CodeInvalidPattern, 13, "integer 007 has a leading zero"},
		{"negative leading zero", "[file:size = -01]", CodeInvalidPattern, 13, "integer -01 has a leading zero"},
		{"float without fraction", "[file:size = 5.]", CodeInvalidPattern, 15, "expected a digit after the '.'"},
		{"exponent", "[file:size = 1e5]", CodeInvalidPattern, 14, "expected ']'"},
		{"bare minus", "[file:size = -]", CodeInvalidPattern, 13, "expected a number after '-'"},
		{"bare plus", "[file:size = + 1]", CodeInvalidPattern, 13, "expected a number after '+'"},
		{"capital bool", "[file:xxx = True]", CodeInvalidPattern, 12, "write true"},
		{"timestamp day", "[file:created = t'2016-02-30T00:00:00Z']", CodeInvalidPattern, 16, "has day 30, which 2016-02 does not have"},
		{"timestamp not leap year", "[file:created = t'2015-02-29T00:00:00Z']", CodeInvalidPattern, 16, "has day 29"},
		{"timestamp not leap century", "[file:created = t'1900-02-29T00:00:00Z']", CodeInvalidPattern, 16, "has day 29"},
		{"timestamp day 31", "[file:created = t'2016-04-31T00:00:00Z']", CodeInvalidPattern, 16, "has day 31"},
		{"timestamp day zero", "[file:created = t'2016-04-00T00:00:00Z']", CodeInvalidPattern, 16, "has day 00"},
		{"timestamp month 13", "[file:created = t'2016-13-01T00:00:00Z']", CodeInvalidPattern, 16, "has month 13"},
		{"timestamp month zero", "[file:created = t'2016-00-01T00:00:00Z']", CodeInvalidPattern, 16, "has month 00"},
		{"timestamp hour", "[file:created = t'2016-01-01T24:00:00Z']", CodeInvalidPattern, 16, "has hour 24"},
		{"timestamp minute", "[file:created = t'2016-01-01T00:60:00Z']", CodeInvalidPattern, 16, "has minute 60"},
		{"timestamp second", "[file:created = t'2016-01-01T00:00:61Z']", CodeInvalidPattern, 16, "has second 61"},
		{"timestamp misplaced leap second", "[file:created = t'2016-01-01T00:00:60Z']", CodeInvalidPattern, 16, "has second 60"},
		{"timestamp without zone", "[file:created = t'2016-01-01T00:00:00']", CodeInvalidPattern, 16, "is malformed"},
		{"timestamp with offset", "[file:created = t'2016-01-01T00:00:00+01:00']", CodeInvalidPattern, 16, "is malformed"},
		{"timestamp lowercase t", "[file:created = t'2016-01-01t00:00:00Z']", CodeInvalidPattern, 16, "is malformed"},
		{"timestamp empty fraction", "[file:created = t'2016-01-01T00:00:00.Z']", CodeInvalidPattern, 16, "is malformed"},
		{"timestamp short", "[file:created = t'2016-1-1T00:00:00Z']", CodeInvalidPattern, 16, "is malformed"},
		{"timestamp garbage", "[x_whatever:detected == t'2457-73-22T32:81:84.1Z']", CodeInvalidPattern, 1, "is not a STIX type name"},
		{"timestamp impossible", "[x-whatever:detected == t'2457-73-22T32:81:84.1Z']", CodeInvalidPattern, 24, "has month 73"},
		{"timestamp unclosed", "[file:created = t'2016-01-01T00:00:00Z]", CodeInvalidPattern, 16, "timestamp literal opened at offset 16 is never closed"},
		{"timestamp as string", "[file:created = T'2016-01-01T00:00:00Z']", CodeInvalidPattern, 16, "expected a literal after =, found 'T'"},
		{"hex odd", "[artifact:payload_bin = h'abc']", CodeInvalidPattern, 24, "has an odd number of digits"},
		{"hex not hex", "[artifact:payload_bin = h'zz']", CodeInvalidPattern, 24, "contains 'z', which is not a hex digit"},
		{"binary padding only", "[artifact:payload_bin = b'====']", CodeInvalidPattern, 24, "is not base64"},
		{"binary empty", "[artifact:payload_bin = b'']", CodeInvalidPattern, 24, "is not base64"},
		{"binary length", "[artifact:payload_bin = b'abc']", CodeInvalidPattern, 24, "positive multiple of 4"},
		{"binary bad character", "[artifact:payload_bin = b'ab_d']", CodeInvalidPattern, 24, "contains '_'"},
		{"binary triple padding", "[artifact:payload_bin = b'a===']", CodeInvalidPattern, 24, "contains '='"},
		{"binary padding inside", "[artifact:payload_bin = b'a=bc']", CodeInvalidPattern, 24, "contains '='"},

		// qualifiers
		{"within zero", "[file:size = 1] WITHIN 0 SECONDS", CodeInvalidPattern, 23, "the WITHIN qualifier takes a positive number of seconds, found the number 0"},
		{"within zero float", "[file:size = 1] WITHIN 0.000 SECONDS", CodeInvalidPattern, 23, "the WITHIN qualifier takes a positive number"},
		{"within negative", "[file:size = 1] WITHIN -5 SECONDS", CodeInvalidPattern, 23, "the WITHIN qualifier takes a positive number"},
		{"within string", "[file:size = 1] WITHIN '5' SECONDS", CodeInvalidPattern, 23, "the WITHIN qualifier takes a positive number"},
		{"within missing value", "[file:size = 1] WITHIN ]", CodeInvalidPattern, 23, "the WITHIN qualifier takes a positive number"},
		{"within wrong unit", "[file:size = 1] WITHIN 5 HOURS", CodeInvalidPattern, 25, "expected SECONDS after the WITHIN duration (the only unit), found 'HOURS'"},
		{"within no unit", "[file:size = 1] WITHIN 5", CodeInvalidPattern, 24, "expected SECONDS"},
		{"repeats zero", "[file:size = 1] REPEATS 0 TIMES", CodeInvalidPattern, 24, "the REPEATS qualifier takes a positive whole number"},
		{"repeats negative", "[file:size = 1] REPEATS -2 TIMES", CodeInvalidPattern, 24, "the REPEATS qualifier takes a positive whole number"},
		{"repeats float", "[file:size = 1] REPEATS 2.5 TIMES", CodeInvalidPattern, 24, "the REPEATS qualifier takes a positive whole number"},
		{"repeats too large", "[file:size = 1] REPEATS 99999999999999999999 TIMES", CodeInvalidPattern, 24, "is too large"},
		{"repeats no unit", "[file:size = 1] REPEATS 2", CodeInvalidPattern, 25, "expected TIMES"},
		{"start without stop", "[file:size = 1] START t'2016-01-01T00:00:00Z'", CodeInvalidPattern, 45, "expected STOP after the START timestamp"},
		{"start with string", "[file:size = 1] START '2016-01-01T00:00:00Z' STOP t'2017-01-01T00:00:00Z'", CodeInvalidPattern, 22, "expected a timestamp"},
		{"stop with string", "[file:size = 1] START t'2016-01-01T00:00:00Z' STOP '2017-01-01T00:00:00Z'", CodeInvalidPattern, 51, "expected a timestamp"},
		{"stop alone", "[file:size = 1] STOP t'2016-01-01T00:00:00Z'", CodeInvalidPattern, 16, "found 'STOP'"},
		{"stop before start", "[file:size = 1] START t'2016-01-02T00:00:00Z' STOP t'2016-01-01T00:00:00Z'", CodeInvalidPattern, 51, "the STOP time t'2016-01-01T00:00:00Z' must be later than the START time t'2016-01-02T00:00:00Z'"},
		{"stop equals start", "[file:size = 1] START t'2016-01-01T00:00:00Z' STOP t'2016-01-01T00:00:00.000Z'", CodeInvalidPattern, 51, "must be later than the START time"},
		{"stop before start by fraction", "[file:size = 1] START t'2016-01-01T00:00:00.5Z' STOP t'2016-01-01T00:00:00.25Z'", CodeInvalidPattern, 53, "must be later than the START time"},
		{"repeated repeats", "[file:size = 1] REPEATS 2 TIMES REPEATS 3 TIMES", CodeInvalidPattern, 32, "second REPEATS qualifier on the same observation expression (the first is at offset 16)"},
		{"repeated within", "[file:size = 1] WITHIN 5 SECONDS WITHIN 6 SECONDS", CodeInvalidPattern, 33, "second WITHIN qualifier"},
		{"repeated start stop", "[file:size = 1] START t'2016-06-01T01:30:00Z' STOP t'2016-06-01T02:20:00Z' START t'2016-06-01T01:30:00Z' STOP t'2016-06-01T02:20:00Z'", CodeInvalidPattern, 75, "second START/STOP qualifier"},
		{"repeated within on a group", "([file:size = 1] OR [file:size = 2]) WITHIN 5 SECONDS WITHIN 6 SECONDS", CodeInvalidPattern, 54, "second WITHIN qualifier"},
		{"repeated in a group", "([file:size = 1] REPEATS 2 TIMES REPEATS 3 TIMES)", CodeInvalidPattern, 33, "second REPEATS qualifier"},
		{"qualifier inside brackets", "[file:size = 1 WITHIN 5 SECONDS]", CodeInvalidPattern, 15, "expected ']'"},
		{"qualifier first", "WITHIN 5 SECONDS [file:size = 1]", CodeInvalidPattern, 0, "expected '[' or '('"},

		// hashes
		{"sha-256 too short", "[file:hashes.'SHA-256' = 'f00']", CodeInvalidHash, 25, "hash value 'f00' has 3 hex digits: a SHA-256 hash is 64 hex digits"},
		{"md5 too long", "[file:hashes.MD5 = '" + sha256Hex + "']", CodeInvalidHash, 19, "a MD5 hash is 32 hex digits"},
		{"md5 lowercase name", "[file:hashes.md5 = '001dd76872d80801692ff942308c64e']", CodeInvalidHash, 19, "has 31 hex digits"},
		{"sha-1 not hex", "[file:hashes.'SHA-1' = 'g01dd76872d80801692ff942308c64e6a1b2c3d4']", CodeInvalidHash, 23, "contains 'g', which is not a hex digit: a SHA-1 hash is 40"},
		{"sha-512 wrong", "[file:hashes.'SHA-512' != '" + sha256Hex + "']", CodeInvalidHash, 26, "a SHA-512 hash is 128"},
		{"sha3-256 wrong", "[file:hashes.'SHA3-256' = 'abcd']", CodeInvalidHash, 26, "a SHA3-256 hash is 64"},
		{"sha3-512 wrong", "[file:hashes.'SHA3-512' = 'abcd']", CodeInvalidHash, 26, "a SHA3-512 hash is 128"},
		{"sha-224 wrong", "[file:hashes.'SHA-224' = 'abcd']", CodeInvalidHash, 25, "a SHA-224 hash is 56"},
		{"sha-384 wrong", "[file:hashes.'SHA-384' = 'abcd']", CodeInvalidHash, 25, "a SHA-384 hash is 96"},
		{"sha256 unhyphenated", "[file:hashes.SHA256 = 'abcd']", CodeInvalidHash, 22, "a SHA256 hash is 64"},
		{"hash in set", "[file:hashes.'SHA-256' IN ('" + sha256Hex + "', 'abcd')]", CodeInvalidHash, 95, "has 4 hex digits"},
		{"hash in nested path", "[file:extensions.'windows-pebinary-ext'.sections[*].hashes.'SHA-256' = 'abcd']", CodeInvalidHash, 71, "has 4 hex digits"},
		{"hash of certificate", "[x509-certificate:hashes.'SHA-1' = 'abcd']", CodeInvalidHash, 35, "a SHA-1 hash is 40"},

		// limits
		{"too long", "[file:name = '" + strings.Repeat("a", MaxLength) + "']", CodeInvalidPattern, MaxLength, "more than the 262144 allowed"},
		{"too deep observation", strings.Repeat("(", MaxDepth) + "[file:size = 1]" + strings.Repeat(")", MaxDepth), CodeInvalidPattern, MaxDepth, "nest more than 64 deep"},
		{"too deep comparison", "[" + strings.Repeat("(", MaxDepth) + "file:size = 1" + strings.Repeat(")", MaxDepth) + "]", CodeInvalidPattern, MaxDepth, "nest more than 64 deep"},
		{"hostile nesting", strings.Repeat("(", 100000), CodeInvalidPattern, MaxDepth, "nest more than 64 deep"},
		{"hostile brackets", strings.Repeat("[", 100000), CodeInvalidPattern, 1, "expected an object path"},
		{"hostile unclosed string", "[file:name = '" + strings.Repeat("\\'", 100000), CodeInvalidPattern, 13, "never closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want an error", clip(tt.in), p)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) error %T is not an *Error", clip(tt.in), err)
			}
			if e.Code != tt.code || e.Offset != tt.offset || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("Parse(%q) = %v (code %s), want code %s, offset %d, a message containing %q", clip(tt.in), err, e.Code, tt.code, tt.offset, tt.msg)
			}
			if strings.ToLower(e.Msg[:1]) != e.Msg[:1] {
				t.Errorf("message %q does not start in lower case", e.Msg)
			}
		})
	}
}

// TestDepthLimitBoundary checks that exactly MaxDepth levels still parse.
func TestDepthLimitBoundary(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"observation", strings.Repeat("(", MaxDepth-1) + "[file:size = 1]" + strings.Repeat(")", MaxDepth-1)},
		{"comparison", "[" + strings.Repeat("(", MaxDepth-1) + "file:size = 1" + strings.Repeat(")", MaxDepth-1) + "]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse at depth %d: %v", MaxDepth, err)
			}
			if got := p.String(); got != "[file:size = 1]" {
				t.Errorf("String() = %q, want [file:size = 1]", got)
			}
		})
	}
}

// TestLongPattern checks that a valid pattern close to MaxLength parses
// (quickly: the parser is linear), and that a long flat chain stays flat.
func TestLongPattern(t *testing.T) {
	one := "[ipv4-addr:value = '198.51.100.1'] OR "
	n := (MaxLength - 100) / len(one)
	in := strings.Repeat(one, n) + "[ipv4-addr:value = '198.51.100.2']"
	p, err := Parse(in)
	if err != nil {
		t.Fatalf("Parse of a %d-byte pattern: %v", len(in), err)
	}
	if p.Root.Kind != ObservationOr || len(p.Root.Operands) != n+1 {
		t.Errorf("root is kind %d with %d operands, want an OR of %d", p.Root.Kind, len(p.Root.Operands), n+1)
	}
	if got := len(p.Comparisons()); got != n+1 {
		t.Errorf("Comparisons() has %d entries, want %d", got, n+1)
	}
}
