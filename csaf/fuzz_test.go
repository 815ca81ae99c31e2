package csaf

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzValidate: any input gives a report without panicking, and every
// problem names a test of Tests() (or the schema) or OptionalTests(), with
// its severity and a JSON pointer.
func FuzzValidate(f *testing.F) {
	for _, g := range []string{"csaf_2.0/test/validator/data/mandatory/*6-1-0*.json", "cisa-icsma/icsma-23-*.json"} {
		files, _ := filepath.Glob(filepath.Join("..", "csafschemas", "csaf", filepath.FromSlash(g)))
		for _, p := range files {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte(`{"document":{"tracking":{"revision_history":[{"number":"1.0.0-rc.1","date":"x"}],"version":"99999999999999999999"}},"product_tree":{"relationships":[{"full_product_name":{"product_id":"a"},"product_reference":"a","relates_to_product_reference":"a"}]}}`))
	ids := map[string]Severity{TestSchema: Error}
	for _, t := range Tests() {
		ids[t[0]] = Error
	}
	for _, t := range append(OptionalTests(), InformativeTests()...) {
		ids[t[0]] = Warning
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Validate(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range r.Problems {
			if ids[p.Test] == "" || p.Severity != ids[p.Test] || p.Message == "" || p.Path != "" && p.Path[0] != '/' {
				t.Fatalf("problem %+v", p)
			}
		}
	})
}
