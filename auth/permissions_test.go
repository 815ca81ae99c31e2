package auth_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/nats-io/jwt/v2"

	"github.com/tocsin-project/tocsin/auth"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

func TestPermissionsOfAMember(t *testing.T) {
	m := &tocsinv1.Member{Id: "st-mary", Sectors: []string{"patient-care", "health-it"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}
	p, err := auth.Permissions(m)
	if err != nil {
		t.Fatal(err)
	}
	wantPub := []string{
		"$JS.ACK.INBOX.st-mary-inbox.>",
		"$JS.ACK.REJECTIONS.st-mary-rejections.>",
		"$JS.ACK.SECTORS.st-mary-sectors.>",
		"$JS.API.CONSUMER.INFO.INBOX.st-mary-inbox",
		"$JS.API.CONSUMER.INFO.REJECTIONS.st-mary-rejections",
		"$JS.API.CONSUMER.INFO.SECTORS.st-mary-sectors",
		"$JS.API.CONSUMER.MSG.NEXT.INBOX.st-mary-inbox",
		"$JS.API.CONSUMER.MSG.NEXT.REJECTIONS.st-mary-rejections",
		"$JS.API.CONSUMER.MSG.NEXT.SECTORS.st-mary-sectors",
		"$JS.API.DIRECT.GET.KV_ROUTED.$KV.ROUTED.st-mary.>",
		"tocsin.ingest.aid.st-mary",
		"tocsin.ingest.alert.st-mary",
		"tocsin.ingest.receipt.st-mary",
		"tocsin.ingest.sighting.st-mary",
		"tocsin.ingest.status.st-mary",
		"tocsin.svc.aid.st-mary.*",
		"tocsin.svc.consumer.st-mary",
		"tocsin.svc.directory",
		"tocsin.svc.reach.st-mary",
		"tocsin.svc.situation.st-mary",
	}
	if !reflect.DeepEqual([]string(p.Pub.Allow), wantPub) {
		t.Fatalf("publish allow:\n%q\nwant\n%q", p.Pub.Allow, wantPub)
	}
	if !reflect.DeepEqual([]string(p.Sub.Allow), []string{"_INBOX_st-mary.>", "tocsin.inbox.st-mary", "tocsin.sector.health-it.>", "tocsin.sector.patient-care.>"}) {
		t.Fatalf("subscribe allow %q", p.Sub.Allow)
	}
	if len(p.Pub.Deny) != 0 || len(p.Sub.Deny) != 0 || p.Resp != nil {
		t.Fatalf("deny lists or responses: %+v", p)
	}
	// A responder may do exactly what a member may (offers are aid).
	m.Roles = []tocsinv1.Role{tocsinv1.Role_ROLE_RESPONDER}
	if r, _ := auth.Permissions(m); !reflect.DeepEqual(r, p) {
		t.Fatalf("responder %+v differs from member", r)
	}
}

func TestPermissionsOfOtherRoles(t *testing.T) {
	perms := func(roles ...tocsinv1.Role) jwt.Permissions {
		p, err := auth.Permissions(&tocsinv1.Member{Id: "x", Sectors: []string{"federal"}, Roles: roles})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	member := perms(tocsinv1.Role_ROLE_MEMBER)
	liaison := perms(tocsinv1.Role_ROLE_LIAISON)
	extra := slices.DeleteFunc(slices.Clone(liaison.Pub.Allow), func(s string) bool { return slices.Contains(member.Pub.Allow, s) })
	if want := []string{"$JS.API.DIRECT.GET.KV_REACH", "$JS.API.DIRECT.GET.KV_REACH.>", "tocsin.ingest.advisory.x", "tocsin.svc.contacts.x"}; !reflect.DeepEqual([]string(extra), want) {
		t.Fatalf("liaison adds %q, want %q", extra, want)
	}
	admin := perms(tocsinv1.Role_ROLE_ADMIN)
	for _, s := range admin.Pub.Allow {
		if s == "$SYS.REQ.CLAIMS.UPDATE" || slices.Contains(member.Pub.Allow, s) {
			t.Fatalf("admin may publish %q", s)
		}
	}
	if !slices.Contains(admin.Pub.Allow, subjects.SvcStatus) || !slices.Contains(admin.Pub.Allow, "$KV.MEMBERS.>") {
		t.Fatalf("admin: %q", admin.Pub.Allow)
	}
	if auth.Consumers(&tocsinv1.Member{Id: "x", Sectors: []string{"federal"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_ADMIN}}) != nil {
		t.Fatal("an admin-only member gets consumers")
	}
	if svc := perms(tocsinv1.Role_ROLE_SERVICE, tocsinv1.Role_ROLE_MEMBER); len(svc.Pub.Allow)+len(svc.Sub.Allow) != 0 {
		t.Fatalf("service role: %+v, want no restriction", svc)
	}
	both := perms(tocsinv1.Role_ROLE_MEMBER, tocsinv1.Role_ROLE_ADMIN)
	for _, s := range append(slices.Clone(member.Pub.Allow), admin.Pub.Allow...) {
		if !slices.Contains(both.Pub.Allow, s) {
			t.Fatalf("member+admin lacks %q", s)
		}
	}
}

func TestCheckMemberRefusesWhatPermissionsCannotPin(t *testing.T) {
	bad := map[string]*tocsinv1.Member{
		"nil":              nil,
		"empty id":         {Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}},
		"uppercase id":     {Id: "St-Mary", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}},
		"dotted id":        {Id: "st.mary", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}},
		"wildcard id":      {Id: "*", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}},
		"underscore id":    {Id: "_inbox", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}},
		"wildcard sector":  {Id: "a", Sectors: []string{">"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}},
		"dotted sector":    {Id: "a", Sectors: []string{"patient.care"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}},
		"duplicate sector": {Id: "a", Sectors: []string{"x", "x"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}},
		"no role":          {Id: "a"},
		"unspecified role": {Id: "a", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_UNSPECIFIED}},
		"unknown role":     {Id: "a", Roles: []tocsinv1.Role{tocsinv1.Role(99)}},
	}
	for name, m := range bad {
		if err := auth.CheckMember(m); !errors.Is(err, auth.ErrInvalidMember) {
			t.Errorf("%s: %v, want ErrInvalidMember", name, err)
		}
	}
}

