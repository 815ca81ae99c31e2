package members

import (
	"errors"
	"strings"
	"testing"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// vendor returns a valid vendor record: a device maker publishing under
// https://zyx.example.
func vendor() *tocsinv1.Member {
	return &tocsinv1.Member{Id: "zyx-devices", Name: "ZYX Medical Devices", Sectors: []string{"health-it"}, Region: "national",
		Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_VENDOR}, PublisherNamespace: "https://zyx.example"}
}

func TestAVendorHasAnHTTPSPublisherNamespaceAndOnlyAVendorHasOne(t *testing.T) {
	v := DefaultVocabulary()
	if err := Validate(vendor(), v); err != nil {
		t.Fatalf("vendor: %v", err)
	}
	withPath := vendor()
	withPath.PublisherNamespace = "https://www.zyx.example/psirt"
	if err := Validate(withPath, v); err != nil {
		t.Fatalf("a namespace with a path: %v", err)
	}
	for name, tc := range map[string]struct {
		change func(m *tocsinv1.Member)
		want   string
	}{
		"no namespace":      {func(m *tocsinv1.Member) { m.PublisherNamespace = "" }, "publisher_namespace: required of a vendor"},
		"relative":          {func(m *tocsinv1.Member) { m.PublisherNamespace = "zyx.example" }, `publisher_namespace: "zyx.example" is not an absolute URI`},
		"no host":           {func(m *tocsinv1.Member) { m.PublisherNamespace = "https:///psirt" }, "is not an absolute URI"},
		"opaque":            {func(m *tocsinv1.Member) { m.PublisherNamespace = "urn:zyx" }, `"urn:zyx" is not an absolute URI`},
		"http":              {func(m *tocsinv1.Member) { m.PublisherNamespace = "http://zyx.example" }, `"http://zyx.example" is not an https URI`},
		"query":             {func(m *tocsinv1.Member) { m.PublisherNamespace = "https://zyx.example/?a=1" }, "has a user, query or fragment"},
		"not a uri":         {func(m *tocsinv1.Member) { m.PublisherNamespace = "https://zyx example" }, "is not an absolute URI"},
		"member with one":   {func(m *tocsinv1.Member) { m.Roles = []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER} }, "publisher_namespace: only vendors have one: add the role vendor or remove it"},
		"liaison with one":  {func(m *tocsinv1.Member) { m.Roles = []tocsinv1.Role{tocsinv1.Role_ROLE_LIAISON} }, "only vendors have one"},
		"vendor no sectors": {func(m *tocsinv1.Member) { m.Sectors = nil }, "sectors: at least one required"},
	} {
		m := vendor()
		tc.change(m)
		err := Validate(m, v)
		if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), `member "zyx-devices": `) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
		if err != nil && err.Error() != strings.ToLower(err.Error()[:1])+err.Error()[1:] {
			t.Errorf("%s: %q does not start in lowercase", name, err)
		}
	}
	if pv := PublicView(vendor()); pv.GetPublisherNamespace() != "https://zyx.example" {
		t.Errorf("public view: namespace %q, want it (agents check vendors' advisories against it)", pv.GetPublisherNamespace())
	}
}

func TestAVendorInTheSeedFormats(t *testing.T) {
	yml := "- id: zyx-devices\n  name: ZYX Medical Devices\n  sectors: [health-it]\n  region: national\n  roles: [vendor]\n  publisher_namespace: https://zyx.example\n"
	ms, err := ParseSeed("s.yaml", []byte(yml), DefaultVocabulary())
	if err != nil || len(ms) != 1 || !HasRole(ms[0], tocsinv1.Role_ROLE_VENDOR) || ms[0].GetPublisherNamespace() != "https://zyx.example" {
		t.Fatalf("yaml: %v %v", ms, err)
	}
	csvData := "id,name,sectors,region,roles,contact,publisher_namespace\n" +
		"zyx-devices,ZYX Medical Devices,health-it,national,vendor,,https://zyx.example\n" +
		"st-luke,St. Luke's,patient-care,northeast,member,,\n"
	ms, err = ParseSeedCSV("m.csv", strings.NewReader(csvData), DefaultVocabulary())
	if err != nil || len(ms) != 2 || !HasRole(ms[0], tocsinv1.Role_ROLE_VENDOR) || ms[0].GetPublisherNamespace() != "https://zyx.example" || ms[1].GetPublisherNamespace() != "" {
		t.Fatalf("csv: %v %v", ms, err)
	}
	for name, c := range map[string]struct{ data, want string }{
		"yaml vendor without namespace": {strings.Replace(yml, "  publisher_namespace: https://zyx.example\n", "", 1), `s.yaml:1: member "zyx-devices": publisher_namespace: required of a vendor`},
		"yaml misspelt role":            {strings.Replace(yml, "[vendor]", "[vendors]", 1), `roles[0]: unknown role "vendors"; did you mean "vendor"?; known: member, responder, liaison, vendor, admin, service`},
		"csv vendor without namespace":  {"id,name,sectors,region,roles\nzyx-devices,ZYX,health-it,national,vendor\n", `m.csv:2: member "zyx-devices": publisher_namespace: required of a vendor`},
		"csv namespace on a member":     {"id,name,sectors,region,roles,publisher_namespace\nst-x,X,patient-care,northeast,member,https://x.example\n", "m.csv:2: member \"st-x\": publisher_namespace: only vendors have one"},
	} {
		if strings.HasPrefix(name, "yaml") {
			_, err = ParseSeed("s.yaml", []byte(c.data), DefaultVocabulary())
		} else {
			_, err = ParseSeedCSV("m.csv", strings.NewReader(c.data), DefaultVocabulary())
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}
