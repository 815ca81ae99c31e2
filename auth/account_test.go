package auth_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// decodeAccounts decodes AccountJWTs' answer: TOCSIN, then each member's
// own account by member id.
func decodeAccounts(t *testing.T, jwts []string) (tocsin *jwt.AccountClaims, own map[string]*jwt.AccountClaims) {
	t.Helper()
	if len(jwts) == 0 {
		t.Fatal("no account jwts, want TOCSIN first")
	}
	var err error
	if tocsin, err = jwt.DecodeAccountClaims(jwts[0]); err != nil {
		t.Fatal(err)
	}
	own = map[string]*jwt.AccountClaims{}
	for _, j := range jwts[1:] {
		ac, err := jwt.DecodeAccountClaims(j)
		if err != nil {
			t.Fatal(err)
		}
		own[ac.Name] = ac
	}
	return tocsin, own
}

func scopeOf(t *testing.T, ac *jwt.AccountClaims, member string) *jwt.UserScope {
	t.Helper()
	if ac == nil {
		return nil
	}
	for _, s := range ac.SigningKeys {
		if us, ok := s.(*jwt.UserScope); ok && us.Role == member {
			return us
		}
	}
	return nil
}

// initWithMembers creates an authority and signs the account JWTs of the
// test registry.
func initWithMembers(t *testing.T) (a *auth.Authority, members []*tocsinv1.Member, tocsin *jwt.AccountClaims, own map[string]*jwt.AccountClaims) {
	t.Helper()
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	members = testMembers()
	jwts, err := a.AccountJWTs(members)
	if err != nil {
		t.Fatal(err)
	}
	tocsin, own = decodeAccounts(t, jwts)
	return a, members, tocsin, own
}