// TestPermissionsOfAVendor: a vendor publishes advisories and receipts as
// itself and reads what a member reads (its sectors, inbox, rejections,
// outcomes, the directory, its reach), and nothing of the hospitals' own:
// no alert, sighting, aid or status, no mutual aid or situation board, no
// REACH bucket or contacts, no site.
func TestPermissionsOfAVendor(t *testing.T) {
	sectors := []string{"patient-care"}
	v := &tocsinv1.Member{Id: "zyx", Sectors: sectors, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_VENDOR}, PublisherNamespace: "https://zyx.example"}
	p, err := auth.Permissions(v)
	if err != nil {
		t.Fatal(err)
	}
	wantPub := []string{
		"$JS.ACK.INBOX.zyx-inbox.>",
		"$JS.ACK.REJECTIONS.zyx-rejections.>",
		"$JS.ACK.SECTORS.zyx-sectors.>",
		"$JS.API.CONSUMER.INFO.INBOX.zyx-inbox",
		"$JS.API.CONSUMER.INFO.REJECTIONS.zyx-rejections",
		"$JS.API.CONSUMER.INFO.SECTORS.zyx-sectors",
		"$JS.API.CONSUMER.MSG.NEXT.INBOX.zyx-inbox",
		"$JS.API.CONSUMER.MSG.NEXT.REJECTIONS.zyx-rejections",
		"$JS.API.CONSUMER.MSG.NEXT.SECTORS.zyx-sectors",
		"$JS.API.DIRECT.GET.KV_ROUTED.$KV.ROUTED.zyx.>",
		"tocsin.ingest.advisory.zyx",
		"tocsin.ingest.receipt.zyx",
		"tocsin.svc.consumer.zyx",
		"tocsin.svc.directory",
		"tocsin.svc.reach.zyx",
	}
	if !reflect.DeepEqual([]string(p.Pub.Allow), wantPub) {
		t.Fatalf("publish allow:\n%q\nwant\n%q", p.Pub.Allow, wantPub)
	}
	if want := []string{"_INBOX_zyx.>", "tocsin.inbox.zyx", "tocsin.sector.patient-care.>"}; !reflect.DeepEqual([]string(p.Sub.Allow), want) {
		t.Fatalf("subscribe allow %q, want %q", p.Sub.Allow, want)
	}
	if c := auth.Consumers(v); len(c) != 3 {
		t.Fatalf("consumers %v, want its sector's, inbox and rejections", c)
	}
	// A member that is also a vendor has both rows.
	both, err := auth.Permissions(&tocsinv1.Member{Id: "zyx", Sectors: sectors, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER, tocsinv1.Role_ROLE_VENDOR}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(both.Pub.Allow, "tocsin.ingest.advisory.zyx") || !slices.Contains(both.Pub.Allow, "tocsin.ingest.alert.zyx") {
		t.Fatalf("member+vendor: %q", both.Pub.Allow)
	}
}
