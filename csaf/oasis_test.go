package csaf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testcases is the OASIS csaf_2.0/test/validator/data/testcases.json.
type testcases struct {
	Tests []struct {
		ID       string `json:"id"`
		Group    string `json:"group"`
		Failures []struct {
			Name string `json:"name"`
		} `json:"failures"`
		Valid []struct {
			Name string `json:"name"`
		} `json:"valid"`
	} `json:"tests"`
}

// notRun are the informative tests that need the network (6.3.6, 6.3.7:
// URLs failing to resolve) or a dictionary (6.3.8: spell check).
var notRun = map[string]bool{"6.3.6": true, "6.3.7": true, "6.3.8": true}

// TestOASISConformance runs the OASIS conformance data: for every test of
// sections 6.1, 6.2 and 6.3 (but notRun), each listed failure document
// fails that test (an error for 6.1, a warning for 6.2 and 6.3) and each
// listed valid document passes it. Every listed document passes the CSAF
// schema, except those of 6.1.8 (Invalid CVSS), which the OASIS run
// excludes from its schema check too.
func TestOASISConformance(t *testing.T) {
	dir := pinned(t, "csaf_2.0/test/validator/data")
	data, err := os.ReadFile(filepath.Join(dir, "testcases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tc testcases
	if err := json.Unmarshal(data, &tc); err != nil {
		t.Fatal(err)
	}
	ours := map[string]string{}
	for _, x := range Tests() {
		ours[x[0]] = "mandatory"
	}
	for _, x := range OptionalTests() {
		ours[x[0]] = "optional"
	}
	for _, x := range InformativeTests() {
		ours[x[0]] = "informative"
	}
	seen := 0
	for _, c := range tc.Tests {
		if notRun[c.ID] {
			continue
		}
		seen++
		if ours[c.ID] != c.Group {
			t.Errorf("OASIS %s test %s is not one of ours", c.Group, c.ID)
		}
		t.Run(c.ID, func(t *testing.T) {
			for _, f := range c.Failures {
				r := validateFile(t, filepath.Join(dir, f.Name))
				if !failedTest(r, c.ID) {
					t.Errorf("%s must fail %s; got %v", f.Name, c.ID, r.Problems)
				}
				checkSchemaPassed(t, c.ID, f.Name, r)
			}
			for _, v := range c.Valid {
				r := validateFile(t, filepath.Join(dir, v.Name))
				if failedTest(r, c.ID) {
					t.Errorf("%s must pass %s; got %v", v.Name, c.ID, r.Problems)
				}
				checkSchemaPassed(t, c.ID, v.Name, r)
			}
		})
	}
	if seen != len(ours) {
		t.Errorf("testcases.json has %d tests we should run, we run %d", seen, len(ours))
	}
}

func checkSchemaPassed(t *testing.T, id, name string, r Report) {
	t.Helper()
	if failedTest(r, TestSchema) && !strings.Contains(name, "6-1-08-0") {
		t.Errorf("%s (a document of %s) must pass the CSAF schema; got %v", name, id, r.Problems)
	}
}

// TestOASISExamplesAreValid: the OASIS example advisories and VEX
// documents pass the schema and every mandatory test.
func TestOASISExamplesAreValid(t *testing.T) {
	var files []string
	for _, dir := range []string{"csaf_2.0/examples/csaf", "csaf_2.0/examples/csaf/csaf_vex"} {
		f, err := filepath.Glob(filepath.Join(pinned(t, dir), "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f...)
	}
	if len(files) != 19 {
		t.Fatalf("found %d OASIS examples, the pin has 19: run 'make schemas'", len(files))
	}
	for _, f := range files {
		if r := validateFile(t, f); !r.Valid() {
			t.Errorf("%s: %v", filepath.Base(f), r.Problems)
		}
	}
}
