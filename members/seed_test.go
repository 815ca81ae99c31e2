package members

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"google.golang.org/protobuf/proto"
)

// wantSeedError loads path and checks that it fails with ErrInvalid and an
// error that says every one of wants.
func wantSeedError(t *testing.T, path string, wants ...string) {
	t.Helper()
	ms, err := LoadSeed(path, DefaultVocabulary())
	if err == nil {
		t.Fatalf("%s loaded %d members, want an error", path, len(ms))
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("%v does not match ErrInvalid", err)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error\n%v\ndoes not say %q", err, w)
		}
	}
}

func TestSeedUnknownFieldNamesFieldAndLine(t *testing.T) {
	wantSeedError(t, "testdata/unknown_field.yaml",
		`testdata/unknown_field.yaml:7: member "ir-firm": unknown field "lead-time" at line 15; did you mean "lead_time"?; known: id, type, capacity`)
}

func TestSeedDuplicateIDNamesBothLines(t *testing.T) {
	wantSeedError(t, "testdata/duplicate_id.yaml",
		`testdata/duplicate_id.yaml:13: member "st-mary": id already used by the member at line 1`)
}

func TestSeedBadSectorSuggestsAndReportsEveryMember(t *testing.T) {
	wantSeedError(t, "testdata/bad_sector.yaml",
		`testdata/bad_sector.yaml:1: member "st-mary": sectors[0]: unknown sector "patient-cars"; did you mean "patient-care"?; known: patient-care, health-it,`,
		`testdata/bad_sector.yaml:7: member "ehr-vendor": roles[1]: unknown role "vender"; did you mean "vendor"?; known: member, responder, liaison, vendor, admin, service`)
}

func TestSeedShapeErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"empty", "", "s.yaml: empty; a member seed is a YAML list"},
		{"mapping", "id: st-mary\n", "s.yaml:1: a member seed is a YAML list of members"},
		{"item not a mapping", "- st-mary\n", "s.yaml:1: a member is a mapping"},
		{"two documents", "- id: a\n---\n- id: b\n", "s.yaml:2: a second YAML document"},
		{"bad yaml", "- id: [\n", "s.yaml: not valid YAML"},
		{"wrong type", "- id: a\n  name: A\n  capacity: 1\n", `member "a": unknown field "capacity" at line 3`},
		{"capacity not a number", "- id: ir\n  name: IR\n  sectors: [health-it]\n  region: x\n  roles: [responder]\n  capabilities:\n    - {type: forensics, capacity: four}\n",
			"s.yaml:1: member \"ir\": line 7: cannot unmarshal !!str `four`"},
		{"bad lead time", "- id: ir\n  name: IR\n  sectors: [health-it]\n  region: x\n  roles: [responder]\n  capabilities:\n    - {type: forensics, capacity: 1, lead_time: soon}\n",
			`s.yaml:1: member "ir": capabilities[0].lead_time: "soon" is not a duration`},
		{"bad key time", "- id: a\n  name: A\n  sectors: [pharma]\n  region: x\n  roles: [member]\n  keys:\n    - {public_key: UX, not_before: yesterday}\n",
			`s.yaml:1: member "a": keys[0].not_before: "yesterday" is not an RFC 3339 time`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSeed("s.yaml", []byte(tc.yaml), DefaultVocabulary())
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v; want ErrInvalid saying %q", err, tc.want)
			}
		})
	}
}

func TestSeedKeysAndDefaults(t *testing.T) {
	key := newUserKey(t)
	ms, err := ParseSeed("s.yaml", []byte(`
- id: ir-firm
  name: Beacon
  sectors: [health-it]
  region: northeast
  roles: [responder]
  capabilities:
    - {type: forensics, capacity: 2}
    - {id: ir-firm/forensics-west, type: forensics, capacity: 1, regions: [west], lead_time: 90m}
  keys:
    - public_key: `+key+`
      not_before: 2025-01-01T00:00:00Z
`), DefaultVocabulary())
	if err != nil {
		t.Fatal(err)
	}
	m := ms[0]
	if c := m.Capabilities; c[0].Id != "ir-firm/forensics" || c[0].LeadTime != nil || c[1].Id != "ir-firm/forensics-west" || c[1].LeadTime.AsDuration() != 90*time.Minute {
		t.Errorf("capabilities %v", c)
	}
	if k := m.Keys[0]; k.PublicKey != key || !k.NotBefore.AsTime().Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) || k.NotAfter != nil {
		t.Errorf("key %v", k)
	}
}

