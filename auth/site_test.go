package auth_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"

	"github.com/tocsin-project/tocsin/auth"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// A member named "<id>-site" would share its inbox and rejections
// consumers (and, in a sector "sectors", that one) with <id>'s site
// consumers: the registry is refused.
func TestAccountJWTsRefuseASiteConsumerCollision(t *testing.T) {
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := func(id string, sectors ...string) *tocsinv1.Member {
		return &tocsinv1.Member{Id: id, Name: id, Sectors: sectors, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}
	}
	if _, err := a.AccountJWTs([]*tocsinv1.Member{m("st-mary", "patient-care"), m("st-mary-site", "sectors")}); !errors.Is(err, auth.ErrInvalidMember) {
		t.Fatalf("colliding site consumer: %v, want ErrInvalidMember", err)
	}
	if _, err := a.AccountJWTs([]*tocsinv1.Member{m("st-mary", "patient-care"), m("st-mary-annex", "sectors")}); err != nil {
		t.Fatal(err)
	}
}

// The site consumers of a member homed in a region are on that region's
// copies streams, filtering every region's copies, under the names and
// deliver subjects of a member of no region; its site credential names
// the region and its permissions and account the region's streams only.
func TestSiteConsumersOfAMemberHomedInARegion(t *testing.T) {
	m := &tocsinv1.Member{Id: "st-mary", Name: "St. Mary", Sectors: []string{"patient-care", "labs"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}
	plain := auth.SiteConsumers(m)
	m.HomeRegion = "east"
	want := []auth.SiteConsumer{
		{Stream: "SECTORS-east", Name: "st-mary-site-sectors", Filters: []string{"tocsin.r.*.sector.patient-care.>", "tocsin.r.*.sector.labs.>"}, Deliver: "tocsin.site.st-mary.sectors"},
		{Stream: "INBOX-east", Name: "st-mary-site-inbox", Filters: []string{"tocsin.r.*.inbox.st-mary"}, Deliver: "tocsin.site.st-mary.inbox"},
		{Stream: "REJECTIONS-east", Name: "st-mary-site-rejections", Filters: []string{"tocsin.r.*.rejection.st-mary"}, Deliver: "tocsin.site.st-mary.rejections"},
	}
	if got := auth.SiteConsumers(m); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("site consumers of a member homed in east: %+v, want %+v", got, want)
	}
	if plain[0].Stream != "SECTORS" || plain[0].Filters[0] != "tocsin.sector.patient-care.>" || plain[0].Name != want[0].Name {
		t.Fatalf("site consumers of a member of no region: %+v", plain)
	}
	p, err := auth.SitePermissions(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"$JS.*.API.CONSUMER.RESET.SECTORS-east.st-mary-site-sectors", "$JS.FC.INBOX-east.st-mary-site-inbox.*"} {
		if !slices.Contains(p.Pub.Allow, s) {
			t.Fatalf("site permissions of a member homed in east lack %s: %v", s, p.Pub.Allow)
		}
	}
	if slices.ContainsFunc(p.Pub.Allow, func(s string) bool { return strings.Contains(s, ".SECTORS.") }) {
		t.Fatalf("a site of a member homed in east may still reset a consumer on SECTORS: %v", p.Pub.Allow)
	}
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	jwts, err := a.AccountJWTs([]*tocsinv1.Member{m})
	if err != nil {
		t.Fatalf("the account of a member homed in east with a site: %v", err)
	}
	var imports []string
	for _, j := range jwts {
		ac, err := jwt.DecodeAccountClaims(j)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ac.Imports {
			imports = append(imports, string(imp.Subject))
		}
	}
	if !slices.Contains(imports, "$JS.API.CONSUMER.RESET.SECTORS-east.st-mary-site-sectors") {
		t.Fatalf("st-mary's account does not import its site consumer's reset on SECTORS-east: %v", imports)
	}
	creds, err := a.IssueSite(m)
	if err != nil {
		t.Fatal(err)
	}
	if uc, _ := decodeCreds(t, creds); !slices.Contains(uc.Tags, auth.SiteHomeRegionTag+"east") {
		t.Fatalf("st-mary's site credential tags %v, want its home region", uc.Tags)
	}
}
