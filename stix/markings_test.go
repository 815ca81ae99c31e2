package stix

import (
	"path/filepath"
	"testing"

	"github.com/tocsin-project/tocsin/internal/worstcase"
)

// markingCodes are the problems Markings reports as ValidateBundle does.
var markingCodes = []string{CodeInvalidBundle, CodeOversized, CodeUnknownMarking}

// checkMarkingsAgree: Markings gives the TLP ValidateBundle gave (r) and
// has each of its refusal codes exactly when ValidateBundle has it.
func checkMarkingsAgree(t testing.TB, data []byte, opts Options, r *Result) {
	t.Helper()
	m, err := Markings(data, opts)
	if err != nil {
		t.Fatalf("markings: %v", err)
	}
	if m.TLP != r.TLP || m.TLPMarked != r.TLPMarked {
		t.Fatalf("markings: TLP %v (marked %v), ValidateBundle %v (marked %v)", m.TLP, m.TLPMarked, r.TLP, r.TLPMarked)
	}
	for _, code := range markingCodes {
		if has(m.Problems, code) != has(r.Problems, code) {
			t.Fatalf("markings: %s %v, ValidateBundle %v: %+v against %+v", code, has(m.Problems, code), has(r.Problems, code), m.Problems, r.Problems)
		}
	}
	for _, p := range m.Problems {
		if p.Code != CodeInvalidBundle && p.Code != CodeOversized && p.Code != CodeUnknownMarking && p.Code != CodeInvalidSpecVersion {
			t.Fatalf("markings reported %+v, a problem of the schemas it does not check", p)
		}
	}
}

func has(problems []Problem, code string) bool {
	for _, p := range problems {
		if p.Code == code {
			return true
		}
	}
	return false
}

// TestMarkingsAgreeWithValidateBundle: over every corpus file, official
// example and worst case, Markings reads the TLP and the refusals an agent
// acts on as ValidateBundle does, without the schemas.
func TestMarkingsAgreeWithValidateBundle(t *testing.T) {
	v := validator(t)
	var inputs [][]byte
	for _, dir := range []string{"testdata/valid", "testdata/invalid"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, f := range files {
			inputs = append(inputs, readFile(t, f))
		}
	}
	for _, f := range exampleFiles(t) {
		inputs = append(inputs, readFile(t, f))
	}
	for _, s := range worstcase.Shapes() {
		inputs = append(inputs, s.Bundle)
	}
	if len(inputs) < 50 {
		t.Fatalf("only %d inputs: the corpus is missing", len(inputs))
	}
	marked := 0
	for _, data := range inputs {
		r, err := v.ValidateBundle(data)
		if err != nil {
			t.Fatal(err)
		}
		checkMarkingsAgree(t, data, v.opts, r)
		if r.TLPMarked {
			marked++
		}
	}
	if marked == 0 {
		t.Fatal("no input carried a TLP marking: the comparison proves nothing")
	}
	t.Logf("%d inputs, %d with a TLP marking", len(inputs), marked)
}
