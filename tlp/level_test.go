package tlp

import (
	"errors"
	"strings"
	"testing"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// lookupCase is one input of a function from a string to a level.
type lookupCase struct {
	in   string
	want Level
	ok   bool
}

// checkLookup runs a table of lookupCases through f.
func checkLookup(t *testing.T, name string, f func(string) (Level, bool), cases []lookupCase) {
	t.Helper()
	for _, tt := range cases {
		if got, ok := f(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("%s(%q) = %v, %v; want %v, %v", name, tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParse(t *testing.T) {
	checkLookup(t, "Parse", func(s string) (Level, bool) {
		l, err := Parse(s)
		if err != nil && (!errors.Is(err, ErrUnknownTLP) || !strings.Contains(err.Error(), Accepted)) {
			t.Errorf("Parse(%q) error %q must wrap ErrUnknownTLP and list %s", s, err, Accepted)
		}
		return l, err == nil
	}, spellings)
}

// spellings are inputs of Parse and what it makes of them.
var spellings = []lookupCase{
	{"clear", Clear, true},
	{"green", Green, true},
	{"amber", Amber, true},
	{"amber+strict", AmberStrict, true},
	{"red", Red, true},
	{"TLP:AMBER+STRICT", AmberStrict, true},
	{" Red ", Red, true},
	{"white", 0, false},
	{"amber-strict", 0, false},
	{"", 0, false},
	{"tlp:", 0, false},
}

func TestStringRoundTrip(t *testing.T) {
	for l := Clear; l <= Red; l++ {
		got, err := Parse(l.String())
		if err != nil || got != l {
			t.Errorf("Parse(%q) = %v, %v; want %v", l.String(), got, err, l)
		}
		if got, _ := Parse(l.Label()); got != l {
			t.Errorf("Parse(%q) = %v; want %v", l.Label(), got, l)
		}
	}
	if got := Level(0).String(); got != "unknown" {
		t.Errorf("Level(0).String() = %q", got)
	}
	if got := AmberStrict.Label(); got != "TLP:AMBER+STRICT" {
		t.Errorf("AmberStrict.Label() = %q", got)
	}
}

func TestOrder(t *testing.T) {
	order := []Level{Clear, Green, Amber, AmberStrict, Red}
	for i := 1; i < len(order); i++ {
		if !(order[i-1] < order[i]) {
			t.Errorf("%v is not less restrictive than %v", order[i-1], order[i])
		}
	}
	tests := []struct {
		in   []Level
		want Level
	}{
		{[]Level{Green, Red, Amber}, Red},
		{[]Level{Clear}, Clear},
		{nil, 0},
		{[]Level{Red, 0}, 0},
		{[]Level{Green, 9}, 0},
	}
	for _, tt := range tests {
		if got := Max(tt.in...); got != tt.want {
			t.Errorf("Max(%v) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestProto(t *testing.T) {
	tests := []struct {
		in   tocsinv1.TLP
		want Level
		err  bool
	}{
		{tocsinv1.TLP_TLP_CLEAR, Clear, false},
		{tocsinv1.TLP_TLP_GREEN, Green, false},
		{tocsinv1.TLP_TLP_AMBER, Amber, false},
		{tocsinv1.TLP_TLP_AMBER_STRICT, AmberStrict, false},
		{tocsinv1.TLP_TLP_RED, Red, false},
		{tocsinv1.TLP_TLP_UNSPECIFIED, 0, true},
		{tocsinv1.TLP(6), 0, true},
		{tocsinv1.TLP(-1), 0, true},
		{tocsinv1.TLP(257), 0, true},
	}
	for _, tt := range tests {
		got, err := FromProto(tt.in)
		if got != tt.want || (err != nil) != tt.err || (err != nil && !errors.Is(err, ErrUnknownTLP)) {
			t.Errorf("FromProto(%v) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
		if err == nil && got.Proto() != tt.in {
			t.Errorf("%v.Proto() = %v; want %v", got, got.Proto(), tt.in)
		}
	}
	if got := Level(0).Proto(); got != tocsinv1.TLP_TLP_UNSPECIFIED {
		t.Errorf("Level(0).Proto() = %v", got)
	}
}