func TestAccountJWTsPutEachMemberInItsOwnAccountWithItsPermissions(t *testing.T) {
	a, members, tocsin, own := initWithMembers(t)
	if tocsin.Subject != a.Account() || !tocsin.Limits.IsJSEnabled() || !tocsin.Limits.DisallowBearer {
		t.Fatalf("TOCSIN %s: want JetStream enabled and bearer tokens refused", tocsin.Subject)
	}
	if len(own) != len(members) {
		t.Fatalf("%d member accounts for %d members: every member (admins too) has its own", len(own), len(members))
	}
	for _, m := range members {
		ac := own[m.Id]
		want, err := a.MemberAccount(m.Id)
		if err != nil {
			t.Fatal(err)
		}
		if ac == nil || ac.Subject != want {
			t.Fatalf("%s: no account of its own (%v)", m.Id, ac)
		}
		if ac.Limits.IsJSEnabled() || !ac.Limits.DisallowBearer {
			t.Fatalf("%s: JetStream must be enabled in TOCSIN only, bearer tokens refused everywhere", m.Id)
		}
		scope := scopeOf(t, ac, m.Id)
		// Members, responders and liaisons have sites; a vendor reads
		// through consumers but has none.
		reader := len(auth.Consumers(m)) > 0 && m.Id != vendorID
		wantKeys := 1
		if reader {
			wantKeys = 2 // and its site's
		}
		if scope == nil || scopeOf(t, tocsin, m.Id) != nil || len(ac.SigningKeys) != wantKeys {
			t.Fatalf("%s: scoped key not (only) in its own account", m.Id)
		}
		perms, err := auth.Permissions(m)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(scope.Template.Permissions, perms) {
			t.Fatalf("%s: scope %+v, want %+v", m.Id, scope.Template.Permissions, perms)
		}
		if !reflect.DeepEqual([]string(scope.Template.AllowedConnectionTypes), []string{jwt.ConnectionTypeStandard}) {
			t.Fatalf("%s: connection types %v, want STANDARD only (no leaf node, MQTT or websocket)", m.Id, scope.Template.AllowedConnectionTypes)
		}
		// A reader's site has a scoped key of its own: leaf links only, with
		// the site's permissions (docs/SITES.md). No one else has one.
		site := scopeOf(t, ac, auth.SiteUser(m.Id))
		if reader != (site != nil) {
			t.Fatalf("%s: site scope %v, want one only for readers", m.Id, site)
		}
		if site != nil {
			sp, err := auth.SitePermissions(m)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(site.Template.Permissions, sp) || !reflect.DeepEqual([]string(site.Template.AllowedConnectionTypes), []string{jwt.ConnectionTypeLeafnode, jwt.ConnectionTypeLeafnodeWS}) {
				t.Fatalf("%s: site scope %+v, want %+v and LEAFNODE, LEAFNODE_WS only", m.Id, site.Template, sp)
			}
		}
		// Its imports are exactly what its permissions name, from TOCSIN:
		// every publish subject as a service (and JetStream account info),
		// every routed subject it may watch as a stream.
		var services, streams, siteImports []string
		for _, imp := range ac.Imports {
			if imp.Account != a.Account() {
				t.Fatalf("%s: import %+v not from TOCSIN", m.Id, imp)
			}
			if imp.LocalSubject != "" || strings.Contains(string(imp.Subject), "-site-") || strings.HasPrefix(string(imp.Subject), auth.SiteDeliverPrefix) {
				// (a site's relayed requests repeat the member's own
				// service imports under their forwarding names)
				siteImports = append(siteImports, string(imp.Subject)+" as "+string(imp.LocalSubject))
				continue
			}
			switch imp.Type {
			case jwt.Service:
				services = append(services, string(imp.Subject))
			case jwt.Stream:
				streams = append(streams, string(imp.Subject))
			default:
				t.Fatalf("%s: import %+v", m.Id, imp)
			}
		}
		wantServices := append([]string{"$JS.API.INFO"}, perms.Pub.Allow...)
		var wantStreams []string
		for _, s := range perms.Sub.Allow {
			if !strings.HasPrefix(s, "_INBOX_") {
				wantStreams = append(wantStreams, s)
			}
		}
		slices.Sort(services)
		slices.Sort(wantServices)
		if !reflect.DeepEqual(services, wantServices) || !reflect.DeepEqual(streams, wantStreams) {
			t.Fatalf("%s: imports services %v streams %v, want %v and %v", m.Id, services, streams, wantServices, wantStreams)
		}
		// Its site's imports: the resets and flow-control replies of its own
		// site consumers, its deliveries, its ingest subjects under the
		// site's forwarding names.
		var wantSite []string
		for _, c := range auth.SiteConsumers(m) {
			wantSite = append(wantSite, "$JS.API.CONSUMER.RESET."+c.Stream+"."+c.Name+" as ", "$JS.FC."+c.Stream+"."+c.Name+".* as ")
		}
		if reader {
			for _, k := range []string{"alert", "receipt", "sighting", "aid", "status"} {
				wantSite = append(wantSite, "tocsin.ingest."+k+"."+m.Id+" as "+auth.SiteForward(m.Id, k))
			}
			for _, c := range auth.SiteConsumers(m) {
				wantSite = append(wantSite, c.Deliver+" as ")
			}
			for _, r := range auth.SiteRelays(m.Id) {
				wantSite = append(wantSite, r.Local+" as "+r.Forward)
			}
		}
		slices.Sort(siteImports)
		slices.Sort(wantSite)
		if !reflect.DeepEqual(siteImports, wantSite) {
			t.Fatalf("%s: site imports %v, want %v", m.Id, siteImports, wantSite)
		}
		for _, s := range append(services, streams...) {
			own := strings.Contains(s, m.Id) || slices.ContainsFunc(m.Sectors, func(sec string) bool { return strings.Contains(s, "."+sec+".") })
			shared := slices.ContainsFunc([]string{"$KV.", "$JS.API.DIRECT.GET.KV_REACH", "$JS.API.DIRECT.GET.KV_MEMBERS", "$JS.API.DIRECT.GET.KV_WEBTOKENS"},
				func(p string) bool { return strings.HasPrefix(s, p) })
			if strings.ContainsAny(s, "*>") && !own && !shared {
				t.Fatalf("%s: import %s is a wildcard beyond the member's own subjects", m.Id, s)
			}
		}
	}
	// The same registry gives the same claims; only issue time and id differ.
	again, err := a.AccountJWTs(members)
	if err != nil {
		t.Fatal(err)
	}
	t2, o2 := decodeAccounts(t, again)
	pairs := [][2]*jwt.AccountClaims{{tocsin, t2}}
	for id := range own {
		pairs = append(pairs, [2]*jwt.AccountClaims{own[id], o2[id]})
	}
	for _, pair := range pairs {
		x, y := *pair[0], *pair[1]
		x.IssuedAt, y.IssuedAt, x.ID, y.ID = 0, 0, "", ""
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("account %s differs between two calls", x.Name)
		}
	}
	// TOCSIN does not depend on the registry: admitting a member changes
	// only the member's own account.
	empty, err := a.AccountJWTs(nil)
	if err != nil {
		t.Fatal(err)
	}
	t0, _ := decodeAccounts(t, empty)
	x, y := *t0, *tocsin
	x.IssuedAt, y.IssuedAt, x.ID, y.ID = 0, 0, "", ""
	if !reflect.DeepEqual(x, y) {
		t.Fatal("TOCSIN's claims changed with the registry")
	}
}

