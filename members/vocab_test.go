package members

import (
	"errors"
	"strings"
	"testing"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

func TestVocabularyChecksSuggestAndListKnownWords(t *testing.T) {
	v := DefaultVocabulary()
	for _, tc := range []struct {
		check      func(string) error
		word, want string
	}{
		{v.CheckSector, "patient-car", `did you mean "patient-care"?`},
		{v.CheckSector, "helth-it", `did you mean "health-it"?`},
		{v.CheckLane, "flsah", `did you mean "flash"?`},
		{v.CheckCapability, "forensic", `did you mean "forensics"?`},
		{v.CheckSector, "aerospace", "known: patient-care, health-it, payers"},
	} {
		err := tc.check(tc.word)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"`+tc.word+`"`) {
			t.Errorf("check %q: %v; want it to name the word and say %q", tc.word, err, tc.want)
		}
		if !errors.Is(err, ErrUnknownWord) {
			t.Errorf("check %q: %v does not match ErrUnknownWord", tc.word, err)
		}
	}
	if err := v.CheckSector("aerospace"); strings.Contains(err.Error(), "did you mean") {
		t.Errorf("a far word got a suggestion: %v", err)
	}
	for _, ok := range []error{v.CheckSector("federal"), v.CheckLane("info"), v.CheckCapability("legal-notification")} {
		if ok != nil {
			t.Errorf("known word refused: %v", ok)
		}
	}
}

func TestVocabularyDefaultsAndValidate(t *testing.T) {
	custom := Vocabulary{Sectors: []string{"veterinary"}}.WithDefaults()
	if len(custom.Sectors) != 1 || len(custom.Lanes) != 4 || len(custom.Capabilities) != 10 {
		t.Fatalf("WithDefaults: %+v", custom)
	}
	if err := (Vocabulary{}).Validate(); err != nil {
		t.Fatalf("default vocabulary: %v", err)
	}
	for _, bad := range []Vocabulary{{Sectors: []string{"Patient Care"}}, {Lanes: []string{"flash", "flash"}}} {
		if err := bad.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestRoles(t *testing.T) {
	for _, name := range RoleNames() {
		r, err := ParseRole(name)
		if err != nil || RoleName(r) != name {
			t.Errorf("ParseRole(%q) = %v, %v; RoleName back %q", name, r, err, RoleName(r))
		}
	}
	if _, err := ParseRole("responer"); err == nil || !strings.Contains(err.Error(), `did you mean "responder"?`) {
		t.Errorf("ParseRole(responer) = %v", err)
	}
	if got := RoleName(tocsinv1.Role_ROLE_UNSPECIFIED); got != "ROLE_UNSPECIFIED" {
		t.Errorf("RoleName(unspecified) = %q", got)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "", 3}, {"hosptial", "hospital", 1}, {"kitten", "sitting", 3}, {"flash", "flash", 0}} {
		if got := editDistance(tc.a, tc.b); got != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
	}
}
