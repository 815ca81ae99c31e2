package alerts

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/csaf"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// icsmaDir is where 'make schemas' copies CISA's pinned ICSMA advisories.
var icsmaDir = filepath.Join("..", "csafschemas", "csaf", "cisa-icsma")

// icsmaDoc reads the ICSMA advisory name as published, with its
// publisher namespace set to namespace unless that is "".
func icsmaDoc(t *testing.T, name, namespace string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(icsmaDir, name+".json"))
	if err != nil {
		t.Fatalf("the pinned ICSMA advisories are not here: %v (run 'make schemas')", err)
	}
	if namespace == "" {
		return data
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	v["document"].(map[string]any)["publisher"].(map[string]any)["namespace"] = namespace
	if data, err = json.Marshal(v); err != nil {
		t.Fatal(err)
	}
	return data
}

func csafAdvisory(doc []byte) *tocsinv1.Advisory {
	return &tocsinv1.Advisory{Title: "pump advisory", Body: "patch", Lane: tocsinv1.Lane_LANE_URGENT, Sectors: []string{"patient-care"},
		Tlp: tlp.Clear.Proto(), CsafDocument: doc}
}

// TestEveryICSMAAdvisoryIsRoutedWithItsWarnings publishes all 134 pinned
// CISA ICSMA advisories as the liaison's CSAF advisories on one cluster
// and waits for every outcome: each is routed, and carries as warnings
// exactly what the validator finds (its count; the list, the 6.1
// failures first, up to MaxWarnings). What the outcomes say is then held
// against docs/CSAF.md: its table of the advisories that fail a 6.1 test
// (how often), and its table of the 6.2 and 6.3 warnings (in how many
// advisories, how many in all).
func TestEveryICSMAAdvisoryIsRoutedWithItsWarnings(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(icsmaDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 134 {
		t.Fatalf("found %d ICSMA advisories, the pin has 134: run 'make schemas'", len(files))
	}
	h := newHarness(t, 3, Options{})
	docs := map[string][]byte{}
	ids := map[string]string{} // advisory name → envelope id
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs[name] = doc
		ids[name] = h.publish("hhs-liaison", subjects.KindAdvisory, tocsinv1.Kind_KIND_ADVISORY, csafAdvisory(doc)).GetId()
	}

	failed := map[string]map[string]int{} // advisory → 6.1 test → failures
	type tally struct{ advisories, warnings int }
	warned := map[string]*tally{} // 6.2/6.3 test → tally
	routed := 0
	for _, name := range slices.Sorted(maps.Keys(ids)) {
		o := h.outcome("hhs-liaison", ids[name])
		if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
			t.Errorf("%s: %v %v, want routed", name, o.GetState(), o.GetRejection())
			continue
		}
		routed++
		rep, err := csaf.Validate(docs[name])
		if err != nil {
			t.Fatal(err)
		}
		want, count := csafWarnings(rep.Problems)
		if int(o.GetWarningCount()) != len(rep.Problems) || count != len(rep.Problems) || len(o.GetWarnings()) != min(count, MaxWarnings) {
			t.Errorf("%s: outcome carries %d warnings of %d, the validator finds %d", name, len(o.GetWarnings()), o.GetWarningCount(), len(rep.Problems))
			continue
		}
		for i, w := range o.GetWarnings() {
			if w.GetTest() != want[i].GetTest() || w.GetPath() != want[i].GetPath() || w.GetMessage() != want[i].GetMessage() {
				t.Fatalf("%s: warning %d is %v, the validator's is %v", name, i, w, want[i])
			}
		}
		// Every problem, from the outcome when it carries them all, else
		// from the validator (whose first MaxWarnings it carries, above).
		all := rep.Problems
		if len(o.GetWarnings()) == count {
			all = nil
			for _, w := range o.GetWarnings() {
				all = append(all, csaf.Problem{Test: w.GetTest(), Severity: severityOf(w.GetTest())})
			}
		}
		seen := map[string]bool{}
		for _, p := range all {
			if p.Severity == csaf.Error {
				if failed[name] == nil {
					failed[name] = map[string]int{}
				}
				failed[name][p.Test]++
				continue
			}
			if warned[p.Test] == nil {
				warned[p.Test] = &tally{}
			}
			warned[p.Test].warnings++
			if !seen[p.Test] {
				seen[p.Test] = true
				warned[p.Test].advisories++
			}
		}
	}
	t.Logf("routed %d of %d; %d fail a 6.1 test (carried as warnings)", routed, len(ids), len(failed))

	doc, err := os.ReadFile(filepath.Join("..", "docs", "CSAF.md"))
	if err != nil {
		t.Fatal(err)
	}
	docFailed := map[string]map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^\| (icsma-[0-9a-z-]+) \| invalid \| ([^|]+) \|$`).FindAllStringSubmatch(string(doc), -1) {
		docFailed[m[1]] = map[string]int{}
		for _, f := range regexp.MustCompile(`(6\.1\.[0-9.]+) \((\d+)\)`).FindAllStringSubmatch(m[2], -1) {
			n, _ := strconv.Atoi(f[2])
			docFailed[m[1]][f[1]] = n
		}
	}
	if got, want := fmt.Sprint(failed), fmt.Sprint(docFailed); got != want {
		t.Errorf("docs/CSAF.md lists the advisories failing a 6.1 test as\n%s\nthe router's outcomes say\n%s", want, got)
	}
	docWarned := map[string]*tally{}
	for _, m := range regexp.MustCompile(`(?m)^\| (6\.[23]\.\d+) [^|]+ \| (\d+) \| (\d+) \|`).FindAllStringSubmatch(string(doc), -1) {
		a, _ := strconv.Atoi(m[2])
		w, _ := strconv.Atoi(m[3])
		docWarned[m[1]] = &tally{a, w}
	}
	for test := range warned {
		if docWarned[test] == nil {
			docWarned[test] = &tally{}
		}
	}
	for test, d := range docWarned {
		if got := warned[test]; got == nil || *got != *d {
			t.Errorf("docs/CSAF.md: %s in %d advisories, %d warnings; the router's outcomes: %v", test, d.advisories, d.warnings, got)
		}
	}
}

// severityOf is the severity of a test's problems: errors for the schema
// and section 6.1, warnings for 6.2 and 6.3.
func severityOf(test string) csaf.Severity {
	if test == csaf.TestSchema || strings.HasPrefix(test, "6.1.") {
		return csaf.Error
	}
	return csaf.Warning
}

// TestCSAFWarningsAreBounded: a document with more problems than
// MaxWarnings carries the first MaxWarnings, the 6.1 failures before the
// 6.2 and 6.3 warnings, each field cut, and the count of them all.
func TestCSAFWarningsAreBounded(t *testing.T) {
	var ps []csaf.Problem
	for i := range 3 * MaxWarnings {
		sev, test := "warning", "6.2.16"
		if i%3 == 2 {
			sev, test = "error", "6.1.31"
		}
		ps = append(ps, csaf.Problem{Test: test, Path: "/" + strings.Repeat("p", 1000), Message: strings.Repeat("m", 5000), Severity: csaf.Severity(sev)})
	}
	ws, n := csafWarnings(ps)
	if n != 3*MaxWarnings || len(ws) != MaxWarnings {
		t.Fatalf("%d warnings of %d, want %d of %d", len(ws), n, MaxWarnings, 3*MaxWarnings)
	}
	for i, w := range ws {
		if w.GetTest() != "6.1.31" {
			t.Fatalf("warning %d is %s: the 6.1 failures come first", i, w.GetTest())
		}
		if len(w.GetPath()) > codes.MaxFieldBytes || len(w.GetMessage()) > codes.MaxMessageBytes || !strings.HasSuffix(w.GetMessage(), "…") {
			t.Fatalf("warning %d not cut: path %d bytes, message %d bytes", i, len(w.GetPath()), len(w.GetMessage()))
		}
	}
}
