package pattern

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics, that every failure is an
// *Error pointing into the input, and that the canonical form of a parsed
// pattern parses to the same canonical form and the same comparisons.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"[ipv4-addr:value = '198.51.100.1']",
		"[file:hashes.'SHA-256' = '" + sha256Hex + "']",
		"([aaa:xxx = 1] OR [bbb:xxx = 2]) AND [ccc:xxx = 3] WITHIN 5 SECONDS",
		"[email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\\\.exe$']",
		"[file:xxx IN (true, 1.5, 't', t'2016-01-01T00:00:00Z', h'00', b'AAAA')] REPEATS 2 TIMES",
		"([aaa:xxx = 1] WITHIN 2 SECONDS) WITHIN 3 SECONDS FOLLOWEDBY [NOT EXISTS x-acme:yyy[-1]]",
		"[file:size = 1] START t'2016-06-01T01:30:00.123Z' STOP t'2016-06-01T02:20:00.123Z'",
		"[x-acme-widget:labels.'it\\'s' /* c */ <> -0.0] // end",
		"[x-custom:'bad-Name' = 'a'] OR [x-custom:x_acme_score = 1]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Offset < 0 || e.Offset > len(s) || e.Msg == "" {
				t.Fatalf("Parse(%q) error %#v is not an *Error within the input", s, err)
			}
			return
		}
		canon := p.String()
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q) succeeded but its canonical form %q fails: %v", s, canon, err)
		}
		if got := again.String(); got != canon {
			t.Fatalf("canonical form of %q is not stable: %q, then %q", s, canon, got)
		}
		if a, b := len(p.Comparisons()), len(again.Comparisons()); a != b {
			t.Fatalf("%q has %d comparisons, its canonical form %q has %d", s, a, canon, b)
		}
		checkPathShortcut(t, s, p)
	})
}

// checkPathShortcut checks that taking canonical object paths straight from
// the source gives the same comparisons as formatting every path.
func checkPathShortcut(t *testing.T, s string, p *Pattern) {
	t.Helper()
	slow, err := parse(s, true)
	if err != nil {
		t.Fatalf("parse(%q) with formatted paths: %v", s, err)
	}
	if got, want := p.Comparisons(), slow.Comparisons(); !reflect.DeepEqual(got, want) {
		t.Fatalf("comparisons of %q with paths from the source:\n%#v\nwith formatted paths:\n%#v", s, got, want)
	}
}
