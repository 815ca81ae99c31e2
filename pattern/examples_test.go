package pattern

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// stixDir is the vendored cti-stix2-json-schemas checkout, relative to this package.
const stixDir = "../../shared/stix/cti-stix2-json-schemas"

// examplePatterns returns the pattern of every indicator of the example
// bundles, keyed by "file: indicator id".
func examplePatterns(t *testing.T) map[string]string {
	t.Helper()
	if _, err := os.Stat(stixDir); err != nil {
		t.Skipf("STIX examples not available: %v", err)
	}
	var files []string
	for _, glob := range []string{"examples/*.json", "examples/threat-reports/*.json"} {
		m, err := filepath.Glob(filepath.Join(stixDir, glob))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	patterns := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Objects []struct {
				Type        string `json:"type"`
				ID          string `json:"id"`
				Pattern     string `json:"pattern"`
				PatternType string `json:"pattern_type"`
			} `json:"objects"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, o := range doc.Objects {
			if o.Type == "indicator" && (o.PatternType == "" || o.PatternType == "stix") {
				patterns[filepath.Base(f)+": "+o.ID] = o.Pattern
			}
		}
	}
	if len(patterns) == 0 {
		t.Fatalf("no indicator patterns found under %s", stixDir)
	}
	return patterns
}

// TestExamplePatterns parses every indicator pattern of the OASIS example
// bundles, and checks that its canonical form parses to itself.
func TestExamplePatterns(t *testing.T) {
	for name, s := range examplePatterns(t) {
		t.Run(name, func(t *testing.T) {
			p, err := Parse(s)
			if err != nil {
				t.Fatalf("Parse(%q): %v", s, err)
			}
			canon := p.String()
			again, err := Parse(canon)
			if err != nil {
				t.Fatalf("Parse(String()) of %q: %v", canon, err)
			}
			if again.String() != canon {
				t.Errorf("canonical form is not stable: %q then %q", canon, again.String())
			}
			if len(p.Comparisons()) == 0 {
				t.Errorf("Parse(%q) lists no comparisons", s)
			}
		})
	}
}
