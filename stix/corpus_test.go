package stix

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tocsin-project/tocsin/tlp"
)

// TestOfficialExamples: every official example bundle passes, except the
// interoperability test object, which cites a marking defined nowhere.
func TestOfficialExamples(t *testing.T) {
	v := validator(t)
	for _, f := range exampleFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data := readFile(t, f)
			want := ""
			if filepath.Base(f) == "interop-objectmarking-test.json" {
				data, want = wrap(t, data), CodeUnknownMarking
			}
			r, err := v.ValidateBundle(data)
			if err != nil {
				t.Fatal(err)
			}
			if got := problemCodes(r.Problems); got != want {
				t.Fatalf("codes %q, want %q: %+v", got, want, r.Problems)
			}
			if want != "" && (r.TLP != tlp.Red || !r.TLPMarked) {
				t.Errorf("the known TLP 1.0 RED marking must still count: TLP %v, marked %v", r.TLP, r.TLPMarked)
			}
		})
	}
}

// eachCorpusFile validates every file of dir in its own subtest and hands
// the result to check with the prefix of the file name (up to "_"), which
// states what the file must give.
func eachCorpusFile(t *testing.T, dir string, check func(t *testing.T, want string, r *Result)) {
	v := validator(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Fatalf("no files in %s", dir)
	}
	for _, f := range files {
		name := filepath.Base(f)
		want, _, _ := strings.Cut(name, "_")
		t.Run(name, func(t *testing.T) {
			r, err := v.ValidateBundle(readFile(t, f))
			if err != nil {
				t.Fatal(err)
			}
			check(t, want, r)
		})
	}
}

// TestInvalidCorpus: each file of testdata/invalid is refused, with only
// the reason code its name starts with.
func TestInvalidCorpus(t *testing.T) {
	eachCorpusFile(t, "testdata/invalid", func(t *testing.T, want string, r *Result) {
		if r.Valid() || problemCodes(r.Problems) != want {
			t.Fatalf("codes %q, want %q: %+v", problemCodes(r.Problems), want, r.Problems)
		}
		for _, p := range r.Problems {
			if p.Message == "" || (p.Path == "" && p.Code != CodeInvalidBundle && p.Code != CodeOversized) {
				t.Errorf("problem without a message or a path: %+v", p)
			}
		}
	})
}

// TestValidCorpus: each file of testdata/valid passes with the TLP its name
// starts with ("unmarked": no TLP marking at all).
func TestValidCorpus(t *testing.T) {
	eachCorpusFile(t, "testdata/valid", func(t *testing.T, want string, r *Result) {
		if !r.Valid() {
			t.Fatalf("refused: %+v", r.Problems)
		}
		wantLevel, marked := tlp.Clear, want != "unmarked"
		if marked {
			var err error
			if wantLevel, err = tlp.Parse(want); err != nil {
				t.Fatalf("file name: %v", err)
			}
		}
		if r.TLP != wantLevel || r.TLPMarked != marked {
			t.Errorf("TLP %v marked %v; want %v marked %v", r.TLP, r.TLPMarked, wantLevel, marked)
		}
	})
}
