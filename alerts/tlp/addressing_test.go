package tlp

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

func TestCheckAddressing(t *testing.T) {
	sectors := []string{"patient-care"}
	recipients := []string{"org-1"}
	tests := []struct {
		level      Level
		sectors    []string
		recipients []string
		err        error
	}{
		{Clear, nil, nil, nil},
		{Green, nil, nil, nil},
		{Green, sectors, nil, nil},
		{Amber, nil, nil, ErrNeedsRecipients},
		{Amber, sectors, nil, nil},
		{Amber, nil, recipients, nil},
		{AmberStrict, nil, nil, ErrNeedsRecipients},
		{AmberStrict, sectors, nil, ErrNeedsRecipients},
		{AmberStrict, nil, recipients, nil},
		{Red, sectors, nil, ErrNeedsRecipients},
		{Red, sectors, recipients, nil},
		{0, sectors, recipients, ErrUnknownTLP},
	}
	for _, tt := range tests {
		err := CheckAddressing(tt.level, tt.sectors, tt.recipients)
		if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("CheckAddressing(%v, %v, %v) = %v; want %v", tt.level, tt.sectors, tt.recipients, err, tt.err)
		}
	}
}

func TestAllowsSectorSubjects(t *testing.T) {
	want := map[Level]bool{0: false, Clear: true, Green: true, Amber: true, AmberStrict: false, Red: false, 6: false}
	for l, w := range want {
		if got := l.AllowsSectorSubjects(); got != w {
			t.Errorf("%v.AllowsSectorSubjects() = %v; want %v", l, got, w)
		}
	}
}

func TestCode(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{CheckAddressing(Red, nil, nil), "tlp-needs-recipients"},
		{CheckAddressing(0, nil, nil), "unknown-tlp"},
		{fmt.Errorf("bundle: %w", ErrUnknownMarking), "unknown-marking"},
		{errors.New("other"), ""},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := Code(tt.err); got != tt.want {
			t.Errorf("Code(%v) = %q; want %q", tt.err, got, tt.want)
		}
	}
}

// TestCodesAreRejectionCodes keeps the reason codes in step with the wire enum.
func TestCodesAreRejectionCodes(t *testing.T) {
	wire := map[string]bool{}
	for name := range tocsinv1.RejectionCode_value {
		wire[strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(name, "REJECTION_CODE_"), "_", "-"))] = true
	}
	for _, code := range []string{CodeUnknownTLP, CodeUnknownMarking, CodeNeedsRecipients} {
		if !wire[code] {
			t.Errorf("reason code %q is not a RejectionCode", code)
		}
	}
}
