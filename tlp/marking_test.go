package tlp

import (
	"errors"
	"testing"
)

func TestFromMarkingID(t *testing.T) {
	checkLookup(t, "FromMarkingID", FromMarkingID, []lookupCase{
		{MarkingClear, Clear, true},
		{MarkingGreen, Green, true},
		{MarkingAmber, Amber, true},
		{MarkingAmberStrict, AmberStrict, true},
		{MarkingRed, Red, true},
		{MarkingV1White, Clear, true},
		{MarkingV1Green, Green, true},
		{MarkingV1Amber, Amber, true},
		{MarkingV1Red, Red, true},
		{"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41db", 0, false},
		{"MARKING-DEFINITION--34098FCE-860F-48AE-8E50-EBD3CC5E41DA", 0, false},
		{"", 0, false},
	})
	for l := Clear; l <= Red; l++ {
		if got, _ := FromMarkingID(MarkingID(l)); got != l {
			t.Errorf("FromMarkingID(MarkingID(%v)) = %v", l, got)
		}
	}
	if MarkingID(0) != "" {
		t.Errorf("MarkingID(0) = %q", MarkingID(0))
	}
}

func TestEffective(t *testing.T) {
	const (
		copyright = "marking-definition--11111111-1111-4111-8111-111111111111"
		carriedV1 = "marking-definition--22222222-2222-4222-8222-222222222222"
		carried2  = "marking-definition--33333333-3333-4333-8333-333333333333"
		badTLP    = "marking-definition--44444444-4444-4444-8444-444444444444"
		noName    = "marking-definition--55555555-5555-4555-8555-555555555555"
		unknown   = "marking-definition--66666666-6666-4666-8666-666666666666"
	)
	defs := Definitions{
		copyright: {DefinitionType: "statement"},
		carriedV1: {DefinitionType: "tlp", TLP: "amber"},
		carried2:  {TLP: "amber+strict"},
		badTLP:    {TLP: "purple"},
		noName:    {DefinitionType: "tlp"},
		// A carried definition never lowers a canonical id's level...
		MarkingRed:   {DefinitionType: "statement"},
		MarkingV1Red: {DefinitionType: "tlp", TLP: "white"},
		// ...but may raise it.
		MarkingV1Green: {TLP: "red"},
	}
	tests := []struct {
		name  string
		alert Level
		refs  []string
		want  Level
		err   error
	}{
		{"alert only", Green, nil, Green, nil},
		{"marking more restrictive", Green, []string{MarkingAmber}, Amber, nil},
		{"alert more restrictive", Red, []string{MarkingClear, MarkingV1Green}, Red, nil},
		{"most restrictive of many", Clear, []string{MarkingGreen, MarkingAmberStrict, MarkingV1Amber}, AmberStrict, nil},
		{"tlp 1.0 white is clear", Clear, []string{MarkingV1White}, Clear, nil},
		{"tlp 1.0 red", Green, []string{MarkingV1Red}, Red, nil},
		{"statement is neutral", Green, []string{copyright}, Green, nil},
		{"carried tlp 1.0 definition", Green, []string{carriedV1}, Amber, nil},
		{"carried tlp 2.0 extension", Amber, []string{carried2, copyright}, AmberStrict, nil},
		{"carried statement cannot neutralise a canonical id", Green, []string{MarkingRed}, Red, nil},
		{"carried definition cannot lower a canonical id", Green, []string{MarkingV1Red}, Red, nil},
		{"carried definition raises a canonical id", Clear, []string{MarkingV1Green}, Red, nil},
		{"unknown marking", Green, []string{MarkingGreen, unknown}, 0, ErrUnknownMarking},
		{"carried with unknown tlp name", Green, []string{badTLP}, 0, ErrUnknownMarking},
		{"carried tlp without a name", Green, []string{noName}, 0, ErrUnknownMarking},
		{"no alert tlp", 0, []string{MarkingGreen}, 0, ErrUnknownTLP},
	}
	for _, tt := range tests {
		got, err := defs.Effective(tt.alert, tt.refs...)
		if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("%s: Effective(%v, %v) = %v, %v; want %v, %v", tt.name, tt.alert, tt.refs, got, err, tt.want, tt.err)
		}
	}
	if _, err := Effective(Green, copyright); !errors.Is(err, ErrUnknownMarking) {
		t.Errorf("Effective without definitions accepted a non-canonical marking: %v", err)
	}
	if got, err := Effective(Green, MarkingV1Amber); got != Amber || err != nil {
		t.Errorf("Effective(Green, TLP 1.0 AMBER) = %v, %v", got, err)
	}
}

// TestFromName: FromName reads what Parse reads, and TLP 1.0's "white".
func TestFromName(t *testing.T) {
	cases := []lookupCase{{"white", Clear, true}, {"TLP:WHITE", Clear, true}, {"purple", 0, false}}
	for _, c := range spellings {
		if c.in != "white" {
			cases = append(cases, c)
		}
	}
	checkLookup(t, "FromName", FromName, cases)
}
