package members

import (
	"errors"
	"strings"
	"testing"
)

func TestACSVMemberList(t *testing.T) {
	csvData := "\ufeffid,name,sectors,region,roles,contact\n" +
		"st-luke,St. Luke's,patient-care;health-it,northeast,member,\"SOC +1-555-0100, soc@st-luke.example\"\n" +
		"ir-two,IR Two,health-it,northeast,responder member,\n"
	ms, err := ParseSeedCSV("m.csv", strings.NewReader(csvData), DefaultVocabulary())
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].GetId() != "st-luke" || len(ms[0].GetSectors()) != 2 || ms[0].GetContact() != "SOC +1-555-0100, soc@st-luke.example" || len(ms[1].GetRoles()) != 2 {
		t.Fatalf("members: %v", ms)
	}
	for _, c := range []struct{ data, want string }{
		{"id,name,sectors\nx,X,patient-care\n", `no "region" column`},
		{"id,name,sectors,region,colour\n", `unknown column "colour"`},
		{"id,name,sectors,region\nst-x,X,hosptial,northeast\n", `m.csv:2`},
		{"id,name,sectors,region\na-b,A,patient-care,northeast\na-b,B,patient-care,northeast\n", "id already used by the member at line 2"},
		{"", "empty"},
	} {
		_, err := ParseSeedCSV("m.csv", strings.NewReader(c.data), DefaultVocabulary())
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.data, err, c.want)
		}
	}
}
