package tlp

import (
	"errors"
	"testing"

	"github.com/tocsin-project/tocsin/codes"
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

func TestCodes(t *testing.T) {
	tests := []struct {
		err  error
		want tocsinv1.RejectionCode
	}{
		{CheckAddressing(Red, nil, nil), tocsinv1.RejectionCode_REJECTION_CODE_TLP_NEEDS_RECIPIENTS},
		{CheckAddressing(0, nil, nil), tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_TLP},
		{func() error {
			_, err := Effective(Green, "marking-definition--9f8e7d6c-5b4a-4f3e-8d2c-1b0a9f8e7d6c")
			return err
		}(),
			tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_MARKING},
		{func() error { _, err := Parse("white"); return err }(), tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_TLP},
	}
	for _, tt := range tests {
		if got := codes.Of(tt.err); got != tt.want {
			t.Errorf("codes.Of(%v) = %v; want %v", tt.err, got, tt.want)
		}
	}
}
