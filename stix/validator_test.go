package stix

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/pattern"
	"github.com/tocsin-project/tocsin/stixschemas"
	"github.com/tocsin-project/tocsin/tlp"
)

// TestOptions: each option changes the verdict on the same bundles.
func TestOptions(t *testing.T) {
	indicator := readFile(t, "testdata/valid/unmarked_indicator-malware-relationship.json")
	custom := readFile(t, "testdata/valid/unmarked_custom-object-and-property.json")
	sigma := readFile(t, "testdata/invalid/unsupported-pattern-type_sigma.json")
	badPattern := readFile(t, "testdata/invalid/invalid-pattern_unclosed-bracket.json")
	badHash := readFile(t, "testdata/invalid/invalid-hash_short-sha256.json")
	tests := []struct {
		name string
		opts Options
		data []byte
		want string // codes, "" for valid
	}{
		{"defaults", Options{}, indicator, ""},
		{"bundle over MaxBundleBytes", Options{MaxBundleBytes: len(indicator) - 1}, indicator, CodeOversized},
		{"bundle at MaxBundleBytes", Options{MaxBundleBytes: len(indicator)}, indicator, ""},
		{"over MaxObjects", Options{MaxObjects: 3}, indicator, CodeOversized},
		{"at MaxObjects", Options{MaxObjects: 4}, indicator, ""},
		{"over MaxDepth", Options{MaxDepth: 3}, indicator, CodeOversized},
		{"custom content allowed by default", Options{}, custom, ""},
		{"custom content refused", Options{Custom: CustomReject}, custom, CodeCustomContent},
		{"patterns skipped", Options{PatternCheck: func(string) error { return nil }}, badPattern, ""},
		{"default pattern check", Options{}, badPattern, CodeInvalidPattern},
		{"default hash check", Options{}, badHash, CodeInvalidHash},
		{"pattern check fails", Options{PatternCheck: func(p string) error { return fmt.Errorf("cannot parse %q", p) }}, indicator, CodeInvalidPattern},
		{"pattern check with a hash code", Options{PatternCheck: func(string) error {
			return fmt.Errorf("hook: %w", &pattern.Error{Code: pattern.CodeInvalidHash, Msg: "short"})
		}}, indicator, CodeInvalidHash},
		{"other pattern type refused", Options{}, sigma, CodeUnsupportedPatternType},
		{"other pattern type allowed", Options{PatternTypes: []string{"sigma"}}, sigma, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			r, err := v.ValidateBundle(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if got := problemCodes(r.Problems); got != tt.want {
				t.Errorf("codes %q; want %q: %+v", got, tt.want, r.Problems)
			}
		})
	}
}

// With the default pattern check, each STIX pattern comes back in the
// canonical form pattern.Parse prints (the router's dedupe key is made of
// them, so the pattern is parsed once); with a PatternCheck of the
// caller's, the validator has no parse to give.
func TestPatternsCarryTheirCanonicalForm(t *testing.T) {
	bundle := []byte(`{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[
		{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
		"created":"2026-11-24T02:14:00.000Z","modified":"2026-11-24T02:14:00.000Z","valid_from":"2026-11-24T02:14:00Z",
		"pattern":"[ ipv4-addr:value  =  '198.51.100.7' ]  OR [domain-name:value = 'c2.example']","pattern_type":"stix"}]}`)
	parsed, err := pattern.Parse("[ ipv4-addr:value  =  '198.51.100.7' ]  OR [domain-name:value = 'c2.example']")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		opts Options
		want string
	}{
		{"default check", Options{}, parsed.String()},
		{"caller's check", Options{PatternCheck: func(string) error { return nil }}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			r, err := v.ValidateBundle(bundle)
			if err != nil || !r.Valid() {
				t.Fatalf("%v %+v", err, r.Problems)
			}
			if len(r.Patterns) != 1 || r.Patterns[0].Canonical != tt.want {
				t.Fatalf("patterns %+v; want one with Canonical %q", r.Patterns, tt.want)
			}
		})
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, opts := range []Options{{MaxBundleBytes: -1}, {MaxObjects: -5}, {MaxDepth: -1}, {MaxDepth: 2}, {Custom: CustomReject + 1}} {
		if _, err := New(opts); err == nil {
			t.Errorf("New(%+v) accepted impossible options", opts)
		}
	}
}

