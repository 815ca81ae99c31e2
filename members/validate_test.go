package members

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// newUserKey returns a fresh NKey user public key.
func newUserKey(tb testing.TB) string {
	tb.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		tb.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		tb.Fatal(err)
	}
	return pub
}

// responder returns a valid responder record with one key and capability.
func responder(tb testing.TB, id string) *tocsinv1.Member {
	return &tocsinv1.Member{
		Id: id, Name: "Beacon Incident Response", Sectors: []string{"health-it"}, Region: "northeast",
		Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER, tocsinv1.Role_ROLE_RESPONDER},
		Keys:  []*tocsinv1.SigningKey{{PublicKey: newUserKey(tb), NotBefore: timestamppb.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))}},
		Capabilities: []*tocsinv1.AidCapability{{
			Id: id + "/incident-response", Type: "incident-response", Capacity: 4, Regions: []string{"northeast"}, LeadTime: durationpb.New(4 * time.Hour),
		}},
	}
}

func TestValidateNamesMemberAndField(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		change func(m *tocsinv1.Member)
		who    string // how the error names the member
		want   string // the field and what is said about it
	}{
		{"bad id", func(m *tocsinv1.Member) { m.Id = "St-Mary" }, `member "St-Mary"`, `id: "St-Mary" is not a member id`},
		{"id starts with digit", func(m *tocsinv1.Member) { m.Id = "1st" }, `member "1st"`, "id: "},
		{"id too long", func(m *tocsinv1.Member) { m.Id = strings.Repeat("a", 64) }, `member "` + strings.Repeat("a", 64) + `"`, "at most 63 characters"},
		{"no id", func(m *tocsinv1.Member) { m.Id = "" }, `member with no id (name "Beacon Incident Response")`, "id: "},
		{"no name", func(m *tocsinv1.Member) { m.Name = " " }, `member "ir-firm"`, "name: required"},
		{"no sectors", func(m *tocsinv1.Member) { m.Sectors = nil }, `member "ir-firm"`, "sectors: at least one required"},
		{"unknown sector", func(m *tocsinv1.Member) { m.Sectors = []string{"helth-it"} }, `member "ir-firm"`,
			`sectors[0]: unknown sector "helth-it"; did you mean "health-it"?; known: patient-care, health-it`},
		{"sector twice", func(m *tocsinv1.Member) { m.Sectors = []string{"health-it", "health-it"} }, `member "ir-firm"`, "sectors[1]: sector \"health-it\" is listed twice"},
		{"no region", func(m *tocsinv1.Member) { m.Region = "" }, `member "ir-firm"`, "region: required"},
		{"bad region", func(m *tocsinv1.Member) { m.Region = "North East" }, `member "ir-firm"`, `region: "North East" is not a region`},
		{"no roles", func(m *tocsinv1.Member) { m.Roles = nil }, `member "ir-firm"`, "roles: at least one required; known: member, responder"},
		{"unspecified role", func(m *tocsinv1.Member) { m.Roles = append(m.Roles, 0) }, `member "ir-firm"`, "roles[2]: unknown role ROLE_UNSPECIFIED"},
		{"role twice", func(m *tocsinv1.Member) { m.Roles = append(m.Roles, tocsinv1.Role_ROLE_MEMBER) }, `member "ir-firm"`, "roles[2]: role member is listed twice"},
		{"bad key", func(m *tocsinv1.Member) { m.Keys[0].PublicKey = "SUABC" }, `member "ir-firm"`, `keys[0].public_key: "SUABC" is not an NKey user public key`},
		{"account key", func(m *tocsinv1.Member) {
			kp, _ := nkeys.CreateAccount()
			m.Keys[0].PublicKey, _ = kp.PublicKey()
		}, `member "ir-firm"`, "keys[0].public_key: "},
		{"not_after before not_before", func(m *tocsinv1.Member) { m.Keys[0].NotAfter = timestamppb.New(t0.Add(-time.Hour)) }, `member "ir-firm"`,
			"keys[0].not_after: 2024-12-31T23:00:00Z is not after not_before 2025-01-01T00:00:00Z"},
		{"two open keys", func(m *tocsinv1.Member) { m.Keys = append(m.Keys, &tocsinv1.SigningKey{PublicKey: newUserKey(t)}) }, `member "ir-firm"`,
			"keys: keys[0], keys[1] are all open-ended"},
		{"capabilities on a plain member", func(m *tocsinv1.Member) { m.Roles = []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER} }, `member "ir-firm"`,
			"capabilities: only responders declare capabilities"},
		{"unknown capability", func(m *tocsinv1.Member) { m.Capabilities[0].Type = "forensic" }, `member "ir-firm"`,
			`capabilities[0].type: unknown capability type "forensic"; did you mean "forensics"?`},
		{"zero capacity", func(m *tocsinv1.Member) { m.Capabilities[0].Capacity = 0 }, `member "ir-firm"`, "capabilities[0].capacity: must be at least 1"},
		{"bad capability region", func(m *tocsinv1.Member) { m.Capabilities[0].Regions = []string{"northeast", "New England"} }, `member "ir-firm"`,
			`capabilities[0].regions[1]: "New England" is not a region`},
		{"negative lead time", func(m *tocsinv1.Member) { m.Capabilities[0].LeadTime = durationpb.New(-time.Minute) }, `member "ir-firm"`,
			"capabilities[0].lead_time: -1m0s is negative"},
		{"no capability id", func(m *tocsinv1.Member) { m.Capabilities[0].Id = "" }, `member "ir-firm"`, `capabilities[0].id: "" is not a capability id`},
		{"capability id twice", func(m *tocsinv1.Member) {
			m.Capabilities = append(m.Capabilities, &tocsinv1.AidCapability{Id: m.Capabilities[0].Id, Type: "forensics", Capacity: 1})
		}, `member "ir-firm"`, `capabilities[1].id: "ir-firm/incident-response" is used twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := responder(t, "ir-firm")
			tc.change(m)
			err := Validate(m, DefaultVocabulary())
			if err == nil {
				t.Fatal("valid, want an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%v does not match ErrInvalid", err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, tc.who+": ") {
					t.Errorf("line %q does not start by naming the member as %s", line, tc.who)
				}
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n%v\ndoes not say %q", err, tc.want)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	v := DefaultVocabulary()
	if err := Validate(responder(t, "ir-firm"), v); err != nil {
		t.Errorf("responder: %v", err)
	}
	admin := &tocsinv1.Member{Id: "admin", Name: "Tocsin Administrators", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_ADMIN, tocsinv1.Role_ROLE_SERVICE}}
	if err := Validate(admin, v); err != nil {
		t.Errorf("admin without sectors or region: %v", err)
	}
	// A rotated record: the old key closed, the new one open.
	m := responder(t, "ir-firm")
	m.Keys[0].NotAfter = timestamppb.New(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	m.Keys = append(m.Keys, &tocsinv1.SigningKey{PublicKey: newUserKey(t), NotBefore: m.Keys[0].NotAfter})
	if err := Validate(m, v); err != nil {
		t.Errorf("rotated keys: %v", err)
	}
	if err := Validate(nil, v); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil: %v", err)
	}
	// A custom vocabulary is honoured.
	vet := &tocsinv1.Member{Id: "zoo", Name: "City Zoo", Sectors: []string{"veterinary"}, Region: "northeast", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}
	if err := Validate(vet, Vocabulary{Sectors: []string{"veterinary"}}); err != nil {
		t.Errorf("custom sector: %v", err)
	}
	if err := Validate(vet, v); err == nil {
		t.Error("custom sector accepted by the default vocabulary")
	}
}

func TestPublicViewHasNoContacts(t *testing.T) {
	m := responder(t, "ir-firm")
	m.Contact = "hotline"
	m.Capabilities[0].Contact = "dispatch"
	m.RevokedAt = timestamppb.Now()
	m.HomeRegion = "east"
	v := PublicView(m)
	if v.Contact != "" || len(v.Capabilities) != 0 {
		t.Errorf("public view leaks contacts: %v", v)
	}
	if v.Id != m.Id || v.Name != m.Name || v.Region != m.Region || len(v.Sectors) != 1 || len(v.Roles) != 2 || len(v.Keys) != 1 || v.RevokedAt == nil || v.HomeRegion != "east" {
		t.Errorf("public view lost a public field: %v", v)
	}
	v.Keys[0].PublicKey = "changed"
	if m.Keys[0].PublicKey == "changed" {
		t.Error("public view shares keys with the record")
	}
	if PublicView(nil) != nil {
		t.Error("PublicView(nil) not nil")
	}
}

func TestActiveAndHasRole(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	m := responder(t, "ir-firm")
	m.CreatedAt = timestamppb.New(t0)
	if !Active(m, t0) || Active(m, t0.Add(-time.Second)) {
		t.Error("Active around created_at")
	}
	m.RevokedAt = timestamppb.New(t0.Add(time.Hour))
	if !Active(m, t0.Add(time.Hour-time.Nanosecond)) || Active(m, t0.Add(time.Hour)) {
		t.Error("Active around revoked_at")
	}
	if Active(nil, t0) {
		t.Error("nil member active")
	}
	if !HasRole(m, tocsinv1.Role_ROLE_RESPONDER) || HasRole(m, tocsinv1.Role_ROLE_ADMIN) || HasRole(nil, tocsinv1.Role_ROLE_MEMBER) {
		t.Error("HasRole")
	}
}