// scenarioCast is the demo cast of the St. Mary's scenario.
var scenarioCast = map[string]struct {
	sectors []string
	region  string
	roles   []tocsinv1.Role
}{
	"st-mary":             {[]string{"patient-care"}, "northeast", []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}},
	"lakeside-childrens":  {[]string{"patient-care"}, "northeast", []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}},
	"riverside":           {[]string{"patient-care"}, "northeast", []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}},
	"valley-general":      {[]string{"patient-care"}, "northeast", []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}},
	"hilltop":             {[]string{"patient-care"}, "northeast", []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}},
	"ehr-vendor":          {[]string{"health-it"}, "", []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}},
	"acme-pharma":         {[]string{"pharma"}, "", []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}},
	"medtech-devices":     {[]string{"medtech"}, "", []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}},
	"state-public-health": {[]string{"public-health"}, "", []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}},
	"ir-firm":             {nil, "northeast", []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER, tocsinv1.Role_ROLE_RESPONDER}},
	"downtime-staffing":   {nil, "", []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER, tocsinv1.Role_ROLE_RESPONDER}},
	"hhs-liaison":         {[]string{"federal"}, "national", []tocsinv1.Role{tocsinv1.Role_ROLE_LIAISON}},
	"admin":               {nil, "", []tocsinv1.Role{tocsinv1.Role_ROLE_ADMIN}},
}

func TestDemoSeedIsTheScenarioCast(t *testing.T) {
	ms, err := DemoSeed()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != len(scenarioCast) {
		t.Errorf("%d members, want %d", len(ms), len(scenarioCast))
	}
	byID := map[string]*tocsinv1.Member{}
	for _, m := range ms {
		byID[m.Id] = m
		want, ok := scenarioCast[m.Id]
		if !ok {
			t.Errorf("member %q is not in the scenario cast", m.Id)
			continue
		}
		if err := Validate(m, DefaultVocabulary()); err != nil {
			t.Error(err)
		}
		if want.sectors != nil && !slices.Equal(m.Sectors, want.sectors) {
			t.Errorf("%s: sectors %v, want %v", m.Id, m.Sectors, want.sectors)
		}
		if want.region != "" && m.Region != want.region {
			t.Errorf("%s: region %q, want %q", m.Id, m.Region, want.region)
		}
		if !slices.Equal(m.Roles, want.roles) {
			t.Errorf("%s: roles %v, want %v", m.Id, m.Roles, want.roles)
		}
		if len(m.Keys) != 0 {
			t.Errorf("%s: keys in the seed; they come with credentials", m.Id)
		}
	}
	if name := byID["st-mary"].GetName(); name != "St. Mary's Regional Medical Center" {
		t.Errorf("st-mary is named %q", name)
	}
	capacity := func(id, typ string) (uint32, time.Duration) {
		for _, c := range byID[id].GetCapabilities() {
			if c.Type == typ && slices.Contains(c.Regions, "northeast") {
				return c.Capacity, c.LeadTime.AsDuration()
			}
		}
		return 0, 0
	}
	for _, c := range []struct {
		id, typ string
		n       uint32
	}{{"ir-firm", "incident-response", 4}, {"ir-firm", "forensics", 2}, {"downtime-staffing", "ehr-downtime-support", 6}, {"downtime-staffing", "staff-augmentation", 4}} {
		if n, lead := capacity(c.id, c.typ); n != c.n || lead <= 0 {
			t.Errorf("%s %s in the northeast: capacity %d lead %s, want %d and a lead time", c.id, c.typ, n, lead, c.n)
		}
	}
	if n, lead := capacity("ir-firm", "incident-response"); n != 4 || lead != 4*time.Hour {
		t.Errorf("ir-firm incident-response: %d, %s; the scenario's offer has a 4-hour ETA", n, lead)
	}
	// The example file in testdata is the same cast.
	fromFile, err := LoadSeed("testdata/demo.yaml", DefaultVocabulary())
	if err != nil {
		t.Fatal(err)
	}
	if len(fromFile) != len(ms) || !proto.Equal(fromFile[0], ms[0]) {
		t.Error("testdata/demo.yaml differs from the embedded demo seed")
	}
}
