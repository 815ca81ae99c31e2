package worstcase

import (
	"testing"

	"github.com/tocsin-project/tocsin/pattern"
	"github.com/tocsin-project/tocsin/stix"
)

// Each shape is what it says: refused with many problems (or problems
// that quote much of it), and small enough to travel in a 1 MiB alert.
func TestShapes(t *testing.T) {
	v, err := stix.New(stix.Options{PatternCheck: func(p string) error { _, err := pattern.Parse(p); return err }})
	if err != nil {
		t.Fatalf("validator: %v (run 'make schemas')", err)
	}
	for _, s := range Shapes() {
		r, err := v.ValidateBundle(s.Bundle)
		if err != nil {
			t.Fatal(err)
		}
		text := 0
		for _, p := range r.Problems {
			text += len(p.Message) + len(p.Path) + len(p.ObjectID)
		}
		t.Logf("%s: %d bytes, %d problems, %d bytes of problem text", s.Name, len(s.Bundle), len(r.Problems), text)
		if len(s.Bundle) > 1000<<10 {
			t.Errorf("%s is %d bytes: it does not fit in an alert under the 1 MiB max payload", s.Name, len(s.Bundle))
		}
		if len(r.Problems) == 0 || r.Problems[0].Code == stix.CodeOversized {
			t.Errorf("%s: problems %v, want refusals of its content", s.Name, r.Problems[:min(len(r.Problems), 1)])
		}
	}
	if r, _ := v.ValidateBundle(SecondTimestamps(3500)); len(r.Problems) != 7000 {
		t.Errorf("3,500 indicators with second-precision times: %d problems, want 7,000", len(r.Problems))
	}
}