func TestAccountJWTsRevokeRevokedMembersAndReplacedKeys(t *testing.T) {
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	members := testMembers()
	mary := members[0]
	replaced, current := "UDEDLCSOW3HE3YG7YNX5WNUULO4VQUDNZ4DLZ4UVQWK7BGAAJHUYVNYC", "UBBXFT6QQGBNBPNIIVUNN6AG2R6TRLXSBEYV2B36IQ7W7RQ4WRGGFTIU"
	revokedAt := time.Now().Add(-time.Hour).Truncate(time.Second)
	mary.Keys = []*tocsinv1.SigningKey{
		{PublicKey: replaced, NotAfter: timestamppb.New(revokedAt.Add(-time.Hour))},
		{PublicKey: current},
	}
	jwts, err := a.AccountJWTs(members)
	if err != nil {
		t.Fatal(err)
	}
	_, own := decodeAccounts(t, jwts)
	orgs := own[mary.Id]
	if got := orgs.Revocations[replaced]; got != revokedAt.Add(-time.Hour).Unix() {
		t.Fatalf("replaced key revoked at %d, want its not_after", got)
	}
	if _, ok := orgs.Revocations[current]; ok {
		t.Fatal("current key of an active member revoked")
	}
	mary.RevokedAt = timestamppb.New(revokedAt)
	jwts, err = a.AccountJWTs(members)
	if err != nil {
		t.Fatal(err)
	}
	_, own = decodeAccounts(t, jwts)
	orgs = own[mary.Id]
	if scopeOf(t, orgs, mary.Id) != nil {
		t.Fatal("a revoked member keeps its scoped signing key")
	}
	if orgs.Revocations[current] != revokedAt.Unix() || orgs.Revocations[replaced] != revokedAt.Unix() {
		t.Fatalf("revocations %v, want both keys at revoked_at", orgs.Revocations)
	}
}

func TestAccountJWTsRefuseBadRegistries(t *testing.T) {
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	member := func(id string, sectors ...string) *tocsinv1.Member {
		return &tocsinv1.Member{Id: id, Sectors: sectors, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}
	}
	for name, reg := range map[string][]*tocsinv1.Member{
		"duplicate id":       {member("a", "x"), member("a", "y")},
		"consumer collision": {member("a", "x"), member("a-site", "y")},
		"invalid member":     {member("A.B", "x")},
	} {
		if _, err := a.AccountJWTs(reg); !errors.Is(err, auth.ErrInvalidMember) {
			t.Errorf("%s: %v, want ErrInvalidMember", name, err)
		}
	}
	// A revoked member no longer collides.
	b := member("a-site", "y")
	b.RevokedAt = timestamppb.Now()
	if _, err := a.AccountJWTs([]*tocsinv1.Member{member("a", "x"), b}); err != nil {
		t.Fatalf("collision with a revoked member: %v", err)
	}
	// One consumer for all of a member's sectors: "a" in "b-c" and "a-b"
	// in "c" no longer share "a-b-c", as the per-sector names did.
	if _, err := a.AccountJWTs([]*tocsinv1.Member{member("a", "b-c"), member("a-b", "c")}); err != nil {
		t.Fatalf("a in b-c and a-b in c: %v", err)
	}
}