// TestResult checks what a valid bundle reports besides its verdict.
func TestResult(t *testing.T) {
	v := validator(t)
	r, err := v.ValidateBundle(readFile(t, "testdata/valid/amber_statement-and-tlp-markings.json"))
	if err != nil || !r.Valid() {
		t.Fatal(err, r.Problems)
	}
	if len(r.Objects) != 3 || r.Objects[1].Type != "malware" || r.Objects[1].SpecVersion != "2.1" || r.Objects[1].Index != 1 ||
		strings.Join(r.Objects[1].ObjectMarkingRefs, ",") != "marking-definition--a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d,"+tlp.MarkingV1Amber {
		t.Errorf("objects: %+v", r.Objects)
	}
	if r.TLP != tlp.Amber || !r.TLPMarked {
		t.Errorf("TLP %v marked %v", r.TLP, r.TLPMarked)
	}

	r, err = v.ValidateBundle(readFile(t, "testdata/valid/green_granular-marking.json"))
	if err != nil || !r.Valid() {
		t.Fatal(err, r.Problems)
	}
	want := Pattern{IndicatorID: "indicator--6f1a3c0e-2d4b-4e8f-9a1c-3b5d7e9f1a2c", Pattern: "[ipv4-addr:value = '198.51.100.7']", Type: "stix", Path: "/objects/0/pattern",
		Canonical: "[ipv4-addr:value = '198.51.100.7']"}
	if len(r.Patterns) != 1 || r.Patterns[0] != want {
		t.Errorf("patterns %+v; want %+v", r.Patterns, want)
	}
	gm := r.Objects[0].GranularMarkings
	if len(gm) != 1 || gm[0].MarkingRef != tlp.MarkingGreen || strings.Join(gm[0].Selectors, ",") != "pattern,name" {
		t.Errorf("granular markings %+v", gm)
	}
}

// TestCodesAreRejectionCodes keeps the reason codes in step with the wire
// enum, and Problem.Proto with them.
func TestCodesAreRejectionCodes(t *testing.T) {
	for code := range knownCodes {
		c, ok := codes.Parse(code)
		if !ok {
			t.Errorf("reason code %q is not a RejectionCode", code)
		}
		p := Problem{Code: code, ObjectID: "indicator--6f1a3c0e-2d4b-4e8f-9a1c-3b5d7e9f1a2c", Path: "/objects/0", Message: "m"}
		if w := p.Proto(); w.Code != c || w.ObjectId != p.ObjectID || w.Path != p.Path || w.Message != p.Message {
			t.Errorf("Proto() = %v", w)
		}
	}
}

// TestNotJSONOrNotABundle covers payloads that are no bundle at all.
func TestNotJSONOrNotABundle(t *testing.T) {
	v := validator(t)
	for _, in := range []string{``, `null`, `[]`, `"bundle"`, `{"type": "bundle"}`, `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e561","objects":{}}`} {
		r, err := v.ValidateBundle([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if r.Valid() || !strings.HasPrefix(problemCodes(r.Problems), CodeInvalidBundle) {
			t.Errorf("%q: codes %q", in, problemCodes(r.Problems))
		}
	}
}

func TestSchemasMissing(t *testing.T) {
	_, err := fromFS(Options{}, fstest.MapFS{".keep": {}})
	if !errors.Is(err, stixschemas.ErrSchemasMissing) {
		t.Fatalf("error %v; want one wrapping ErrSchemasMissing", err)
	}
}

// TestNothingIsFetched: a schema that refers to a URL outside the embedded
// set fails to compile instead of reaching for the network.
func TestNothingIsFetched(t *testing.T) {
	const base = "http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/"
	schema := func(id, ref string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte(`{"$id": "` + base + id + `", "$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": "` + ref + `"}`)}
	}
	_, err := fromFS(Options{}, fstest.MapFS{
		"common/core.json": schema("common/core.json", "../sdos/foo.json"),
		"sdos/foo.json":    schema("sdos/foo.json", "http://127.0.0.1:1/elsewhere.json"),
	})
	if err == nil || !strings.Contains(err.Error(), "nothing is fetched over the network") {
		t.Fatalf("error %v; want the offline loader's refusal", err)
	}
}

// fromFS builds a Validator from another schema tree.
func fromFS(opts Options, fsys fs.FS) (*Validator, error) {
	return build(opts, fsys, func() (*schemaSet, error) { return loadSchemas(fsys) })
}
