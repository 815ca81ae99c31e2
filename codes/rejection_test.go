package codes

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// However many problems a refusal finds and however much of its input they
// quote (invalid UTF-8 included), its rejection carries the first
// MaxProblems, cut, marshals, fits MaxRejectionBytes and counts them all.
func TestNewRejectionIsBounded(t *testing.T) {
	huge := strings.Repeat("é\xff", 300<<10)
	e := Errorf(tocsinv1.RejectionCode_REJECTION_CODE_SCHEMA, "'%s' does not match pattern", huge)
	e.ObjectID, e.Path = huge, "/objects/"+huge
	errs := make([]error, 30000)
	for i := range errs {
		errs[i] = e
	}
	env := &tocsinv1.Envelope{Id: strings.Repeat("i", 1000), Kind: tocsinv1.Kind_KIND_ALERT}
	rej := NewRejection(env, "tocsin.ingest.alert."+huge, errors.Join(errs...))
	if len(rej.GetProblems()) != MaxProblems || rej.GetProblemCount() != 30000 || ProblemCount(rej) != 30000 {
		t.Fatalf("%d problems, count %d; want %d and 30000", len(rej.GetProblems()), rej.GetProblemCount(), MaxProblems)
	}
	data, err := proto.Marshal(rej)
	if err != nil {
		t.Fatalf("the rejection does not marshal: %v", err)
	}
	if len(data) > MaxRejectionBytes {
		t.Fatalf("the rejection is %d bytes, over MaxRejectionBytes %d", len(data), MaxRejectionBytes)
	}
	p := rej.GetProblems()[0]
	if len(p.GetMessage()) > MaxMessageBytes || !utf8.ValidString(p.GetMessage()) || !strings.HasSuffix(p.GetMessage(), "…") {
		t.Fatalf("message of %d bytes not cut: %.40q", len(p.GetMessage()), p.GetMessage())
	}
	t.Logf("the largest rejection: %d bytes (bound %d)", len(data), MaxRejectionBytes)
}

// A refusal with few problems is listed whole.
func TestNewRejectionKeepsShortRefusals(t *testing.T) {
	cause := errors.Join(Errorf(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_TLP, "tlp 42 is not a TLP 2.0 level"), errors.New("no code"))
	rej := NewRejection(nil, "tocsin.ingest.alert.st-mary", cause)
	if len(rej.GetProblems()) != 1 || rej.GetProblemCount() != 1 || rej.GetProblems()[0].GetMessage() != "tlp 42 is not a TLP 2.0 level" {
		t.Fatalf("got %v", rej)
	}
	if got := NewRejection(nil, "s", errors.New("junk")).GetProblems(); len(got) != 1 || got[0].GetCode() != tocsinv1.RejectionCode_REJECTION_CODE_MALFORMED {
		t.Fatalf("an uncoded cause: %v", got)
	}
	if ProblemCount(&tocsinv1.Rejection{Problems: []*tocsinv1.Problem{{}, {}}}) != 2 {
		t.Fatal("a rejection without a count counts its problems")
	}
}

func TestCut(t *testing.T) {
	for _, tt := range []struct {
		s    string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"eleven byte", 10, "eleven …"},
		{"ééééé", 8, "éé…"},
		{"a\xffb", 10, "a\uFFFDb"},
		{"ab\xff\xff\xff\xff", 6, "ab\uFFFD"},
		{"abcdefg\xff", 6, "abc…"},
	} {
		got := cut(tt.s, tt.max)
		if got != tt.want || len(got) > tt.max || !utf8.ValidString(got) {
			t.Errorf("cut(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
		}
	}
}
