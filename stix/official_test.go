package stix

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/tocsin-project/tocsin/stixschemas"
)

// notInBundleSchema are the types that the official bundle.json wrongly
// refuses (see shared/stix/README.md), and custom types.
var notInBundleSchema = setOf("grouping", "incident", "location", "note", "opinion", "extension-definition")

// TestSchemaStepAgreesWithBundleSchema holds the schema step (fast path and
// per-type schemas) to an independent verdict: the official bundle.json, on
// every bundle it can judge (no type it wrongly refuses, no custom type),
// except the two large threat reports, too slow for it under -race (the fast
// path's verdicts on their objects are checked by
// TestFastPathDecidesTheExamples).
func TestSchemaStepAgreesWithBundleSchema(t *testing.T) {
	v := validator(t)
	reg, err := newRegistry(stixschemas.FS())
	if err != nil {
		t.Fatal(err)
	}
	bundleSchema, err := reg.compiler.Compile(commonID(reg.docs, "bundle.json"))
	if err != nil {
		t.Fatal(err)
	}
	examples := exampleFiles(t)
	valid, _ := filepath.Glob("testdata/valid/*.json")
	invalid, _ := filepath.Glob("testdata/invalid/*.json")
	judged := 0
	for _, f := range slices.Concat(examples, valid, invalid) {
		data := readFile(t, f)
		doc, err := decode(data, DefaultMaxDepth)
		if err != nil {
			continue
		}
		r, err := v.ValidateBundle(data)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(f) == filepath.Join(examplesDir, "threat-reports") || !judgeable(v, doc) || slices.ContainsFunc(r.Problems, func(p Problem) bool { return p.Code == CodeInvalidBundle || p.Code == CodeCustomContent }) {
			continue
		}
		judged++
		official := bundleSchema.Validate(doc) == nil
		ours := !slices.ContainsFunc(r.Problems, func(p Problem) bool { return p.Code == CodeSchema })
		if official != ours {
			t.Errorf("%s: bundle.json says valid=%v, the schema step says valid=%v: %+v", f, official, ours, r.Problems)
		}
	}
	t.Logf("%d bundles judged by bundle.json", judged)
	if judged < 40 {
		t.Errorf("only %d bundles judged", judged)
	}
}

// judgeable reports whether bundle.json can judge a decoded bundle.
func judgeable(v *Validator, doc any) bool {
	b, _ := doc.(map[string]any)
	objs, ok := b["objects"].([]any)
	if !ok || len(objs) == 0 {
		return false
	}
	for _, o := range objs {
		m, _ := o.(map[string]any)
		typ, _ := m["type"].(string)
		if _, known := v.schemas.byType[typ]; !known || notInBundleSchema[typ] {
			return false
		}
	}
	return true
}
