package demo_test

import (
	"io/fs"
	"testing"

	"github.com/tocsin-project/tocsin/examples"
	"github.com/tocsin-project/tocsin/pattern"
	"github.com/tocsin-project/tocsin/stix"
	"github.com/tocsin-project/tocsin/tlp"
)

// The story's bundles pass the router's own STIX validation, with the TLP
// the story gives them; the misconfigured script's export does not.
func TestStoryBundles(t *testing.T) {
	v, err := stix.New(stix.Options{PatternCheck: func(p string) error { _, err := pattern.Parse(p); return err }})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]tlp.Level{
		"st-mary-ransomware.json":   tlp.Amber,
		"lakeside-blackharbor.json": tlp.Amber,
		"st-mary-red-note.json":     tlp.Red,
	}
	names, err := fs.Glob(examples.FS, "*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		data, err := examples.FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		r, err := v.ValidateBundle(data)
		if err != nil {
			t.Fatal(err)
		}
		if name == "malformed-siem-export.json" {
			if r.Valid() || r.Problems[0].Code != stix.CodeInvalidSpecVersion {
				t.Errorf("%s: problems %v, want %s first", name, r.Problems, stix.CodeInvalidSpecVersion)
			}
			continue
		}
		level, ok := want[name]
		if !ok {
			t.Errorf("%s: an example the story does not use; add it to this test", name)
			continue
		}
		if !r.Valid() || r.TLP != level {
			t.Errorf("%s: problems %v, TLP %s; want valid, TLP %s", name, r.Problems, r.TLP, level)
		}
	}
	if len(names) != len(want)+1 {
		t.Errorf("%d bundles, want %d", len(names), len(want)+1)
	}
}
