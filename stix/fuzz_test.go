package stix

import (
	"bytes"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/tlp"
)

// fuzzValidator has limits small enough to keep each input fast.
var fuzzValidator = sync.OnceValues(func() (*Validator, error) {
	return New(Options{MaxBundleBytes: 64 << 10, MaxObjects: 200})
})

// knownCodes are the codes ValidateBundle may report.
var knownCodes = setOf(CodeInvalidBundle, CodeOversized, CodeSchema, CodeInvalidPattern, CodeInvalidHash,
	CodeUnsupportedPatternType, CodeInvalidSpecVersion, CodeInvalidTimestamp, CodeTimeOrder, CodeBadReference,
	CodeCustomContent, CodeUnknownMarking, CodeInvalidField)

// FuzzValidateBundle: any input gives a verdict, never a panic or an
// internal error, and the verdict is consistent.
func FuzzValidateBundle(f *testing.F) {
	for _, dir := range []string{"testdata/valid", "testdata/invalid"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, file := range files {
			f.Add(readFile(f, file))
		}
	}
	f.Add([]byte(strings.Repeat("[", 100)))
	f.Add([]byte(`{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e561","objects":[` + strings.Repeat(`{},`, 300) + `{}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := fuzzValidator()
		if err != nil {
			t.Fatal(err)
		}
		r, err := v.ValidateBundle(data)
		if err != nil {
			t.Fatalf("internal error: %v", err)
		}
		checkMarkingsAgree(t, data, v.opts, r)
		for _, p := range r.Problems {
			if !knownCodes[p.Code] || p.Message == "" {
				t.Fatalf("problem with an unknown code or no message: %+v", p)
			}
		}
		// However many problems and whatever they quote, the rejection
		// that carries them fits (issue 16).
		if len(r.Problems) > 0 {
			rej := codes.NewRejection(nil, "tocsin.ingest.alert.fuzzer", Refusal(r.Problems))
			if int(rej.GetProblemCount()) != len(r.Problems) || proto.Size(rej) > codes.MaxRejectionBytes {
				t.Fatalf("the rejection of %d problems counts %d and is %d bytes (bound %d)", len(r.Problems), rej.GetProblemCount(), proto.Size(rej), codes.MaxRejectionBytes)
			}
		}
		if !r.TLP.Valid() {
			t.Fatalf("TLP %v is not a level", r.TLP)
		}
		if !r.Valid() {
			return
		}
		if !r.TLPMarked && r.TLP != tlp.Clear {
			t.Fatalf("unmarked bundle with TLP %v", r.TLP)
		}
		for _, o := range r.Objects {
			if o.Type == "" || idType(o.ID) != o.Type {
				t.Fatalf("a valid bundle with object %+v", o)
			}
		}
		// Whitespace around the bundle does not change the verdict.
		again, err := v.ValidateBundle(append(append([]byte(" \n"), data...), '\t'))
		if err != nil || len(data)+3 <= v.opts.MaxBundleBytes && !again.Valid() {
			t.Fatalf("valid bundle refused with whitespace around it: %v %+v", err, again.Problems)
		}
	})
}

// TestHostileInputs: deep nesting and huge arrays are refused by the limits.
func TestHostileInputs(t *testing.T) {
	v := validator(t)
	tests := []struct {
		name string
		data []byte
	}{
		{"a million brackets", bytes.Repeat([]byte("["), 1_000_000)},
		{"deep objects", []byte(strings.Repeat(`{"a":`, 10_000))},
		{"too many objects", []byte(`{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e561","objects":[` +
			strings.Repeat(`{},`, DefaultMaxObjects) + `{}]}`)},
		{"too many bytes", append([]byte(`{"type":"bundle","x_pad":"`), bytes.Repeat([]byte("a"), DefaultMaxBundleBytes)...)},
	}
	for _, tt := range tests {
		r, err := v.ValidateBundle(tt.data)
		if err != nil {
			t.Fatal(err)
		}
		if problemCodes(r.Problems) != CodeOversized {
			t.Errorf("%s: codes %q; want %q", tt.name, problemCodes(r.Problems), CodeOversized)
		}
	}
}
