package auth_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

func decodeAccounts(t *testing.T, jwts []string) (tocsin, orgs *jwt.AccountClaims) {
	t.Helper()
	if len(jwts) != 2 {
		t.Fatalf("%d account jwts, want TOCSIN and ORGS", len(jwts))
	}
	var err error
	if tocsin, err = jwt.DecodeAccountClaims(jwts[0]); err != nil {
		t.Fatal(err)
	}
	if orgs, err = jwt.DecodeAccountClaims(jwts[1]); err != nil {
		t.Fatal(err)
	}
	return tocsin, orgs
}

func scopeOf(t *testing.T, ac *jwt.AccountClaims, member string) *jwt.UserScope {
	t.Helper()
	for _, s := range ac.SigningKeys {
		if us, ok := s.(*jwt.UserScope); ok && us.Role == member {
			return us
		}
	}
	return nil
}

// initWithMembers creates an authority and signs the account JWTs of the
// test registry.
func initWithMembers(t *testing.T) (a *auth.Authority, members []*tocsinv1.Member, tocsin, orgs *jwt.AccountClaims) {
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
	tocsin, orgs = decodeAccounts(t, jwts)
	return a, members, tocsin, orgs
}

func TestAccountJWTsPutEachMemberInItsAccountWithItsPermissions(t *testing.T) {
	a, members, tocsin, orgs := initWithMembers(t)
	if tocsin.Subject != a.Account() || orgs.Subject != a.OrgsAccount() {
		t.Fatalf("subjects %s %s", tocsin.Subject, orgs.Subject)
	}
	if !tocsin.Limits.IsJSEnabled() || orgs.Limits.IsJSEnabled() {
		t.Fatal("JetStream must be enabled in TOCSIN only")
	}
	if !tocsin.Limits.DisallowBearer || !orgs.Limits.DisallowBearer {
		t.Fatal("bearer tokens must be refused in both accounts")
	}
	if len(tocsin.Exports) == 0 || len(tocsin.Exports) != len(orgs.Imports) {
		t.Fatalf("%d exports, %d imports", len(tocsin.Exports), len(orgs.Imports))
	}
	streams := 0
	for _, imp := range orgs.Imports {
		if imp.Account != a.Account() {
			t.Fatalf("import %+v", imp)
		}
		// Services, but for the two live views (sector and inbox subjects).
		if imp.Type == jwt.Stream {
			streams++
			if s := string(imp.Subject); s != "tocsin.sector.>" && s != "tocsin.inbox.>" {
				t.Fatalf("stream import %+v", imp)
			}
		} else if imp.Type != jwt.Service {
			t.Fatalf("import %+v", imp)
		}
	}
	if streams != 2 {
		t.Fatalf("%d stream imports, want the sector and inbox views", streams)
	}
	for _, m := range members {
		home, other := orgs, tocsin
		if slices.Contains(m.Roles, tocsinv1.Role_ROLE_ADMIN) {
			home, other = tocsin, orgs
		}
		scope := scopeOf(t, home, m.Id)
		if scope == nil || scopeOf(t, other, m.Id) != nil {
			t.Fatalf("%s: scoped key not (only) in its home account", m.Id)
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
	}
	// The same registry gives the same claims; only issue time and id differ.
	again, err := a.AccountJWTs(members)
	if err != nil {
		t.Fatal(err)
	}
	t2, o2 := decodeAccounts(t, again)
	for _, pair := range [][2]*jwt.AccountClaims{{tocsin, t2}, {orgs, o2}} {
		x, y := *pair[0], *pair[1]
		x.IssuedAt, y.IssuedAt, x.ID, y.ID = 0, 0, "", ""
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("account %s differs between two calls", x.Name)
		}
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
	_, orgs := decodeAccounts(t, jwts)
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
	_, orgs = decodeAccounts(t, jwts)
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
		"consumer collision": {member("a", "b-c"), member("a-b", "c")},
		"invalid member":     {member("A.B", "x")},
	} {
		if _, err := a.AccountJWTs(reg); !errors.Is(err, auth.ErrInvalidMember) {
			t.Errorf("%s: %v, want ErrInvalidMember", name, err)
		}
	}
	// A revoked member no longer collides.
	b := member("a-b", "c")
	b.RevokedAt = timestamppb.Now()
	if _, err := a.AccountJWTs([]*tocsinv1.Member{member("a", "b-c"), b}); err != nil {
		t.Fatalf("collision with a revoked member: %v", err)
	}
}

// TestAccountJWTSizePerMember measures how the ORGS account JWT grows with
// the registry, and checks that a registry too large to push is refused
// with the figures rather than failing later at the server.
func TestAccountJWTSizePerMember(t *testing.T) {
	if auth.MaxAccountJWTBytes != broker.DefaultMaxPayload {
		t.Fatalf("MaxAccountJWTBytes %d, broker.DefaultMaxPayload %d", auth.MaxAccountJWTBytes, broker.DefaultMaxPayload)
	}
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	registry := func(n int) []*tocsinv1.Member {
		var reg []*tocsinv1.Member
		for i := range n {
			reg = append(reg, &tocsinv1.Member{
				Id: fmt.Sprintf("hospital-%04d", i), Sectors: []string{"patient-care", "public-health"},
				Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER},
			})
		}
		return reg
	}
	size := func(n int) int {
		jwts, err := a.AccountJWTs(registry(n))
		if err != nil {
			t.Fatalf("%d members: %v", n, err)
		}
		return len(jwts[1])
	}
	empty, hundred := size(0), size(100)
	perMember := (hundred - empty) / 100
	fits := (auth.MaxAccountJWTBytes - empty) / perMember
	t.Logf("ORGS account JWT: %d bytes empty, %d with 100 two-sector members: %d bytes per member; %d fit in %d bytes",
		empty, hundred, perMember, fits, auth.MaxAccountJWTBytes)
	if perMember > 2048 {
		t.Fatalf("%d bytes per member: a scope grew", perMember)
	}
	size(fits * 9 / 10)
	_, err = a.AccountJWTs(registry(1000))
	if !errors.Is(err, auth.ErrAccountTooLarge) {
		t.Fatalf("1,000 two-sector members: %v, want ErrAccountTooLarge", err)
	}
	t.Logf("1,000 members: %v", err)
}
