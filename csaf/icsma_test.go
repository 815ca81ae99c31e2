package csaf

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/icsma-verdicts.tsv from this run")

// TestICSMAVerdicts validates all 134 pinned CISA ICSMA advisories and
// compares each verdict (the tests it fails) with testdata/icsma-verdicts.tsv,
// the table docs/CSAF.md shows. go test ./csaf -run TestICSMAVerdicts -update
// rewrites the file.
func TestICSMAVerdicts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(pinned(t, "cisa-icsma"), "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 134 {
		t.Fatalf("found %d ICSMA advisories, the pin has 134: run 'make schemas'", len(files))
	}
	var b strings.Builder
	b.WriteString("# advisory\tverdict\tfailed tests (errors)\twarnings of 6.2 and 6.3 (count)\n")
	for _, f := range files {
		r := validateFile(t, f)
		verdict := "valid"
		if !r.Valid() {
			verdict = "invalid"
		}
		count := map[Problem]int{}
		for _, p := range r.Problems {
			count[Problem{Test: p.Test, Severity: p.Severity}]++
		}
		list := func(ids []string, sev Severity) string {
			var out []string
			for _, id := range ids {
				out = append(out, fmt.Sprintf("%s (%d)", id, count[Problem{Test: id, Severity: sev}]))
			}
			return strings.Join(out, ", ")
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\n", strings.TrimSuffix(filepath.Base(f), ".json"), verdict, list(r.Failed(), Error), list(r.Warned(), Warning))
	}
	const golden = "testdata/icsma-verdicts.tsv"
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		sort.Strings(gl)
		sort.Strings(wl)
		t.Errorf("verdicts differ from %s (run with -update after checking):\n%s", golden, diffLines(wl, gl))
	}
}

// diffLines lists the lines only in want (-) or only in got (+).
func diffLines(want, got []string) string {
	in := func(s []string) map[string]bool {
		m := map[string]bool{}
		for _, l := range s {
			m[l] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var out []string
	for _, l := range want {
		if !g[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range got {
		if !w[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