// TestAccountJWTSizePerMember measures a member's own account JWT and
// the whole registry's, and checks that an account too large to push is
// refused with the figures rather than failing later at the server.
func TestAccountJWTSizePerMember(t *testing.T) {
	if auth.MaxAccountJWTBytes != broker.DefaultMaxPayload {
		t.Fatalf("MaxAccountJWTBytes %d, broker.DefaultMaxPayload %d", auth.MaxAccountJWTBytes, broker.DefaultMaxPayload)
	}
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	member := func(i, sectors int) *tocsinv1.Member {
		m := &tocsinv1.Member{Id: fmt.Sprintf("hospital-%05d", i), Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}
		for s := range sectors {
			m.Sectors = append(m.Sectors, fmt.Sprintf("sector-%04d", s))
		}
		return m
	}
	var reg []*tocsinv1.Member
	for i := range 10000 {
		reg = append(reg, member(i, 2))
	}
	start := time.Now()
	jwts, err := a.AccountJWTs(reg)
	if err != nil {
		t.Fatalf("10,000 members: %v", err)
	}
	total := 0
	for _, j := range jwts[1:] {
		total += len(j)
	}
	t.Logf("10,000 two-sector members: %d account JWTs signed in %v, %d bytes each on average, TOCSIN %d bytes",
		len(jwts), time.Since(start).Round(time.Millisecond), total/10000, len(jwts[0]))
	if per := total / 10000; per > 16<<10 {
		t.Fatalf("%d bytes per member account: an import table grew", per)
	}
	_, err = a.AccountJWTs([]*tocsinv1.Member{member(0, 4000)})
	if !errors.Is(err, auth.ErrAccountTooLarge) {
		t.Fatalf("a member of 4,000 sectors: %v, want ErrAccountTooLarge", err)
	}
	t.Logf("4,000 sectors: %v", err)
}

// TestAccountJWTsOfSignsOnlyWhatChanged: a change to one member signs
// TOCSIN's JWT and that member's, the same as the full set's, and still
// checks the whole registry.
func TestAccountJWTsOfSignsOnlyWhatChanged(t *testing.T) {
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	members := testMembers()
	mary := members[0]
	mary.RevokedAt = timestamppb.Now()
	jwts, err := a.AccountJWTsOf(members, map[string]bool{mary.Id: true})
	if err != nil {
		t.Fatal(err)
	}
	tocsin, own := decodeAccounts(t, jwts)
	if tocsin == nil || len(own) != 1 || own[mary.Id] == nil || scopeOf(t, own[mary.Id], mary.Id) != nil {
		t.Fatalf("AccountJWTsOf(one revoked member): TOCSIN %v and %d own accounts (%v), want TOCSIN and the revoked member's without its scope", tocsin != nil, len(own), own)
	}
	all, err := a.AccountJWTs(members)
	if err != nil {
		t.Fatal(err)
	}
	if _, every := decodeAccounts(t, all); len(every) != len(own)+countOwn(members)-1 {
		t.Fatalf("AccountJWTs signed %d own accounts", len(every))
	}
	// The whole registry is still checked: a duplicate id anywhere fails.
	dup := append(members, members[1])
	if _, err := a.AccountJWTsOf(dup, map[string]bool{mary.Id: true}); err == nil {
		t.Fatal("a duplicate id elsewhere in the registry was not refused")
	}
}

func countOwn(ms []*tocsinv1.Member) int {
	n := 0
	for _, m := range ms {
		if !slices.Contains(m.GetRoles(), tocsinv1.Role_ROLE_SERVICE) {
			n++
		}
	}
	return n
}
