package codes

import (
	"errors"
	"fmt"
	"io"
	"testing"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"google.golang.org/protobuf/proto"
)

func TestName(t *testing.T) {
	tests := []struct {
		code tocsinv1.RejectionCode
		want string
	}{
		{tocsinv1.RejectionCode_REJECTION_CODE_UNSPECIFIED, "unspecified"},
		{tocsinv1.RejectionCode_REJECTION_CODE_MALFORMED, "malformed"},
		{tocsinv1.RejectionCode_REJECTION_CODE_BAD_SIGNATURE, "bad-signature"},
		{tocsinv1.RejectionCode_REJECTION_CODE_TLP_NEEDS_RECIPIENTS, "tlp-needs-recipients"},
		{tocsinv1.RejectionCode_REJECTION_CODE_UNSUPPORTED_PATTERN_TYPE, "unsupported-pattern-type"},
		{tocsinv1.RejectionCode(9999), "9999"},
	}
	for _, tt := range tests {
		if got := Name(tt.code); got != tt.want {
			t.Errorf("Name(%v) = %q, want %q", tt.code, got, tt.want)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		want   tocsinv1.RejectionCode
		wantOK bool
	}{
		{"bad-signature", tocsinv1.RejectionCode_REJECTION_CODE_BAD_SIGNATURE, true},
		{"clock-skew", tocsinv1.RejectionCode_REJECTION_CODE_CLOCK_SKEW, true},
		{"unspecified", 0, false},
		{"BAD-SIGNATURE", 0, false},
		{"bad_signature", 0, false},
		{"REJECTION_CODE_BAD_SIGNATURE", 0, false},
		{"", 0, false},
		{"3", 0, false},
	}
	for _, tt := range tests {
		got, ok := Parse(tt.name)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestAllRoundTrip(t *testing.T) {
	values := tocsinv1.RejectionCode(0).Descriptor().Values()
	all := All()
	if len(all) != values.Len()-1 {
		t.Fatalf("All() has %d codes, the enum defines %d besides UNSPECIFIED", len(all), values.Len()-1)
	}
	seen := map[string]bool{}
	for _, c := range all {
		name := Name(c)
		if seen[name] {
			t.Errorf("name %q used twice", name)
		}
		seen[name] = true
		if got, ok := Parse(name); !ok || got != c {
			t.Errorf("Parse(Name(%v)) = %v, %v", c, got, ok)
		}
	}
	all[0] = 0
	if All()[0] == 0 {
		t.Error("All() returns its internal slice; a caller's change leaked into it")
	}
}

func TestErrorIs(t *testing.T) {
	sig := tocsinv1.RejectionCode_REJECTION_CODE_BAD_SIGNATURE
	key := tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_KEY
	base := Errorf(sig, "signature of %q does not verify: %w", "x", io.ErrUnexpectedEOF)
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"same code", base, Err(sig), true},
		{"other code", base, Err(key), false},
		{"wrapped", fmt.Errorf("verify: %w", base), Err(sig), true},
		{"joined", errors.Join(errors.New("x"), base), Err(sig), true},
		{"cause kept", base, io.ErrUnexpectedEOF, true},
		{"plain error", errors.New("bad-signature"), Err(sig), false},
		{"literal", &Error{Code: key, Msg: "m"}, Err(key), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errors.Is(tt.err, tt.target); got != tt.want {
				t.Errorf("errors.Is(%v, %v) = %v, want %v", tt.err, tt.target, got, tt.want)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{Err(tocsinv1.RejectionCode_REJECTION_CODE_REPLAY), "replay"},
		{Errorf(tocsinv1.RejectionCode_REJECTION_CODE_OVERSIZED, "%d bytes, at most %d", 9, 8), "oversized: 9 bytes, at most 8"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestOf(t *testing.T) {
	tests := []struct {
		err  error
		want tocsinv1.RejectionCode
	}{
		{nil, tocsinv1.RejectionCode_REJECTION_CODE_UNSPECIFIED},
		{errors.New("x"), tocsinv1.RejectionCode_REJECTION_CODE_MALFORMED},
		{fmt.Errorf("a: %w", Err(tocsinv1.RejectionCode_REJECTION_CODE_SCHEMA)), tocsinv1.RejectionCode_REJECTION_CODE_SCHEMA},
	}
	for _, tt := range tests {
		if got := Of(tt.err); got != tt.want {
			t.Errorf("Of(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestProblems(t *testing.T) {
	schema := &Error{Code: tocsinv1.RejectionCode_REJECTION_CODE_SCHEMA, Msg: "name is required", ObjectID: "indicator--1", Path: "/objects/0/name"}
	tlp := Err(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_TLP)
	tests := []struct {
		name string
		err  error
		want []*tocsinv1.Problem
	}{
		{"nil", nil, nil},
		{"plain", errors.New("unexpected EOF"), []*tocsinv1.Problem{
			{Code: tocsinv1.RejectionCode_REJECTION_CODE_MALFORMED, Message: "unexpected EOF"}}},
		{"one wrapped", fmt.Errorf("validate: %w", schema), []*tocsinv1.Problem{
			{Code: tocsinv1.RejectionCode_REJECTION_CODE_SCHEMA, ObjectId: "indicator--1", Path: "/objects/0/name", Message: "name is required"}}},
		{"joined", errors.Join(schema, errors.New("uncoded"), fmt.Errorf("tlp: %w", tlp)), []*tocsinv1.Problem{
			{Code: tocsinv1.RejectionCode_REJECTION_CODE_SCHEMA, ObjectId: "indicator--1", Path: "/objects/0/name", Message: "name is required"},
			{Code: tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_TLP, Message: "unknown-tlp"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Problems(tt.err)
			if len(got) != len(tt.want) {
				t.Fatalf("Problems() = %v, want %v", got, tt.want)
			}
			for i := range got {
				if !proto.Equal(got[i], tt.want[i]) {
					t.Errorf("Problems()[%d] = %v, want %v", i, got[i], tt.want[i])
				}
			}
			if first := Problem(tt.err); len(tt.want) > 0 && !proto.Equal(first, tt.want[0]) {
				t.Errorf("Problem() = %v, want %v", first, tt.want[0])
			}
		})
	}
}
