package csaf

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// icsma reads one pinned ICSMA advisory as a generic tree, for mutation.
func icsma(t *testing.T, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(pinned(t, "cisa-icsma"), name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func validateTree(t *testing.T, m map[string]any) Report {
	t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Validate(data)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestValidAdvisoryHasNoErrors(t *testing.T) {
	r := validateTree(t, icsma(t, "icsma-23-331-01.json"))
	if !r.Valid() || len(r.Failed()) != 0 {
		t.Fatalf("icsma-23-331-01 has errors: %v", r.Problems)
	}
}

func TestNotJSONIsASchemaProblem(t *testing.T) {
	for _, in := range []string{`{"document": `, `{} {}`, ``} {
		r, err := Validate([]byte(in))
		if err != nil || r.Valid() || len(r.Problems) != 1 || r.Problems[0].Test != TestSchema || !strings.Contains(r.Problems[0].Message, "not a JSON document") {
			t.Errorf("%q: %v, %v", in, r.Problems, err)
		}
	}
}

// TestProblemsSayTestAndPath mutates a valid advisory and checks that each
// problem names the right test and the pointer to the value at fault.
func TestProblemsSayTestAndPath(t *testing.T) {
	m := icsma(t, "icsma-23-331-01.json")
	vuln := m["vulnerabilities"].([]any)[0].(map[string]any)
	vuln["cwe"] = map[string]any{"id": "CWE-79", "name": "Improper Input Validation"}
	cvss := vuln["scores"].([]any)[0].(map[string]any)["cvss_v3"].(map[string]any)
	delete(cvss, "baseSeverity")
	cvss["baseScore"] = 1.0
	m["document"].(map[string]any)["lang"] = "EZ"
	m["document"].(map[string]any)["title"] = 7.0
	r := validateTree(t, m)
	want := []Problem{
		{Test: "schema", Path: "/document/title"},
		{Test: "6.1.8", Path: "/vulnerabilities/0/scores/0/cvss_v3"},
		{Test: "6.1.9", Path: "/vulnerabilities/0/scores/0/cvss_v3/baseScore"},
		{Test: "6.1.11", Path: "/vulnerabilities/0/cwe/name"},
		{Test: "6.1.12", Path: "/document/lang"},
	}
	var got []Problem
	for _, p := range r.Problems {
		if p.Severity == Warning {
			continue
		}
		if p.Severity != Error || p.Message == "" {
			t.Errorf("problem %v: want severity error and a message", p)
		}
		got = append(got, Problem{Test: p.Test, Path: p.Path})
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems = %v\nwant %v", got, want)
	}
	if r.Valid() {
		t.Error("report is valid")
	}
	if f := r.Failed(); !slices.Equal(f, []string{"schema", "6.1.8", "6.1.9", "6.1.11", "6.1.12"}) {
		t.Errorf("Failed() = %v", f)
	}
}

// TestVersRangeInProductVersion: a vers string in a product_version branch
// is a version range (6.1.31), as CISA's "vers:all/*" is.
func TestVersRangeInProductVersion(t *testing.T) {
	for _, c := range []struct {
		name string
		fail bool
	}{{"vers:all/*", true}, {"vers:generic/<2.0", true}, {"2.3.6", false}, {"versions 2", true}, {"universal", false}} {
		m := map[string]any{"product_tree": map[string]any{"branches": []any{map[string]any{"category": "product_version", "name": c.name}}}}
		d := newDoc(m, nil)
		d.versionRange()
		if got := len(d.out) > 0; got != c.fail {
			t.Errorf("%q: failed = %v, want %v", c.name, got, c.fail)
		}
	}
}

func TestPointerEscapes(t *testing.T) {
	if got := at("/a", "x/y~z", 3); got != "/a/x~1y~0z/3" {
		t.Errorf("at = %q", got)
	}
}

func TestFailedOrder(t *testing.T) {
	var r Report
	for _, id := range []string{"6.1.27.10", "6.1.9", "6.1.27.9", "schema", "6.1.10", "6.1.9"} {
		r.Problems = append(r.Problems, Problem{Test: id, Severity: Error})
	}
	r.Problems = append(r.Problems, Problem{Test: "6.2.13", Severity: Warning}, Problem{Test: "6.2.2", Severity: Warning})
	if got := r.Failed(); !slices.Equal(got, []string{"schema", "6.1.9", "6.1.10", "6.1.27.9", "6.1.27.10"}) {
		t.Errorf("Failed() = %v", got)
	}
	if got := r.Warned(); !slices.Equal(got, []string{"6.2.2", "6.2.13"}) {
		t.Errorf("Warned() = %v", got)
	}
}

// TestCWECatalogueIsPinned checks cwe.tsv against the checksum that
// testdata/CWE-SOURCE.md records.
func TestCWECatalogueIsPinned(t *testing.T) {
	src, err := os.ReadFile("testdata/CWE-SOURCE.md")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256hex([]byte(cweTSV))
	if !containsLine(string(src), "| sha256 of cwe.tsv | "+sum+" |") {
		t.Errorf("cwe.tsv has sha256 %s, which testdata/CWE-SOURCE.md does not record", sum)
	}
	if name, ok := cweName("CWE-79"); !ok || name != "Improper Neutralization of Input During Web Page Generation ('Cross-site Scripting')" {
		t.Errorf("CWE-79 = %q, %v", name, ok)
	}
}

// TestFlagReferencesAreChecked: a flag's product and group ids must be
// defined (6.1.1, 6.1.4), as the other references are.
func TestFlagReferencesAreChecked(t *testing.T) {
	m := map[string]any{
		"product_tree": map[string]any{"full_product_names": []any{map[string]any{"product_id": "P1", "name": "A"}}},
		"vulnerabilities": []any{map[string]any{"flags": []any{
			map[string]any{"label": "component_not_present", "product_ids": []any{"P1", "P2"}, "group_ids": []any{"G9"}},
		}}},
	}
	d := newDoc(m, nil)
	d.missingProductID()
	d.missingGroupID()
	var got []Problem
	for _, p := range d.out {
		got = append(got, Problem{Test: p.Test, Path: p.Path})
	}
	want := []Problem{{Test: "6.1.1", Path: "/vulnerabilities/0/flags/0/product_ids/1"}, {Test: "6.1.4", Path: "/vulnerabilities/0/flags/0/group_ids/0"}}
	if !slices.Equal(got, want) {
		t.Errorf("problems = %v, want %v", got, want)
	}
}

// TestValidateConcurrently: one compiled schema serves goroutines at once
// (the router validates in parallel); go test -race checks it.
func TestValidateConcurrently(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(pinned(t, "cisa-icsma"), "icsma-2*.json"))
	if err != nil || len(files) < 8 {
		t.Fatalf("advisories: %v", err)
	}
	want := map[string][]string{}
	for _, f := range files[:8] {
		want[f] = validateFile(t, f).Failed()
	}
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			for f, w := range want {
				data, err := os.ReadFile(f)
				if err == nil {
					var r Report
					if r, err = Validate(data); err == nil && !slices.Equal(r.Failed(), w) {
						err = fmt.Errorf("%s: %v, alone %v", f, r.Failed(), w)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
